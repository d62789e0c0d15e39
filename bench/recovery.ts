/**
 * Recovery benchmark (issue 3).
 *
 * 1. Unclean shutdown: a log of SEGLOG_BENCH_RECOVERY_MB megabytes (default 64; the issue's figure
 *    is 1024) is written, closed, and then made to look crashed (clean-shutdown mark removed,
 *    recovery point checkpoint set to 0), so `Log.open` validates every batch (framing, magic,
 *    CRC-32C, offsets) and rebuilds every index. Reported: MB/s of batches validated.
 * 2. Validation per batch shape, in memory (CPU only): the CRC-32C of each batch, and the walk
 *    over its records' lengths and offset deltas that recovery adds for uncompressed batches
 *    (`checkRecordOffsets`), each timed alone over the same buffer, interleaved, median of 7:
 *    what the walk costs next to the CRC, as a same-run ratio.
 * 3. Clean shutdown: a log of SEGLOG_BENCH_SEGMENTS segments (default 1000) is closed cleanly and
 *    reopened SEGLOG_BENCH_CLEAN_RUNS times (default 9); reported: the time of `Log.open` (median),
 *    against, in the same runs, a raw listing of the directory with an open, fstat and close of
 *    every file in it (the floor under any open), then `Log.open` plus a first read at the start
 *    and at the end.
 *
 * 4. Clean shutdown, one large active segment (SEGLOG_BENCH_ACTIVE_MB, default 256, of 1 KiB
 *    batches): the time of `Log.open` with the record of the last close (`.seglog-active-segment`)
 *    against, in the same run, the time of one that walks the active segment's batch headers.
 *
 * Knobs: SEGLOG_BENCH_RECOVERY_ONLY (`recovery`, `validation`, `clean` or `active`: that part only), SEGLOG_BENCH_RECOVERY_MB, SEGLOG_BENCH_BATCH_RECORDS (records per batch, default 32),
 * SEGLOG_BENCH_RECORD_BYTES (value bytes per record, default 256), SEGLOG_BENCH_SEGMENTS,
 * SEGLOG_BENCH_DIR (parent of the scratch directories; default the OS temp dir). The page cache is
 * warm (the log was just written), so the figure is CPU-bound validation, not disk bandwidth.
 *
 * Run: `npx tsc -p tsconfig.json && node dist-all/bench/recovery.js`
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Log } from '../src/index.js';
import { encodeBatch } from '../src/record/batch-builder.js';
import { checkRecordOffsets, validateBatch } from '../src/record/batch-reader.js';
import { machineLine } from './common.js';

const MB = 1024 * 1024;
const RECOVERY_MB = Number(process.env.SEGLOG_BENCH_RECOVERY_MB ?? 64);
const BATCH_RECORDS = Number(process.env.SEGLOG_BENCH_BATCH_RECORDS ?? 32);
const RECORD_BYTES = Number(process.env.SEGLOG_BENCH_RECORD_BYTES ?? 256);
const SEGMENTS = Number(process.env.SEGLOG_BENCH_SEGMENTS ?? 1000);
const CLEAN_RUNS = Number(process.env.SEGLOG_BENCH_CLEAN_RUNS ?? 9);
const PARENT = process.env.SEGLOG_BENCH_DIR ?? os.tmpdir();

function scratch(name: string): string {
  const root = fs.mkdtempSync(path.join(PARENT, 'seglog-bench-'));
  return path.join(root, name);
}

function cleanup(dir: string): void {
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function makeBatch(seed: number): { key: string; value: Buffer; timestamp: number }[] {
  const records = [];
  for (let i = 0; i < BATCH_RECORDS; i++) {
    const value = Buffer.alloc(RECORD_BYTES, (seed + i) & 0xff);
    value.writeUInt32BE((seed * 31 + i) >>> 0, 0);
    records.push({ key: `sensor-${(seed + i) % 100}`, value, timestamp: 1_700_000_000_000 + seed });
  }
  return records;
}

function benchUncleanRecovery(): void {
  const dir = scratch('recovery-0');
  const target = RECOVERY_MB * MB;
  const log = Log.open(dir);
  const batches: ReturnType<typeof makeBatch>[] = [];
  for (let i = 0; i < 64; i++) batches.push(makeBatch(i));
  let written = 0;
  let count = 0;
  const writeStart = process.hrtime.bigint();
  while (log.size < target) {
    log.append(batches[count % batches.length]!);
    count++;
    if (count % 4096 === 0) written = log.size;
  }
  written = log.size;
  const writeMs = ms(writeStart);
  const endOffset = log.endOffset;
  const segments = log.segments().length;
  log.close();
  // Make it look like a crash: no clean-shutdown mark, recovery point at the start.
  fs.rmSync(path.join(dir, '.kafka_cleanshutdown'));
  fs.writeFileSync(path.join(dir, 'recovery-point-offset-checkpoint'), '0\n1\nrecovery 0 0\n');

  const start = process.hrtime.bigint();
  const reopened = Log.open(dir);
  const openMs = ms(start);
  const report = reopened.recovery;
  if (reopened.endOffset !== endOffset || report.truncatedBytes !== 0 || report.cleanShutdown) {
    throw new Error(`recovery changed the log: end ${reopened.endOffset} vs ${endOffset}, ${JSON.stringify(report)}`);
  }
  reopened.close();
  cleanup(dir);
  const batchBytes = written / count;
  console.log(
    `unclean recovery: ${(written / MB).toFixed(0)} MB in ${segments} segment(s), ${count} batches of ` +
      `${BATCH_RECORDS} x ${RECORD_BYTES} B (${batchBytes.toFixed(0)} B each), ${report.segmentsRecovered} segment(s) recovered`,
  );
  console.log(`  written in ${writeMs.toFixed(0)} ms (${(written / MB / (writeMs / 1000)).toFixed(0)} MB/s)`);
  console.log(
    `  Log.open ${openMs.toFixed(0)} ms: ${(written / MB / (openMs / 1000)).toFixed(0)} MB/s validated ` +
      `(${((written / 1e9) / (openMs / 1000)).toFixed(2)} GB/s, ${((count / openMs) * 1000 / 1e6).toFixed(2)} M batches/s)`,
  );
}

function benchCleanOpen(): void {
  const dir = scratch('clean-0');
  // Small segments: each holds a few batches, so 1,000 of them appear quickly.
  const config = { segmentBytes: 16 * 1024, segmentIndexBytes: 64 * 1024, indexIntervalBytes: 1024 };
  const log = Log.open(dir, config);
  const batch = makeBatch(1).slice(0, 8);
  while (log.segments().length < SEGMENTS) {
    for (let i = 0; i < 50; i++) log.append(batch);
  }
  const endOffset = log.endOffset;
  const segments = log.segments().length;
  log.close();

  const opens: number[] = [];
  const openAndRead: number[] = [];
  const raws: number[] = [];
  for (let run = 0; run < CLEAN_RUNS; run++) {
    raws.push(rawOpen(dir));
    const start = process.hrtime.bigint();
    const reopened = Log.open(dir, config);
    opens.push(ms(start));
    if (!reopened.recovery.cleanShutdown || reopened.recovery.segmentsRecovered !== 0 || reopened.endOffset !== endOffset) {
      throw new Error(`clean reopen was not clean: ${JSON.stringify(reopened.recovery)}`);
    }
    reopened.read(0, { maxRecords: 1 });
    reopened.read(endOffset - 1, { maxRecords: 1 });
    openAndRead.push(ms(start));
    reopened.close();
  }
  cleanup(dir);
  const open = median(opens);
  const raw = median(raws);
  console.log(`clean reopen: ${segments} segments, ${endOffset} records, ${CLEAN_RUNS} runs, each a raw open then Log.open`);
  console.log(`  Log.open median ${open.toFixed(1)} ms (runs: ${opens.map((v) => v.toFixed(1)).join(', ')})`);
  console.log(`  raw readdir + open + fstat + close of every file, median ${raw.toFixed(1)} ms (runs: ${raws.map((v) => v.toFixed(1)).join(', ')})`);
  console.log(`  Log.open / raw: ${(open / raw).toFixed(2)}x; Log.open + first and last read median ${median(openAndRead).toFixed(1)} ms`);
}

/** The floor under a clean open: list the directory, open and fstat each file, close it. */
function rawOpen(dir: string): number {
  const start = process.hrtime.bigint();
  for (const name of fs.readdirSync(dir)) {
    const fd = fs.openSync(path.join(dir, name), 'r');
    fs.fstatSync(fd);
    fs.closeSync(fd);
  }
  return ms(start);
}

