/**
 * Shared benchmark plumbing (issue 6): the scratch directory, deterministic data, timing and
 * statistics helpers, a table printer, and raw-file helpers that read back what seglog wrote
 * (its batches, and where each record sits) so the raw-`fs` ceiling can replay the same bytes.
 *
 * Nothing here imports a peer store: `npm run bench` needs only seglog and tinybench.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { addonHardware } from '../src/record/crc32c.js';

// ---------------------------------------------------------------------------------------------
// The machine a figure comes from
// ---------------------------------------------------------------------------------------------

/** The CPU flags that pick seglog's CRC-32C path (and so move the append figures), sorted. */
export function cpuFlags(): string {
  try {
    const found = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/\b(avx512f|avx512vl|vpclmulqdq|sse4_2|pclmulqdq|avx2)\b/g) ?? [];
    return [...new Set(found)].sort().join(' ') || 'none of avx2 avx512f avx512vl pclmulqdq sse4_2 vpclmulqdq';
  } catch {
    return 'unknown (no /proc/cpuinfo)';
  }
}

/** The CRC-32C path appends take here, and `SEGLOG_CRC32C` when it chose it. */
export function crcPath(): string {
  const hardware = addonHardware();
  const name = hardware === null ? 'JS (no addon)' : hardware === 'none' ? 'JS' : hardware;
  return process.env.SEGLOG_CRC32C ? `${name} (SEGLOG_CRC32C=${process.env.SEGLOG_CRC32C})` : name;
}

/**
 * One line naming the CPU, its flags and the CRC-32C path appends use here: every bench prints
 * it first, since the same figures differ between CPUs with and without AVX-512.
 */
export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'} x ${cpus.length}, Node ${process.version}; CPU flags: ${cpuFlags()}; CRC-32C path: ${crcPath()}`;
}

// ---------------------------------------------------------------------------------------------
// Command line and sizes
// ---------------------------------------------------------------------------------------------

/** `--quick`: a smoke run (small data, few runs) that finishes in well under a minute. */
export const QUICK = process.argv.includes('--quick');

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

/** Every knob of the suite, from `--quick` and `SEGLOG_BENCH_*` environment variables. */
export const SIZES = {
  /** Bytes of the big read log (1 KiB values, batches of `readBatch`): SEGLOG_BENCH_BYTES. */
  readLogBytes: envNumber('SEGLOG_BENCH_BYTES', QUICK ? 32 * MiB : GiB),
  /** Records per batch in the big read log: SEGLOG_BENCH_READ_BATCH. */
  readBatch: envNumber('SEGLOG_BENCH_READ_BATCH', 100),
  /** `segmentBytes` of the big read log; default: 1/32 of it, so it has ~32 segments. */
  readSegmentBytes: 0,
  /** Payload bytes (key + value) appended per run of a batched append workload. */
  appendBytes: envNumber('SEGLOG_BENCH_APPEND_BYTES', QUICK ? 4 * MiB : 64 * MiB),
  /** Records appended per run of a one-record-per-call workload. */
  singleRecords: envNumber('SEGLOG_BENCH_SINGLE_RECORDS', QUICK ? 2_000 : 50_000),
  /** Segments of the many-segment log opened after a clean close. */
  manySegments: envNumber('SEGLOG_BENCH_SEGMENTS', 1000),
  /** Runs per figure (the median is reported). */
  runs: envNumber('SEGLOG_BENCH_RUNS', QUICK ? 3 : 5),
  /** Pairs of runs (seglog and raw, order alternating) of the fresh-records append workload. */
  freshRuns: envNumber('SEGLOG_BENCH_FRESH_RUNS', QUICK ? 4 : 12),
  /** tinybench time budget per latency task and run, ms. */
  latencyMs: envNumber('SEGLOG_BENCH_LATENCY_MS', QUICK ? 100 : 1000),
  /** Concurrent producers of the durable-append workload. */
  producers: envNumber('SEGLOG_BENCH_PRODUCERS', 64),
  /** Duration of one durable-append run, ms. */
  durableMs: envNumber('SEGLOG_BENCH_DURABLE_MS', QUICK ? 400 : 2000),
  /** Value bytes of the durable-append workload. */
  durableValueBytes: envNumber('SEGLOG_BENCH_DURABLE_VALUE', 100),
};
SIZES.readSegmentBytes = envNumber('SEGLOG_BENCH_SEGMENT_BYTES', Math.max(MiB, Math.floor(SIZES.readLogBytes / 32)));

// ---------------------------------------------------------------------------------------------
// Scratch directory: <repo>/.bench-tmp-<pid>, on the project's file system, always removed
// ---------------------------------------------------------------------------------------------

/** The repository root: the nearest ancestor of this file with a package.json named seglog. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'seglog') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the seglog repository root');
    dir = parent;
  }
}

let scratchRoot: string | null = null;
let scratchCounter = 0;

function removeScratch(): void {
  if (scratchRoot === null) return;
  try {
    fs.rmSync(scratchRoot, { recursive: true, force: true });
  } catch {
    // best effort at exit
  }
  scratchRoot = null;
}

/**
 * The scratch root `<repo>/.bench-tmp-<pid>` (git-ignored), created on first use and removed at
 * exit: normal end, uncaught error, SIGINT or SIGTERM.
 */
