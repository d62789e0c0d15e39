/**
 * Text formatting for the `seglog` command: colors, timestamps, sizes, tables, bars, record
 * values, and a buffered writer for stdout.
 *
 * Colors are plain ANSI codes, used only when the stream is a terminal and `NO_COLOR` is unset or
 * empty (https://no-color.org).
 */
import { isUtf8 } from 'node:buffer';

export interface Style {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

function ansi(open: number, close: number, enabled: boolean): (s: string) => string {
  return enabled ? (s) => `\u001b[${open}m${s}\u001b[${close}m` : (s) => s;
}

export function makeStyle(enabled: boolean): Style {
  return {
    enabled,
    bold: ansi(1, 22, enabled),
    dim: ansi(2, 22, enabled),
    red: ansi(31, 39, enabled),
    green: ansi(32, 39, enabled),
    yellow: ansi(33, 39, enabled),
    cyan: ansi(36, 39, enabled),
  };
}

/** Whether to color what goes to `stream`. */
export function colorWanted(stream: NodeJS.WriteStream): boolean {
  const noColor = process.env['NO_COLOR'];
  return stream.isTTY === true && (noColor === undefined || noColor === '');
}

/** Visible length of a string that may hold ANSI codes. */
export function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

// ---------------------------------------------------------------------------------------------
// Numbers and times

const MAX_DATE_MS = 8.64e15;

/** ISO 8601 in UTC, or '-' for "no timestamp" (-1) and values no Date can hold. */
export function isoTime(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DATE_MS) return '-';
  return new Date(ms).toISOString();
}

/** 1536 -> '1.5 KiB'. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** 12345 -> '12s', 3_723_000 -> '1h 2m 3s'. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.floor(ms / 1000);
  const parts: string[] = [];
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) parts.push(`${d}d`);
  if (h > 0) parts.push(`${h}h`);
  if (m > 0) parts.push(`${m}m`);
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.slice(0, 3).join(' ');
}

/** MB/s (10^6 bytes per second) with a sensible precision. */
export function throughput(bytes: number, ms: number): string {
  if (ms <= 0) return '-';
  const mbs = bytes / 1e6 / (ms / 1000);
  return mbs >= 1000 ? `${(mbs / 1000).toFixed(2)} GB/s` : `${mbs.toFixed(mbs < 10 ? 2 : 0)} MB/s`;
}

// ---------------------------------------------------------------------------------------------
// Tables

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** Renders rows under a header, columns separated by two spaces; cells may hold ANSI codes. */
export function table(columns: Column[], rows: string[][], style: Style): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const pad = (s: string, i: number): string => {
    const gap = ' '.repeat(Math.max(0, widths[i]! - visibleLength(s)));
    return columns[i]!.align === 'right' ? gap + s : s + gap;
  };
  const lines = [style.dim(columns.map((c, i) => pad(c.header, i)).join('  ').trimEnd())];
  for (const row of rows) lines.push(columns.map((_, i) => pad(row[i] ?? '', i)).join('  ').trimEnd());
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Bars

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const LEVELS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** A horizontal bar of `fraction` (0..1) of `width` cells, in eighths of a cell. */
export function bar(fraction: number, width: number): string {
  const eighths = Math.round(Math.max(0, Math.min(1, fraction)) * width * 8);
  const full = Math.floor(eighths / 8);
  const rest = eighths % 8;
  const s = '█'.repeat(full) + EIGHTHS[rest]!;
  return fraction > 0 && s.length === 0 ? '▏' : s;
}

/** One block character per value, its height proportional to value / max. */
export function sparkline(values: number[], max: number): string {
  return values
    .map((v) => (v <= 0 || max <= 0 ? ' ' : LEVELS[Math.min(7, Math.floor((v / max) * 7.999))]!))
    .join('');
}

/**
 * A strip of `width` cells for the time axis [axisStart, axisEnd], filled where [from, to] lies.
 * A span too short for a cell still shows one.
 */
