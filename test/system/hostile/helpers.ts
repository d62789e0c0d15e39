import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Log, type LogConfig } from '../../../src/index.js';
import { crc32c } from '../../../src/record/crc32c.js';
import { DIST, ensureBuilt } from '../../cli/helpers.js';
import { tmpDir } from '../../support/tmp.js';

/** Small segments and a dense offset index, so a few hundred records make several of each. */
export const SMALL: LogConfig = { segmentBytes: 4096, indexIntervalBytes: 128 };

/** A partition directory named like Kafka's, not yet created. */
export function partitionDir(name = 'orders-0'): string {
  return path.join(tmpDir('seglog-hostile-'), name);
}

/** A cleanly closed log of `batches` batches of `perBatch` records, all with one timestamp (1-byte timestamp deltas). */
export function closedLog(dir: string, batches: number, perBatch = 3, config: LogConfig = SMALL): string {
  const log = Log.open(dir, config);
  for (let b = 0; b < batches; b++) {
    const records = [];
    for (let i = 0; i < perBatch; i++) records.push({ key: `k${b}-${i}`, value: `v${b}-${i}`, timestamp: 1_700_000_000_000 });
    log.append(records);
  }
  log.close();
  return dir;
}

/** The `.log` files of `dir`, oldest first. */
export function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Positions of the whole batches of a `.log`. */
export function batchPositions(buf: Buffer): number[] {
  const out: number[] = [];
  for (let p = 0; p + 61 <= buf.length; ) {
    const size = 12 + buf.readInt32BE(p + 8);
    // A damaged size field ends the walk (the file may have been mutated already).
    if (size < 61 || p + size > buf.length) break;
    out.push(p);
    p += size;
  }
  return out;
}

/** Recomputes the CRC-32C of the batch at `p` (bytes 21..end), so damage made on purpose passes the CRC check. */
export function fixCrc(buf: Buffer, p: number): void {
  const size = 12 + buf.readInt32BE(p + 8);
  buf.writeUInt32BE(crc32c(buf, p + 21, p + size), p + 17);
}

/** Rewrites batch number `n` of `file` with `mutate`, then fixes its CRC. */
export function rewriteBatch(file: string, n: number, mutate: (buf: Buffer, at: number) => void): void {
  const buf = fs.readFileSync(file);
  const at = batchPositions(buf)[n]!;
  mutate(buf, at);
  fixCrc(buf, at);
  fs.writeFileSync(file, buf);
}

/**
 * Sets the offset deltas of the records of an uncompressed batch (records of under 64 bytes with
 * timestamp delta 0, so every varint before the delta is one byte).
 */
export function setOffsetDeltas(buf: Buffer, at: number, deltas: number[]): void {
  let p = at + 61;
  for (const delta of deltas) {
    const length = buf[p]! >> 1;
    buf[p + 3] = delta << 1;
    p += 1 + length;
  }
}

export interface ChildResult {
  status: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * `peakRssKb()` in a child's body: the peak resident set of the child's own program (VmHWM).
 * getrusage's maxRSS would also count the parent's resident set at the fork (a vitest worker of a
 * few hundred MB), which hides what the child used; it is the fallback where /proc is missing.
 */
const PEAK_RSS = `import { readFileSync as readProcFile } from 'node:fs';
function peakRssKb() {
  try {
    return Number(/VmHWM:\\s+(\\d+)/.exec(readProcFile('/proc/self/status', 'utf8'))[1]);
  } catch {
    return process.resourceUsage().maxRSS;
  }
}`;

/**
 * Runs `body` (an ES module body that may use `seglog`, the built package, and `peakRssKb()`) in a child process
 * with a deadline: a call that never returns is a timeout here, not a hung test run.
 */
export function runChild(body: string, timeoutMs = 30_000, args: string[] = []): ChildResult {
  ensureBuilt();
  const code = `import * as seglog from ${JSON.stringify(path.join(DIST, 'index.js'))};\n${PEAK_RSS}\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' };
}