export function scratchBase(): string {
  if (scratchRoot !== null) return scratchRoot;
  const root = path.join(repoRoot(), `.bench-tmp-${process.pid}`);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  scratchRoot = root;
  process.on('exit', removeScratch);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      removeScratch();
      process.exit(130);
    });
  }
  return root;
}

/** A fresh, empty directory under the scratch root. The name ends in `-0` (a partition directory). */
export function scratchDir(name: string): string {
  const dir = path.join(scratchBase(), `${name.replace(/[^A-Za-z0-9]+/g, '_')}-${++scratchCounter}-0`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs `main`, then removes the scratch root whatever happened; exits non-zero on error. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    process.exitCode = 1;
    console.error(err);
  } finally {
    removeScratch();
  }
}

// ---------------------------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------------------------

/** First record timestamp; record i of a workload has timestamp T0 + i (strictly increasing). */
export const T0 = 1_700_000_000_000;
export const KEY_BYTES = 16;
const POOL = 4096;

/** A record as every store gets it. */
export interface Rec {
  key: Buffer;
  value: Buffer;
  timestamp: number;
}

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let keyPool: Buffer[] | null = null;
const valuePools = new Map<number, Buffer[]>();

/** 4096 distinct 16-byte ASCII keys: `key-000000000042`. */
function keys(): Buffer[] {
  keyPool ??= Array.from({ length: POOL }, (_, i) => Buffer.from(`key-${String(i).padStart(KEY_BYTES - 4, '0')}`));
  return keyPool;
}

/**
 * 4096 distinct values of `size` bytes: text of words drawn from a 512-word vocabulary with a
 * sequence number in front, so they look like event payloads and lz4 finds matches (about 2x),
 * rather than incompressible noise.
 */
function values(size: number): Buffer[] {
  let pool = valuePools.get(size);
  if (pool !== undefined) return pool;
  const rand = prng(size * 7919 + 1);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const vocabulary = Array.from({ length: 512 }, () => {
    const n = 3 + Math.floor(rand() * 8);
    let w = '';
    for (let j = 0; j < n; j++) w += letters[Math.floor(rand() * 26)];
    return w;
  });
  pool = [];
  for (let i = 0; i < POOL; i++) {
    let text = `{"seq":${i},"text":"`;
    while (text.length < size) text += `${vocabulary[Math.floor(rand() * vocabulary.length)]} `;
    pool.push(Buffer.from(text.slice(0, size - 2) + '"}', 'latin1'));
  }
  valuePools.set(size, pool);
  return pool;
}

/** Record `i` of a workload with `valueBytes`-byte values: deterministic, timestamp T0 + i. */
export function record(i: number, valueBytes: number): Rec {
  return { key: keys()[i % POOL]!, value: values(valueBytes)[(i * 2654435761) % POOL]!, timestamp: T0 + i };
}

/**
 * Records `start .. start + count - 1` as a producer has them right after building them: key and
 * value in new buffers of their own, just written, so in the CPU cache.
 */
export function freshRecords(start: number, count: number, valueBytes: number): Rec[] {
  const out = new Array<Rec>(count);
  for (let i = 0; i < count; i++) {
    const r = record(start + i, valueBytes);
    out[i] = { key: Buffer.from(r.key), value: Buffer.from(r.value), timestamp: r.timestamp };
  }
  return out;
}

/** Records `start .. start + count - 1`. */
export function records(start: number, count: number, valueBytes: number): Rec[] {
  const out = new Array<Rec>(count);
  for (let i = 0; i < count; i++) out[i] = record(start + i, valueBytes);
  return out;
}

/** `total` records split into batches of `batchSize`, starting at record `start`. */
export function batches(start: number, total: number, batchSize: number, valueBytes: number): Rec[][] {
  const out: Rec[][] = [];
  for (let i = 0; i < total; i += batchSize) out.push(records(start + i, Math.min(batchSize, total - i), valueBytes));
  return out;
}

/** Payload bytes of one record: key + value. */
export function payloadOf(valueBytes: number): number {
  return KEY_BYTES + valueBytes;
}

/** `count` deterministic random integers in [0, bound). */
export function randomInts(count: number, bound: number, seed: number): number[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => Math.floor(rand() * bound));
}

// ---------------------------------------------------------------------------------------------
// Timing and statistics
// ---------------------------------------------------------------------------------------------

export function now(): bigint {
  return process.hrtime.bigint();
}

/** Seconds since `start`. */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The q-quantile (0..1) of `xs`, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** Runs `fn` `runs` times (awaiting each) and returns the median of what it returned. */
export async function medianOf(runs: number, fn: (run: number) => number | Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) xs.push(await fn(r));
  return median(xs);
}

/**
 * Writes back every dirty page (`sync(1)`), so the writeback of data built just before (GBs for
 * the big logs) does not compete with the measurements that follow. Changes no data.
 */