/** Shapes of `benchValidation`: records per batch x value bytes. */
const SHAPES: [number, number][] = [
  [1, 1024],
  [4, 256],
  [32, 256],
  [100, 1024],
  [10, 100],
  [1000, 20],
];
/** Bytes of batches per shape. */
const VALIDATION_BYTES = 32 * MB;

/** One buffer of whole batches of `records` x `valueBytes`, and where each starts. */
function batchesOf(records: number, valueBytes: number): { buf: Buffer; positions: number[] } {
  const input = Array.from({ length: records }, (_, i) => ({ key: `k${i % 100}`, value: Buffer.alloc(valueBytes, i & 0xff), timestamp: 1_700_000_000_000 + i }));
  const parts: Buffer[] = [];
  const positions: number[] = [];
  let size = 0;
  for (let offset = 0; size < VALIDATION_BYTES; offset += records) {
    const batch = Buffer.from(encodeBatch(input, offset, { compression: 'none', timestampType: 'CreateTime', now: 0 }).buffer);
    positions.push(size);
    parts.push(batch);
    size += batch.length;
  }
  return { buf: Buffer.concat(parts), positions };
}

function timeEach(buf: Buffer, positions: number[], check: (buf: Buffer, at: number) => void): number {
  const start = process.hrtime.bigint();
  for (const at of positions) check(buf, at);
  return ms(start);
}

