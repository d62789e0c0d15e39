/** A progress bar on stderr for long scans, drawn only when stderr is a terminal. */
import { bar, humanBytes, throughput } from './format.js';

const REDRAW_MS = 100;

export class Progress {
  private done_ = 0;
  private name = '';
  private lastDraw = 0;
  private drawn = false;
  private readonly started = performance.now();

  private constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly total: number,
  ) {}

  /** A progress bar when `stream` is a terminal and `total` is at least `minTotal` bytes, else null. */
  static maybe(stream: NodeJS.WriteStream, total: number, minTotal: number): Progress | null {
    if (stream.isTTY !== true || total < minTotal || process.env['SEGLOG_NO_PROGRESS'] !== undefined) return null;
    return new Progress(stream, total);
  }

  file(name: string): void {
    this.name = name;
    this.draw(false);
  }

  add(bytes: number): void {
    this.done_ += bytes;
    this.draw(false);
  }

  /** Erases the bar (before printing a line), to be drawn again at the next update. */
  clear(): void {
    if (!this.drawn) return;
    this.stream.write('\r\u001b[K');
    this.drawn = false;
  }

  done(): void {
    this.clear();
  }

  private draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const fraction = this.total > 0 ? Math.min(1, this.done_ / this.total) : 1;
    const columns = this.stream.columns || 80;
    const width = Math.max(10, Math.min(30, columns - 60));
    const filled = bar(fraction, width);
    const line =
      `verifying ▕${filled}${' '.repeat(Math.max(0, width - filled.length))}▏ ${String(Math.floor(fraction * 100)).padStart(3)}%` +
      `  ${humanBytes(this.done_)} of ${humanBytes(this.total)}  ${throughput(this.done_, now - this.started)}  ${this.name}`;
    this.stream.write(`\r\u001b[K${line.slice(0, columns - 1)}`);
    this.drawn = true;
  }
}
