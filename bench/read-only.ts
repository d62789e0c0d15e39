/**
 * Read-only opener benchmark (issue 18): point reads (`read(o, { maxRecords: 1 })` at random
 * offsets) and `offsetForTimestamp` (random timestamps) on
 *   - the writer itself (baseline), and
 *   - a read-only opener in this process while a writer in a child process appends 10,000
 *     records/s (calls of 100 x 1 KiB every 10 ms) to the same log,
 * alternating, SEGLOG_BENCH_RO_ROUNDS rounds (default 3); medians of the rounds' p50 and p99.
 * The log: SEGLOG_BENCH_RO_RECORDS records of 1 KiB (default 100,000) in calls of 100, 32 MiB
 * segments, timestamps T0 + offset.
 *
 * Run: `npx tsc -p tsconfig.json && node dist-all/bench/read-only.js`
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log } from '../src/index.js';
import { machineLine } from './common.js';

const RECORDS = Number(process.env.SEGLOG_BENCH_RO_RECORDS ?? 100_000);
const ROUNDS = Number(process.env.SEGLOG_BENCH_RO_ROUNDS ?? 3);
const SAMPLES = 20_000;
const T0 = 1_700_000_000_000;
// No retention: the timestamps are years old.
const CONFIG = { segmentBytes: 32 * 1024 * 1024, retentionMs: -1 };
const VALUE = Buffer.alloc(1024, 7);

function batchAt(offset: number): { value: Buffer; timestamp: number }[] {
  return Array.from({ length: 100 }, (_, i) => ({ value: VALUE, timestamp: T0 + offset + i }));
}

/** Child: append 100 records every 10 ms until stdin closes. */
async function writer(dir: string): Promise<void> {
  const log = Log.open(dir, CONFIG);
  let stop = false;
  process.stdin.on('close', () => (stop = true)).resume();
  process.stdout.write('ready\n');
  while (!stop) {
    log.append(batchAt(log.endOffset));
    await new Promise((r) => setTimeout(r, 10));
  }
  log.close();
}

function quantile(xs: number[], q: number): number {
  const sorted = xs.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

interface Figures {
  readP50: number;
  readP99: number;
  tsP50: number;
  tsP99: number;
}

/** Per-call times in microseconds, after a warm-up of the same calls. */
function measure(log: Log, seed: number): Figures {
  let state = seed;
  const next = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31);
  const reads: number[] = [];
  const stamps: number[] = [];
  for (let pass = 0; pass < 2; pass++) {
    reads.length = 0;
    stamps.length = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const offset = next() % RECORDS;
      const t = process.hrtime.bigint();
      const [r] = log.read(offset, { maxRecords: 1 });
      reads.push(Number(process.hrtime.bigint() - t) / 1000);
      if (r?.offset !== offset) throw new Error(`read ${offset} gave ${r?.offset}`);
      const ts = T0 + (next() % RECORDS);
      const u = process.hrtime.bigint();
      const found = log.offsetForTimestamp(ts);
      stamps.push(Number(process.hrtime.bigint() - u) / 1000);
      if (found !== ts - T0) throw new Error(`offsetForTimestamp ${ts} gave ${found}`);
    }
  }
  return { readP50: quantile(reads, 0.5), readP99: quantile(reads, 0.99), tsP50: quantile(stamps, 0.5), tsP99: quantile(stamps, 0.99) };
}

async function withLiveWriter<T>(dir: string, body: () => T): Promise<T> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'writer', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`writer exited with ${code}`)));
  });
  try {
    return body();
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end();
    await exited;
  }
}

async function main(): Promise<void> {
  const dir = path.join(fs.mkdtempSync(path.join(process.env.SEGLOG_BENCH_DIR ?? os.tmpdir(), 'seglog-bench-')), 'ro-0');
  const log = Log.open(dir, CONFIG);
  for (let o = 0; o < RECORDS; o += 100) log.append(batchAt(o));
  log.close();
  const writerRuns: Figures[] = [];
  const readerRuns: Figures[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const w = Log.open(dir, CONFIG);
    writerRuns.push(measure(w, 17 + round));
    w.close();
    readerRuns.push(
      await withLiveWriter(dir, () => {
        const r = Log.open(dir, { readOnly: true });
        try {
          return measure(r, 17 + round);
        } finally {
          r.close();
        }
      }),
    );
  }
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  const row = (name: string, runs: Figures[]): string =>
    `${name.padEnd(36)} read p50 ${median(runs.map((f) => f.readP50)).toFixed(2)} us, p99 ${median(runs.map((f) => f.readP99)).toFixed(2)} us; ` +
    `offsetForTimestamp p50 ${median(runs.map((f) => f.tsP50)).toFixed(2)} us, p99 ${median(runs.map((f) => f.tsP99)).toFixed(2)} us`;
  console.log(`${machineLine()}; ${RECORDS} records of 1 KiB, 32 MiB segments, ${ROUNDS} rounds`);
  console.log(row('writer', writerRuns));
  console.log(row('read-only, live writer 10k rec/s', readerRuns));
  const ratio = (pick: (f: Figures) => number): string => (median(readerRuns.map(pick)) / median(writerRuns.map(pick))).toFixed(2);
  console.log(`read-only / writer: read p50 ${ratio((f) => f.readP50)}x, p99 ${ratio((f) => f.readP99)}x; offsetForTimestamp p50 ${ratio((f) => f.tsP50)}x`);
}

if (process.argv[2] === 'writer') await writer(process.argv[3]!);
else await main();