function benchValidation(): void {
  console.log('validation in memory (median of 7, interleaved): CRC-32C alone, the record walk alone, and walk / CRC');
  for (const [records, valueBytes] of SHAPES) {
    const { buf, positions } = batchesOf(records, valueBytes);
    const crc: number[] = [];
    const walk: number[] = [];
    for (let run = 0; run < 7; run++) {
      crc.push(timeEach(buf, positions, validateBatch));
      walk.push(timeEach(buf, positions, checkRecordOffsets));
    }
    const gbps = (t: number): string => (buf.length / 1e9 / (t / 1000)).toFixed(2);
    const c = median(crc);
    const w = median(walk);
    console.log(
      `  ${records} x ${valueBytes} B (${(buf.length / positions.length).toFixed(0)} B batches): CRC ${gbps(c)} GB/s, walk ${gbps(w)} GB/s, ` +
        `CRC + walk ${gbps(c + w)} GB/s; walk / CRC ${(w / c).toFixed(2)}`,
    );
  }
}

console.log(machineLine());
/**
 * Clean reopen of a log whose active segment holds SEGLOG_BENCH_ACTIVE_MB (default 256) of 1 KiB
 * batches, 9 pairs of opens in alternating order: one with the record the last close left of the
 * active segment's check (`.seglog-active-segment`), one without it, so that the open walks the
 * segment's batch headers from the first (see the loader's `checkActiveTail`). Each close writes
 * the record again.
 */
function benchCleanOpenActive(): void {
  const dir = scratch('active-0');
  const activeBytes = Number(process.env.SEGLOG_BENCH_ACTIVE_MB ?? 256) * MB;
  const log = Log.open(dir, { segmentBytes: 1024 * MB });
  const batch = [{ value: Buffer.alloc(1024, 7) }];
  while (log.size < activeBytes) log.append(batch);
  const batches = log.endOffset;
  log.close();
  const trusted: number[] = [];
  const walked: number[] = [];
  /** Opens meant to trust the record that walked all the same, and why. */
  const untrusted: string[] = [];
  const record = path.join(dir, '.seglog-active-segment');
  for (let run = 0; run < 18; run++) {
    const walk = (run % 4 === 1 || run % 4 === 2);
    if (walk) fs.rmSync(record);
    else if (!fs.existsSync(record)) throw new Error('the clean close wrote no .seglog-active-segment');
    const start = process.hrtime.bigint();
    const reopened = Log.open(dir);
    (walk ? walked : trusted).push(ms(start));
    if (reopened.endOffset !== batches || reopened.recovery.actions.length > 0) throw new Error(`clean reopen was not clean: ${JSON.stringify(reopened.recovery)}`);
    if (!walk && reopened.recovery.activeSegmentCheck !== 'record') untrusted.push(reopened.recovery.activeSegmentWalkReason ?? 'no check');
    reopened.close();
  }
  cleanup(dir);
  const t = median(trusted);
  const w = median(walked);
  console.log(`clean reopen, active segment of ${(activeBytes / MB).toFixed(0)} MB in ${batches} batches, 9 opens each, alternating:`);
  console.log(`  Log.open with the close's record median ${t.toFixed(1)} ms (runs: ${trusted.map((v) => v.toFixed(1)).join(', ')})`);
  console.log(`  Log.open walking the headers median ${w.toFixed(1)} ms (runs: ${walked.map((v) => v.toFixed(1)).join(', ')}); record / walk ${(t / w).toFixed(3)}`);
  console.log(`  opens with the record that walked all the same: ${untrusted.length} of ${trusted.length}${untrusted.length > 0 ? ` (${untrusted.join('; ')})` : ''}`);
}

const only = process.env.SEGLOG_BENCH_RECOVERY_ONLY;
if (only === undefined || only === 'recovery') benchUncleanRecovery();
if (only === undefined || only === 'validation') benchValidation();
if (only === undefined || only === 'clean') benchCleanOpen();
if (only === undefined || only === 'active') benchCleanOpenActive();