export function timeStrip(from: number, to: number, axisStart: number, axisEnd: number, width: number): string {
  const cells = new Array<string>(width).fill(' ');
  if (from < 0 || to < 0 || width <= 0) return cells.join('');
  const span = Math.max(1, axisEnd - axisStart);
  const a = Math.min(width - 1, Math.max(0, Math.floor(((from - axisStart) / span) * width)));
  const b = Math.min(width - 1, Math.max(a, Math.ceil(((to - axisStart) / span) * width) - 1));
  for (let i = a; i <= b; i++) cells[i] = '█';
  return cells.join('');
}

// ---------------------------------------------------------------------------------------------
// Record keys and values

export const BYTES_FORMATS = ['auto', 'utf8', 'json', 'hex', 'base64'] as const;
export type BytesFormat = (typeof BYTES_FORMATS)[number];

/** Bytes that read well as text: valid UTF-8 without control characters other than tab and newlines. */
export function isPrintableUtf8(buf: Buffer): boolean {
  if (!isUtf8(buf)) return false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return false;
  }
  return true;
}

/** Escapes control characters so a value stays on one line. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Human form of a key or value: one line, `null` for a null field. */
export function bytesText(buf: Buffer | null, format: BytesFormat, style: Style, maxChars = 0): string {
  if (buf === null) return style.dim('null');
  let text: string;
  switch (format) {
    case 'hex':
      text = buf.toString('hex');
      break;
    case 'base64':
      text = buf.toString('base64');
      break;
    case 'utf8':
      text = oneLine(buf.toString('utf8'));
      break;
    case 'json': {
      const s = buf.toString('utf8');
      try {
        text = JSON.stringify(JSON.parse(s));
      } catch {
        return oneLine(s) + ' ' + style.red('(not JSON)');
      }
      break;
    }
    default:
      text = isPrintableUtf8(buf) ? oneLine(buf.toString('utf8')) : `0x${buf.toString('hex')}`;
  }
  if (maxChars > 0 && text.length > maxChars) text = `${text.slice(0, maxChars - 1)}…` + style.dim(` (${buf.length} bytes)`);
  return text;
}

/**
 * JSON form of a key or value, added to `out` as `out[name]`: a string (utf8, hex, base64), the
 * parsed value (json), or null. With `auto`, bytes that are not printable UTF-8 are base64 and
 * `out[name + 'Encoding']` says so.
 */
export function bytesJson(out: Record<string, unknown>, name: string, buf: Buffer | null, format: BytesFormat): void {
  if (buf === null) {
    out[name] = null;
    return;
  }
  switch (format) {
    case 'hex':
      out[name] = buf.toString('hex');
      return;
    case 'base64':
      out[name] = buf.toString('base64');
      return;
    case 'utf8':
      out[name] = buf.toString('utf8');
      return;
    case 'json': {
      const s = buf.toString('utf8');
      try {
        out[name] = JSON.parse(s) as unknown;
      } catch (err) {
        out[name] = s;
        out[`${name}Error`] = `not JSON: ${(err as Error).message}`;
      }
      return;
    }
    default:
      if (isPrintableUtf8(buf)) {
        out[name] = buf.toString('utf8');
      } else {
        out[name] = buf.toString('base64');
        out[`${name}Encoding`] = 'base64';
      }
  }
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * Buffered lines to stdout: many small writes cost more than the formatting. A closed pipe
 * (`seglog dump ... | head`) ends the process quietly.
 */
export class Output {
  private chunks: string[] = [];
  private pending = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }

  line(s = ''): void {
    this.chunks.push(s, '\n');
    this.pending += s.length + 1;
    if (this.pending >= 64 * 1024) this.flush();
  }

  json(value: unknown): void {
    this.line(JSON.stringify(value));
  }

  flush(): void {
    if (this.pending === 0) return;
    this.stream.write(this.chunks.join(''));
    this.chunks = [];
    this.pending = 0;
  }

  /** Flushes and resolves once the stream has taken everything (before `process.exit`). */
  drain(): Promise<void> {
    this.flush();
    return new Promise((resolve) => {
      if (this.stream.writableNeedDrain) this.stream.once('drain', () => resolve());
      else resolve();
    });
  }
}
