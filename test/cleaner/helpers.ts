import fs from 'node:fs';
import path from 'node:path';
import { Log, type LogConfig, type LogRecord } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

/** A record as compared in these tests: strings for bytes, so failures print readably. */
export interface PlainRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

export function plain(r: LogRecord): PlainRecord {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : r.key.toString(),
    value: r.value === null ? null : r.value.toString(),
    headers: r.headers.map((h) => [h.key, h.value === null ? null : h.value.toString()]),
  };
}

/** Every record from `startOffset` to `endOffset`, read in small steps across the gaps. */
export function readAll(log: Log): PlainRecord[] {
  const out: PlainRecord[] = [];
  let next = log.startOffset;
  const end = log.endOffset;
  while (next < end) {
    const got = log.read(next, { maxBytes: 300 });
    if (got.length === 0) break;
    for (const r of got) out.push(plain(r));
    next = got[got.length - 1]!.offset + 1;
  }
  return out;
}

/** A fresh partition directory `<tmp>/<name>`. */
export function partitionDir(name = 'table-0'): string {
  return path.join(tmpDir('seglog-cleaner-'), name);
}

/** A compacted log with a clock the test moves and no background timers. */
export class ClockedLog {
  now = 1_700_000_000_000;
  readonly config: LogConfig;
  log: Log;

  constructor(
    readonly dir: string,
    config: LogConfig = {},
  ) {
    this.config = { cleanupPolicy: 'compact', retentionCheckIntervalMs: 0, cleanerBackoffMs: 0, fileDeleteDelayMs: 0, ...config, clock: () => this.now };
    this.log = Log.open(dir, this.config);
  }

  reopen(): Log {
    this.log.close();
    this.log = Log.open(this.dir, this.config);
    return this.log;
  }
}

/** Names of the segment files in `dir` (anything named after a 20-digit offset). */
export function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\./.test(n))
    .sort();
}

/** Records below `activeBase` keep only the latest of their key; the active segment is untouched. */
export function latestPerKey(written: PlainRecord[], activeBase: number): PlainRecord[] {
  const latest = new Map<string, number>();
  for (const r of written) if (r.offset < activeBase) latest.set(r.key!, r.offset);
  return written.filter((r) => r.offset >= activeBase || latest.get(r.key!) === r.offset);
}