export function writeBack(): void {
  try {
    execFileSync('sync', { stdio: 'ignore' });
  } catch {
    // not available: measure anyway
  }
}

/** Lets pending I/O callbacks, timers and GC finalizers run between measurements. */
export async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  (globalThis as { gc?: () => void }).gc?.();
}

// ---------------------------------------------------------------------------------------------
// Formatting and tables
// ---------------------------------------------------------------------------------------------

export function fmtRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return 'n/a';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

export function fmtMBs(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond)) return 'n/a';
  return bytesPerSecond >= 1e9 ? `${(bytesPerSecond / 1e9).toFixed(2)} GB/s` : `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`;
}

export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return us >= 100 ? `${us.toFixed(0)} us` : `${us.toFixed(2)} us`;
}

export function fmtRatio(ratio: number): string {
  if (!Number.isFinite(ratio) || ratio <= 0) return '-';
  return ratio >= 10 ? `${ratio.toFixed(0)}x` : `${ratio.toFixed(2)}x`;
}

/** Prints rows as an aligned text table (first column left-aligned, the others right-aligned). */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

/** The same rows as a Markdown table. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const out = [`| ${headers.join(' | ')} |`, `|${headers.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) out.push(`| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Raw-file helpers: what seglog wrote, read back with plain fs
// ---------------------------------------------------------------------------------------------

/** Kafka v2 batch header: baseOffset(8) batchLength(4) ... recordCount(4) = 61 bytes. */
const BATCH_HEADER = 61;
const LOG_OVERHEAD = 12;

/** The `.log` files of a partition directory, oldest first. */
export function segmentLogs(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Total bytes of the `.log` files. */
export function logBytes(dir: string): number {
  return segmentLogs(dir).reduce((sum, f) => sum + fs.statSync(f).size, 0);
}

/** Every batch of every segment of `dir`, each as its exact bytes, in log order. */
export function readBatchBytes(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const file of segmentLogs(dir)) {
    const data = fs.readFileSync(file);
    let at = 0;
    while (at + LOG_OVERHEAD <= data.length) {
      const size = LOG_OVERHEAD + data.readInt32BE(at + 8);
      if (size < BATCH_HEADER || at + size > data.length) break;
      out.push(data.subarray(at, at + size));
      at += size;
    }
  }
  return out;
}

function readVarint(buf: Buffer, at: number): { value: number; next: number } {
  let raw = 0;
  let shift = 0;
  let b: number;
  do {
    b = buf[at++]!;
    raw += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  // zigzag
  const value = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  return { value, next: at };
}

/**
 * Where every record of an uncompressed log lies: for offset o, `file[o]`, `position[o]` and
 * `length[o]` (the record's bytes, from its length varint on) and `timestamp[o]`. This is the
 * in-memory "perfect index" of the raw ceiling for point reads: with it a lookup is one
 * `fs.readSync` of exactly the record's bytes.
 */
export interface RecordMap {
  files: string[];
  file: Uint16Array;
  position: Float64Array;
  length: Uint32Array;
  timestamp: Float64Array;
  count: number;
}

export function mapRecords(dir: string): RecordMap {
  const files = segmentLogs(dir);
  const chunks: { file: number; position: number; length: number; timestamp: number }[][] = [];
  let count = 0;
  files.forEach((f, fileIndex) => {
    const data = fs.readFileSync(f);
    const list: { file: number; position: number; length: number; timestamp: number }[] = [];
    let at = 0;
    while (at + BATCH_HEADER <= data.length) {
      const size = LOG_OVERHEAD + data.readInt32BE(at + 8);
      const attributes = data.readInt16BE(at + 21);
      if ((attributes & 7) !== 0) throw new Error('mapRecords needs an uncompressed log');
      const baseTimestamp = Number(data.readBigInt64BE(at + 27));
      const n = data.readInt32BE(at + 57);
      let p = at + BATCH_HEADER;
      for (let r = 0; r < n; r++) {
        const len = readVarint(data, p);
        const bodyStart = len.next;
        // attributes (1 byte), then timestampDelta varlong
        const tsDelta = readVarint(data, bodyStart + 1);
        list.push({ file: fileIndex, position: p, length: bodyStart - p + len.value, timestamp: baseTimestamp + tsDelta.value });
        p = bodyStart + len.value;
      }
      at += size;
    }
    count += list.length;
    chunks.push(list);
  });
  const map: RecordMap = {
    files,
    file: new Uint16Array(count),
    position: new Float64Array(count),
    length: new Uint32Array(count),
    timestamp: new Float64Array(count),
    count,
  };
  let o = 0;
  for (const list of chunks) {
    for (const e of list) {
      map.file[o] = e.file;
      map.position[o] = e.position;
      map.length[o] = e.length;
      map.timestamp[o] = e.timestamp;
      o++;
    }
  }
  return map;
}

/** The first index whose timestamp is >= ts (binary search), or `count` when there is none. */
export function lowerBound(ts: Float64Array, count: number, t: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
