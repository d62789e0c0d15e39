import fs from 'node:fs';
import path from 'node:path';
import { Log, type LogConfig, type LogRecord } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

/** A fresh partition directory `<tmp>/<name>` (the name parses as topic-partition). */
export function partitionDir(name = 'events-0'): string {
  return path.join(tmpDir('seglog-retention-'), name);
}

/** A log with a clock the test moves, no background retention and no delete delay unless asked. */
export class ClockedLog {
  now = 1_000_000;
  readonly config: LogConfig;
  log: Log;

  constructor(
    readonly dir: string,
    config: LogConfig = {},
  ) {
    this.config = { retentionCheckIntervalMs: 0, fileDeleteDelayMs: 0, ...config, clock: () => this.now };
    this.log = Log.open(dir, this.config);
  }

  reopen(): Log {
    this.log.close();
    this.log = Log.open(this.dir, this.config);
    return this.log;
  }
}

/** Appends one batch of `count` records stamped `timestamp`, values `v<offset>`; returns the base offset. */
export function appendBatch(log: Log, count: number, timestamp: number, valueBytes = 16): number {
  const base = log.endOffset;
  const records = [];
  for (let i = 0; i < count; i++) {
    const tag = `v${base + i}:`;
    records.push({ key: `k${base + i}`, value: tag + 'x'.repeat(Math.max(0, valueBytes - tag.length)), timestamp });
  }
  return log.append(records).baseOffset;
}

/** The segment files of `dir` (names starting with 20 digits), sorted. */
export function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\./.test(n))
    .sort();
}

/** `00000000000000000042` for 42. */
export function prefix(offset: number): string {
  return String(offset).padStart(20, '0');
}

/** The files a live segment has. */
export function liveFiles(base: number): string[] {
  return [`${prefix(base)}.index`, `${prefix(base)}.log`, `${prefix(base)}.timeindex`];
}

/** The files of a segment waiting for deletion. */
export function deletedFiles(base: number): string[] {
  return [`${prefix(base)}.index.deleted`, `${prefix(base)}.log.deleted`, `${prefix(base)}.timeindex.deleted`];
}

/** A record as plain data, for comparisons. */
export function plain(r: LogRecord): { offset: number; timestamp: number; key: string | null; value: string | null; headers: [string, string | null][] } {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : r.key.toString('hex'),
    value: r.value === null ? null : r.value.toString('hex'),
    headers: r.headers.map((h) => [h.key, h.value === null ? null : h.value.toString('hex')]),
  };
}

/** Everything readable, from `startOffset` to `endOffset`. */
export function readAll(log: Log): LogRecord[] {
  const start = log.startOffset;
  return log.endOffset === start ? [] : log.read(start, { maxBytes: 1 << 30 });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The log-start-offset checkpoint's text, or null when absent. */
export function startCheckpoint(dir: string): string | null {
  try {
    return fs.readFileSync(path.join(dir, 'log-start-offset-checkpoint'), 'utf8');
  } catch {
    return null;
  }
}

/** Polls `condition` every 5 ms until it holds or `timeoutMs` passed; returns whether it held. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/**
 * True when `fd` is open on a segment's record data (`.log`, also renamed for deletion). Counts of
 * reads made by retention keep to these: index files are read with `pread` where seglog's addon
 * is off (SEGLOG_NO_NATIVE=1), a mapping's loads otherwise, and neither is record data. Off Linux
 * (no /proc) every descriptor counts.
 */
export function readsRecordData(fd: unknown): boolean {
  try {
    return /\.log(\.[a-z]+)?$/.test(fs.readlinkSync(`/proc/self/fd/${String(fd)}`));
  } catch {
    return true;
  }
}
