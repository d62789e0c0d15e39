/**
 * The workloads of issue 6, run against seglog, the raw-`fs` ceiling and any peer stores given,
 * interleaved run by run (seglog, ceiling, then each peer) so drift on a noisy machine hits all
 * of them alike. Each figure is the median of `SIZES.runs` runs. Used by `run.ts` (seglog and
 * the ceiling only) and `compare.ts` (with the peers).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Bench } from 'tinybench';
import { CLEAN_SHUTDOWN_FILE, Log } from '../src/index.js';
import {
  MiB,
  SIZES,
  T0,
  batches,
  freshRecords,
  logBytes,
  mapRecords,
  median,
  now,
  payloadOf,
  randomInts,
  readBatchBytes,
  record,
  records,
  removeDir,
  scratchDir,
  secondsSince,
  segmentLogs,
  settle,
  writeBack,
  type Rec,
} from './common.js';
import {
  RawPointReader,
  SeglogStore,
  rawAppend,
  rawWritevRecords,
  rawAppendFromCache,
  rawDurable,
  rawOpen,
  rawScan,
  seglogConfig,
  singleRecordBatches,
  type AppendWorkload,
  type Reader,
  type Store,
} from './stores.js';

export type Unit = 'rec/s' | 'MB/s' | 'GB/s' | 'us' | 'ms';

/** One line of results: a value per system (null: not applicable), and the ceiling. */
export interface Row {
  /** Short label (chart). */
  id: string;
  /** What was measured. */
  workload: string;
  unit: Unit;
  better: 'higher' | 'lower';
  ceiling: number | null;
  values: Map<string, number | null>;
  /** The issue's target, in words, and whether the seglog figure meets it. */
  target?: { text: string; met: boolean | null };
}

/** Speed relative to `than`: > 1 means `value` is better (faster / higher throughput). */
export function speedup(row: Row, value: number | null | undefined, than: number | null | undefined): number {
  if (value == null || than == null || !(value > 0) || !(than > 0)) return NaN;
  return row.better === 'higher' ? value / than : than / value;
}

/** The best peer (not seglog) of a row, by speed. */
export function bestPeer(row: Row): { name: string; value: number } | null {
  let best: { name: string; value: number } | null = null;
  for (const [name, value] of row.values) {
    if (name === 'seglog' || value == null || !(value > 0)) continue;
    if (best === null || speedup(row, value, best.value) > 1) best = { name, value };
  }
  return best;
}

export interface SuiteContext {
  stores: Store[];
  /** Progress lines. */
  log: (line: string) => void;
}

/** Runs everything; returns the rows in report order. */
export async function runSuite(ctx: SuiteContext): Promise<Row[]> {
  const rows: Row[] = [];
  const names = ctx.stores.map((s) => s.name);
  const newRow = (id: string, workload: string, unit: Unit, better: 'higher' | 'lower'): Row => ({
    id,
    workload,
    unit,
    better,
    ceiling: null,
    values: new Map(names.map((n) => [n, null])),
  });

  // SEGLOG_BENCH_ONLY=append (or append-fresh, read, open, durable) runs one group of workloads,
  // to iterate on it.
  const only = process.env.SEGLOG_BENCH_ONLY;
  const wanted = (group: string): boolean => only === undefined || only === group;
  // append-cold: only the 1 KiB x100 row (records prepared up front, cold), issue 18's target.
  if (wanted('append') || only === 'append-cold') rows.push(...(await appendWorkloads(ctx, newRow, only === 'append-cold')));
  if (wanted('append') || only === 'append-fresh') rows.push(await freshAppendWorkload(ctx, newRow));
  if (wanted('read')) rows.push(...(await readWorkloads(ctx, newRow)));
  if (wanted('open')) rows.push(await manySegmentsOpen(ctx, newRow));
  if (wanted('durable')) rows.push(await durableWorkload(ctx, newRow));
  applyTargets(rows);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Appends
// ---------------------------------------------------------------------------------------------

const APPENDS: AppendWorkload[] = [
  { valueBytes: 100, batch: 1, compression: 'none' },
  { valueBytes: 1024, batch: 1, compression: 'none' },
  { valueBytes: 100, batch: 100, compression: 'none' },
  { valueBytes: 1024, batch: 100, compression: 'none' },
  { valueBytes: 100, batch: 100, compression: 'lz4' },
  { valueBytes: 1024, batch: 100, compression: 'lz4' },
];

/**
 * Appends of 1 KiB records in batches of 100, each batch built just before its call (a producer
 * appending what it has just made, so the bytes are in the CPU cache), against raw writes of the
 * same batch bytes copied into a buffer just before each write. Only the append and write calls
 * are timed. The other append rows take records prepared up front: 64 MiB of them, cold in memory
 * (and the page-cache writes in between evict them) by the time each is appended, which costs
 * seglog a gathering copy from memory that the raw writer, given contiguous bytes, does not make.
 * seglog only: the peers are not run on it.
 *
 * The issue's target is a ratio, so the two sides are measured in pairs, next to each other, and
 * each pair's order alternates (the side that runs first after a directory removal and a pause is
 * not always the same one); a run is cheap, so there are `freshRuns` pairs (default 12) rather than
 * `runs`, and the medians of both sides come from the same pairs; the log line also gives the
 * median of the pairs' own ratios. Both sides get an untimed warm-up run; seglog's is full size
 * and yields the batch bytes the raw runs write (every run appends the same records). Building
 * the records allocates, so a garbage collection can land inside a timed `append`: that is part of
 * what a producer sees, and the raw side has no such allocations.
 */
async function freshAppendWorkload(ctx: SuiteContext, newRow: NewRow): Promise<Row> {
  const valueBytes = 1024;
  const perBatch = 100;
  const batchCount = Math.max(1, Math.round(SIZES.appendBytes / payloadOf(valueBytes) / perBatch));
  const row = newRow(
    'append 1 KiB x100 fresh',
    'append, 1 KiB values, batches of 100, each built just before its call (in cache); only the calls timed',
    'MB/s',
    'higher',
  );
  const toUnit = (seconds: number): number => (batchCount * perBatch * payloadOf(valueBytes)) / seconds / 1e6;
  const seglogRuns: number[] = [];
  const ceilingRuns: number[] = [];
  ctx.log(`${row.workload}: ${batchCount * perBatch} records x ${SIZES.freshRuns} pairs of runs, after warm-up runs`);
  let bytes: Buffer[] = [];
  const seglogRun = async (): Promise<number> => {
    await settle();
    const dir = scratchDir('append-fresh');
    try {
      const result = appendFresh(dir, batchCount, perBatch, valueBytes);
      bytes = readBatchBytes(dir);
      return result;
    } finally {
      removeDir(dir);
    }
  };
  const rawRun = async (): Promise<number> => {
    await settle();
    const rawDir = scratchDir('append-fresh-raw');
    try {
      return rawAppendFromCache(path.join(rawDir, 'raw.log'), bytes);
    } finally {
      removeDir(rawDir);
    }
  };
  await seglogRun();
  await rawRun();
  for (let r = 0; r < SIZES.freshRuns; r++) {
    let seglogSeconds: number;
    let rawSeconds: number;
    if (r % 2 === 0) {
      seglogSeconds = await seglogRun();
      rawSeconds = await rawRun();
    } else {
      rawSeconds = await rawRun();
      seglogSeconds = await seglogRun();
    }
    seglogRuns.push(toUnit(seglogSeconds));
    ceilingRuns.push(toUnit(rawSeconds));
  }
  row.ceiling = median(ceilingRuns);
  row.values.set('seglog', median(seglogRuns));
  if (process.env.SEGLOG_BENCH_VERBOSE !== undefined) {
    ctx.log(`  runs: ceiling ${ceilingRuns.map((x) => x.toFixed(0)).join(' ')}`);
    ctx.log(`  runs: seglog ${seglogRuns.map((x) => x.toFixed(0)).join(' ')}`);
  }
  const pairRatio = median(seglogRuns.map((x, i) => x / ceilingRuns[i]!));
  ctx.log(`  ${describeRow(row)}; median of the pairs' ratios ${pairRatio.toFixed(2)}x`);
  return row;
}

/** Appends `batchCount` batches of fresh records to a new log in `dir`; seconds spent in `append`. */
function appendFresh(dir: string, batchCount: number, perBatch: number, valueBytes: number): number {
  const log = Log.open(dir, seglogConfig());
  let ns = 0n;
  try {
    for (let i = 0; i < batchCount; i++) {
      const batch = freshRecords(i * perBatch, perBatch, valueBytes);
      const start = now();
      log.append(batch);
      ns += now() - start;
    }
  } finally {
    log.close();
  }
  return Number(ns) / 1e9;
}

function sizeLabel(valueBytes: number): string {
  return valueBytes >= 1024 ? `${valueBytes / 1024} KiB` : `${valueBytes} B`;
}

async function appendWorkloads(ctx: SuiteContext, newRow: NewRow, coldOnly: boolean): Promise<Row[]> {
  const out: Row[] = [];
  const workloads = coldOnly ? APPENDS.filter((w) => w.valueBytes === 1024 && w.batch === 100 && w.compression === 'none') : APPENDS;
  for (const w of workloads) {
    const total =
      w.batch === 1 ? SIZES.singleRecords : Math.max(w.batch, Math.round(SIZES.appendBytes / payloadOf(w.valueBytes) / w.batch) * w.batch);
    const input = batches(0, total, w.batch, w.valueBytes);
    const perCall = w.batch === 1 ? 'one record per call' : `batches of ${w.batch}`;
    // 1 KiB appends in payload MB/s (key + value), 100 B appends in records/s, as the issue states its targets.
    const unit: Unit = w.valueBytes >= 1024 ? 'MB/s' : 'rec/s';
    const row = newRow(
      `append ${sizeLabel(w.valueBytes)} ${w.batch === 1 ? 'x1' : `x${w.batch}`}${w.compression === 'lz4' ? ' lz4' : ''}`,
      `append, ${sizeLabel(w.valueBytes)} values, ${perCall}, ${w.compression}`,
      unit,
      'higher',
    );
    const toUnit = (seconds: number): number =>
      unit === 'MB/s' ? (total * payloadOf(w.valueBytes)) / seconds / 1e6 : total / seconds;
    const samples = new Map<string, number[]>();
    const ceiling: number[] = [];
    // Uncompressed batches: also the records' own keys and values written as they lie (see rawWritevRecords).
    const gathered: number[] = [];
    const gather = w.batch > 1 && w.compression === 'none';
    let compressedRatio = NaN;
    ctx.log(`${row.workload}: ${total} records x ${SIZES.runs} runs, after a warm-up run of a fifth of them`);
    const warmUp = input.slice(0, Math.max(1, Math.ceil(input.length / 5)));
    for (let r = -1; r < SIZES.runs; r++) {
      for (const store of ctx.stores) {
        await settle();
        const dir = scratchDir(`append-${store.name}`);
        try {
          // Run -1 is a warm-up on a fifth of the input, not counted: JIT, file-system paths and
          // native modules get going.
          const seconds = await store.append(dir, w, r < 0 ? warmUp : input);
          if (seconds !== null && r >= 0) push(samples, store.name, toUnit(seconds));
          if (store instanceof SeglogStore) {
            // The ceiling: the exact batches seglog wrote, one fs.writeSync each, same chunking.
            const bytes = readBatchBytes(dir);
            if (r >= 0) compressedRatio = (total * payloadOf(w.valueBytes)) / logBytes(dir);
            const rawDir = scratchDir('append-raw');
            try {
              await settle();
              const rawSeconds = rawAppend(path.join(rawDir, 'raw.log'), bytes);
              if (r >= 0) ceiling.push(toUnit(rawSeconds));
              if (gather) {
                await settle();
                const gatherSeconds = rawWritevRecords(path.join(rawDir, 'writev.log'), r < 0 ? warmUp : input);
                if (r >= 0) gathered.push(toUnit(gatherSeconds));
              }
            } finally {
              removeDir(rawDir);
            }
          }
        } finally {
          removeDir(dir);
        }
      }
    }
    row.ceiling = median(ceiling);
    for (const [name, xs] of samples) row.values.set(name, median(xs));
    if (process.env.SEGLOG_BENCH_VERBOSE !== undefined) {
      ctx.log(`  runs: ceiling ${ceiling.map((x) => x.toFixed(0)).join(' ')}`);
      for (const [name, xs] of samples) ctx.log(`  runs: ${name} ${xs.map((x) => x.toFixed(0)).join(' ')}`);
    }
    if (w.compression === 'lz4') row.workload += ` (payload/log bytes ${compressedRatio.toFixed(2)})`;
    out.push(row);
    ctx.log(`  ${describeRow(row)}`);
    if (gather) {
      const writev = median(gathered);
      const seglog = row.values.get('seglog') ?? NaN;
      ctx.log(`  raw writev of the records' own keys and values (no framing): ${writev.toFixed(0)} ${unit} (${(writev / row.ceiling).toFixed(2)}x ceiling); seglog at ${(seglog / writev).toFixed(2)}x of it`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The big log: point reads, time lookups, scan, clean open, recovery
// ---------------------------------------------------------------------------------------------

type NewRow = (id: string, workload: string, unit: Unit, better: 'higher' | 'lower') => Row;

function isPromise(x: unknown): x is Promise<unknown> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

/** p50 and p99 of one operation, in microseconds, from a tinybench run of `ms` milliseconds. */
async function latency(name: string, op: () => unknown, isAsync: boolean): Promise<{ p50: number; p99: number }> {
  const bench = new Bench({
    time: SIZES.latencyMs,
    warmupTime: Math.min(200, SIZES.latencyMs / 2),
    timestampProvider: 'hrtimeNow',
    subtractTimerOverhead: true,
    throws: true,
  });
  let sink: unknown;
  if (isAsync) {
    bench.add(name, async () => {
      sink = await op();
    }, { async: true });
  } else {
    bench.add(name, () => {
      sink = op();
    }, { async: false });
  }
  await bench.run();
  if (sink === Symbol.for('never')) console.log(sink);
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`${name}: ${result.state}${'error' in result ? ` ${String(result.error)}` : ''}`);
  return { p50: result.latency.p50 * 1000, p99: result.latency.p99 * 1000 };
}

async function readWorkloads(ctx: SuiteContext, newRow: NewRow): Promise<Row[]> {
  const valueBytes = 1024;
  const total = Math.ceil(SIZES.readLogBytes / payloadOf(valueBytes));
  const batch = SIZES.readBatch;
  const input = function* (): Iterable<Rec[]> {
    for (let i = 0; i < total; i += batch) yield records(i, Math.min(batch, total - i), valueBytes);
  };
  // Each store is open only while it is measured, so no other store's background work (LevelDB
  // and RocksDB compactions, writeback) runs beside it; `opened` tracks which are open.
  const readers = new Map<string, Reader>();
  const opened = new Set<string>();
  const dirs = new Map<string, string>();
  const closeAll = async (): Promise<void> => {
    for (const name of opened) await readers.get(name)!.close().catch(() => undefined);
    opened.clear();
    for (const dir of dirs.values()) removeDir(dir);
  };
  const openReader = async (name: string): Promise<Reader> => {
    const reader = readers.get(name)!;
    if (!opened.has(name)) {
      await reader.open();
      opened.add(name);
    }
    return reader;
  };
  const closeReader = async (name: string): Promise<void> => {
    if (opened.delete(name)) await readers.get(name)!.close();
  };
  try {
    for (const store of ctx.stores) {
      const dir = scratchDir(`big-${store.name}`);
      dirs.set(store.name, dir);
      const start = now();
      readers.set(store.name, await store.build(dir, input));
      opened.add(store.name);
      await closeReader(store.name);
      ctx.log(`built the big log in ${store.name}: ${total} records of ${valueBytes} B in batches of ${batch}, ${secondsSince(start).toFixed(1)} s (with its close)`);
    }
    writeBack();
    const seglogDir = dirs.get('seglog')!;
    const bytes = logBytes(seglogDir);
    const segmentCount = segmentLogs(seglogDir).length;
    const map = mapRecords(seglogDir);
    if (map.count !== total) throw new Error(`seglog log holds ${map.count} records, expected ${total}`);
    const raw = new RawPointReader(map);
    const what = `${(bytes / MiB).toFixed(0)} MiB log, ${segmentCount} segments, 1 KiB values in batches of ${batch}`;
    ctx.log(`big log: ${what}`);

    for (const name of readers.keys()) {
      await checkAgreement(name, await openReader(name), total);
      await closeReader(name);
    }
    ctx.log(`all ${readers.size} systems agree on 200 random reads and time lookups`);

    const offsets = randomInts(1 << 16, total, 42);
    const times = randomInts(1 << 16, total, 43).map((i) => T0 + i);
    const MASK = (1 << 16) - 1;

    // --- point reads and time lookups (tinybench) ---
    const readP50 = newRow('read p50', `read one record at a random offset, median (${what})`, 'us', 'lower');
    const readP99 = newRow('read p99', 'read one record at a random offset, p99', 'us', 'lower');
    const timeP50 = newRow('offsetForTimestamp p50', 'offsetForTimestamp at a random time, median', 'us', 'lower');
    const timeP99 = newRow('offsetForTimestamp p99', 'offsetForTimestamp at a random time, p99', 'us', 'lower');
    const samples = {
      readP50: new Map<string, number[]>(),
      readP99: new Map<string, number[]>(),
      timeP50: new Map<string, number[]>(),
      timeP99: new Map<string, number[]>(),
    };
    ctx.log(`point reads and time lookups: ${SIZES.runs} runs x ${SIZES.latencyMs} ms per system, after a warm-up run`);
    // System by system: open, one warm-up run (not counted: JIT, and the page-table entries of
    // memory-mapped files, which a reopened store has to fault in again), then the runs, close.
    for (const name of ['ceiling', ...readers.keys()]) {
      const reader: { get(o: number): unknown; offsetForTimestamp(t: number): unknown } =
        name === 'ceiling' ? raw : await openReader(name);
      for (let r = -1; r < SIZES.runs; r++) {
        await settle();
        let i = 0;
        let j = 0;
        const getAsync = isPromise(reader.get(0));
        const read = await latency(`${name} read`, () => reader.get(offsets[i++ & MASK]!), getAsync);
        const timeAsync = isPromise(reader.offsetForTimestamp(T0));
        const time = await latency(`${name} offsetForTimestamp`, () => reader.offsetForTimestamp(times[j++ & MASK]!), timeAsync);
        if (r < 0) continue;
        push(samples.readP50, name, read.p50);
        push(samples.readP99, name, read.p99);
        push(samples.timeP50, name, time.p50);
        push(samples.timeP99, name, time.p99);
      }
      if (name !== 'ceiling') await closeReader(name);
    }
    raw.close();
    for (const [row, map2] of [
      [readP50, samples.readP50],
      [readP99, samples.readP99],
      [timeP50, samples.timeP50],
      [timeP99, samples.timeP99],
    ] as const) {
      row.ceiling = median(map2.get('ceiling')!);
      for (const [name, xs] of map2) if (name !== 'ceiling') row.values.set(name, median(xs));
      ctx.log(`  ${describeRow(row)}`);
    }

    // --- sequential scan ---
    const scan = newRow('scan', 'sequential scan from the start, payload decoded into records', 'GB/s', 'higher');
    const payloadTotal = total * payloadOf(valueBytes);
    const scanSamples = new Map<string, number[]>();
    ctx.log(`sequential scan: ${SIZES.runs} runs`);
    for (let r = 0; r < SIZES.runs; r++) {
      await settle();
      let start = now();
      const rawBytes = rawScan(seglogDir);
      push(scanSamples, 'ceiling', payloadTotal / secondsSince(start) / 1e9);
      if (rawBytes !== bytes) throw new Error('raw scan read a different byte count');
      for (const name of readers.keys()) {
        const reader = await openReader(name);
        await settle();
        start = now();
        const got = await reader.scan();
        const seconds = secondsSince(start);
        await closeReader(name);
        if (got.records !== total || got.payload !== payloadTotal) {
          throw new Error(`${name} scan saw ${got.records} records / ${got.payload} B, expected ${total} / ${payloadTotal}`);
        }
        push(scanSamples, name, payloadTotal / seconds / 1e9);
      }
    }
    scan.ceiling = median(scanSamples.get('ceiling')!);
    for (const [name, xs] of scanSamples) if (name !== 'ceiling') scan.values.set(name, median(xs));
    ctx.log(`  ${describeRow(scan)}`);

    // --- open after a clean close ---
    const open = newRow('open (clean, big)', `open after a clean close (${what})`, 'ms', 'lower');
    const openSamples = new Map<string, number[]>();
    const openRuns = Math.max(SIZES.runs, 7);
    // Opening may sync (seglog removes the clean-shutdown mark and fsyncs the directory, as Kafka
    // does), and a sync costs several times more while other data waits for writeback (the
    // previous store's close, compactions): each open starts from a quiet disk.
    for (let r = 0; r < openRuns; r++) {
      writeBack();
      await settle();
      let start = now();
      rawOpen(seglogDir);
      push(openSamples, 'ceiling', secondsSince(start) * 1e3);
      for (const name of readers.keys()) {
        writeBack();
        await settle();
        start = now();
        await openReader(name);
        push(openSamples, name, secondsSince(start) * 1e3);
        await closeReader(name);
      }
    }
    open.ceiling = median(openSamples.get('ceiling')!);
    for (const [name, xs] of openSamples) if (name !== 'ceiling') open.values.set(name, median(xs));
    ctx.log(`  ${describeRow(open)}`);

    // --- open after a crash (seglog only) ---
    const recovery = newRow(
      'open after crash',
      `open after a crash: every batch validated, indexes rebuilt (GB/s of log; ${what})`,
      'GB/s',
      'higher',
    );
    writeBack();
    const recSamples: number[] = [];
    const rawSamples: number[] = [];
    const recMs: number[] = [];
    for (let r = 0; r < SIZES.runs; r++) {
      simulateCrash(seglogDir);
      writeBack();
      await settle();
      let start = now();
      const log = Log.open(seglogDir, seglogConfig({ segmentBytes: SIZES.readSegmentBytes }));
      const seconds = secondsSince(start);
      const report = log.recovery;
      log.close();
      if (report.cleanShutdown || report.segmentsRecovered !== segmentCount) {
        throw new Error(`expected a full recovery of ${segmentCount} segments, got ${JSON.stringify(report)}`);
      }
      recSamples.push(bytes / seconds / 1e9);
      recMs.push(seconds * 1e3);
      await settle();
      start = now();
      rawScan(seglogDir);
      rawSamples.push(bytes / secondsSince(start) / 1e9);
    }
    recovery.ceiling = median(rawSamples);
    recovery.values.set('seglog', median(recSamples));
    recovery.workload += `; ${median(recMs).toFixed(0)} ms`;
    ctx.log(`  ${describeRow(recovery)}`);

    return [readP50, readP99, timeP50, timeP99, scan, open, recovery];
  } finally {
    await closeAll();
  }
}

/**
 * Makes a cleanly closed log look crashed, the worst case: the clean-shutdown mark and the
 * recovery-point checkpoint are removed, so `Log.open` must validate every batch of every
 * segment (framing, magic, CRC-32C, offsets) and rebuild every index.
 */
export function simulateCrash(dir: string): void {
  fs.rmSync(path.join(dir, CLEAN_SHUTDOWN_FILE), { force: true });
  fs.rmSync(path.join(dir, 'recovery-point-offset-checkpoint'), { force: true });
}

/** Every system must answer the same: same key, value and timestamp at random offsets, same offset for random times. */
async function checkAgreement(name: string, reader: Reader, total: number): Promise<void> {
  for (const o of randomInts(200, total, 7)) {
    const expected = record(o, 1024);
    let got = reader.get(o);
    if (isPromise(got)) got = await got;
    const rec = (Array.isArray(got) ? got[0] : got) as { key?: Buffer | null; timestamp?: number; value?: Buffer | null } | undefined;
    if (rec === undefined || rec.timestamp !== expected.timestamp || !rec.key?.equals(expected.key) || !rec.value?.equals(expected.value)) {
      throw new Error(`${name}: read(${o}) returned ${JSON.stringify(rec)?.slice(0, 200)}`);
    }
    let found = reader.offsetForTimestamp(expected.timestamp);
    if (isPromise(found)) found = await found;
    if (found !== o) throw new Error(`${name}: offsetForTimestamp(${expected.timestamp}) = ${String(found)}, expected ${o}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Open of a log of many segments (seglog only)
// ---------------------------------------------------------------------------------------------

async function manySegmentsOpen(ctx: SuiteContext, newRow: NewRow): Promise<Row> {
  const count = SIZES.manySegments;
  const row = newRow(`open (clean, ${count} segs)`, `open after a clean close, ${count} segments`, 'ms', 'lower');
  const dir = scratchDir('many-segments');
  try {
    const log = Log.open(dir, seglogConfig());
    let next = 0;
    for (let s = 0; s < count; s++) {
      for (let b = 0; b < 2; b++) {
        log.append(records(next, 100, 100));
        next += 100;
      }
      if (s < count - 1) log.roll();
    }
    await log.flush();
    log.close();
    if (segmentLogs(dir).length !== count) throw new Error(`expected ${count} segments, found ${segmentLogs(dir).length}`);
    const seglog: number[] = [];
    const ceiling: number[] = [];
    for (let r = 0; r < Math.max(SIZES.runs, 7); r++) {
      writeBack();
      await settle();
      let start = now();
      const reopened = Log.open(dir, seglogConfig());
      seglog.push(secondsSince(start) * 1e3);
      if (reopened.segments().length !== count) throw new Error('segment count changed');
      reopened.close();
      start = now();
      rawOpen(dir);
      ceiling.push(secondsSince(start) * 1e3);
    }
    row.values.set('seglog', median(seglog));
    row.ceiling = median(ceiling);
  } finally {
    removeDir(dir);
  }
  ctx.log(`  ${describeRow(row)}`);
  return row;
}

// ---------------------------------------------------------------------------------------------
// Durable appends
// ---------------------------------------------------------------------------------------------

async function durableWorkload(ctx: SuiteContext, newRow: NewRow): Promise<Row> {
  const { producers, durableMs, durableValueBytes } = SIZES;
  const row = newRow(
    'durable append',
    `durable append: ${producers} producers, each appends one ${durableValueBytes} B record and awaits durability`,
    'rec/s',
    'higher',
  );
  writeBack();
  const batchDir = scratchDir('durable-batches');
  const batchBytes = singleRecordBatches(batchDir, 4096, durableValueBytes);
  removeDir(batchDir);
  const samples = new Map<string, number[]>();
  ctx.log(`${row.workload}: ${SIZES.runs} runs x ${durableMs} ms`);
  for (let r = 0; r < SIZES.runs; r++) {
    await settle();
    const rawDir = scratchDir('durable-raw');
    try {
      push(samples, 'ceiling', await rawDurable(path.join(rawDir, 'raw.log'), producers, durableMs, batchBytes));
    } finally {
      removeDir(rawDir);
    }
    for (const store of ctx.stores) {
      await settle();
      const dir = scratchDir(`durable-${store.name}`);
      try {
        const rate = await store.durable(dir, producers, durableMs, durableValueBytes);
        if (rate !== null) push(samples, store.name, rate);
      } finally {
        removeDir(dir);
      }
    }
  }
  row.ceiling = median(samples.get('ceiling')!);
  for (const [name, xs] of samples) if (name !== 'ceiling') row.values.set(name, median(xs));
  ctx.log(`  ${describeRow(row)}`);
  return row;
}

// ---------------------------------------------------------------------------------------------
// Targets (issue 6) and formatting
// ---------------------------------------------------------------------------------------------

function applyTargets(rows: Row[]): void {
  const seglog = (row: Row): number | null => row.values.get('seglog') ?? null;
  const vsCeiling = (row: Row): number => speedup(row, seglog(row), row.ceiling);
  const vsPeer = (row: Row, peer: string): number | null => {
    const v = row.values.get(peer);
    return v == null ? null : speedup(row, seglog(row), v);
  };
  for (const row of rows) {
    const v = seglog(row);
    if (v === null) continue;
    const id = row.id;
    if (id === 'append 1 KiB x100') {
      const lmdb = vsPeer(row, 'lmdb');
      const sqlite = vsPeer(row, 'better-sqlite3');
      const peersKnown = lmdb !== null && sqlite !== null;
      row.target = {
        text: '>= 0.90x ceiling; >= 3x lmdb, >= 15x better-sqlite3',
        met: vsCeiling(row) >= 0.9 && (!peersKnown || (lmdb! >= 3 && sqlite! >= 15)),
      };
    } else if (id === 'append 1 KiB x100 fresh') row.target = { text: '>= 0.80x ceiling (issue 2)', met: vsCeiling(row) >= 0.8 };
    else if (id === 'append 100 B x100') row.target = { text: '>= 2 M rec/s', met: v >= 2e6 };
    else if (id === 'append 100 B x1' || id === 'append 1 KiB x1') row.target = { text: '>= 0.70x ceiling', met: vsCeiling(row) >= 0.7 };
    else if (id === 'read p50') row.target = { text: '< 2.5 us', met: v < 2.5 };
    else if (id === 'read p99') row.target = { text: '< 10 us', met: v < 10 };
    else if (id === 'offsetForTimestamp p50') row.target = { text: '< 5 us', met: v < 5 };
    else if (id === 'scan') row.target = { text: '>= 2 GB/s', met: v >= 2 };
    else if (id === 'open (clean, big)') row.target = { text: '< 2 ms', met: v < 2 };
    else if (id.startsWith('open (clean,') && id.endsWith('segs)')) row.target = { text: '< 50 ms', met: v < 50 };
    else if (id === 'open after crash') row.target = { text: '>= 2 GB/s', met: v >= 2 };
    else if (id === 'durable append') row.target = { text: '>= 100k rec/s', met: v >= 1e5 };
  }
}

export function formatValue(unit: Unit, value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'rec/s':
      return value >= 1e6 ? `${(value / 1e6).toFixed(2)} M/s` : value >= 1e3 ? `${(value / 1e3).toFixed(1)} k/s` : `${value.toFixed(0)} /s`;
    case 'MB/s':
      return `${value.toFixed(0)} MB/s`;
    case 'GB/s':
      return `${value.toFixed(2)} GB/s`;
    case 'us':
      return value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(value >= 100 ? 0 : 2)} us`;
    case 'ms':
      return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value >= 100 ? 0 : 2)} ms`;
  }
}

export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  if (ratio >= 10) return `${ratio.toFixed(0)}x`;
  if (ratio >= 0.1) return `${ratio.toFixed(2)}x`;
  return `${ratio.toPrecision(2)}x`;
}

export function describeRow(row: Row): string {
  const parts = [`ceiling ${formatValue(row.unit, row.ceiling)}`];
  for (const [name, v] of row.values) if (v !== null) parts.push(`${name} ${formatValue(row.unit, v)}`);
  return `${row.id}: ${parts.join(', ')}`;
}

function push(map: Map<string, number[]>, key: string, value: number): void {
  let xs = map.get(key);
  if (xs === undefined) map.set(key, (xs = []));
  xs.push(value);
}

