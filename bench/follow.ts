/**
 * Follow benchmark (issue 7).
 *
 * 1. End-to-end latency from `append` to a `stream({ follow: true })` consumer seeing the record,
 *    one record per batch, SEGLOG_BENCH_FOLLOW_RECORDS records (default 2000) one every
 *    SEGLOG_BENCH_FOLLOW_INTERVAL_MS (default 1; 0 appends on every turn of the event loop):
 *    - same process: the writer's own `Log` (woken by the in-process append notification);
 *    - across processes: a child process follows a read-only view (woken by `fs.watch` on the
 *      partition directory). Timestamps are `process.hrtime` (CLOCK_MONOTONIC, shared by all
 *      processes of the machine), written into each record's value.
 *    Reported: median, p99 and max in microseconds.
 * 2. Catch-up throughput: a log of SEGLOG_BENCH_CATCHUP_MB megabytes (default 256), then
 *    `stream()` from offset 0 to the end (every record yielded, its value touched), against a raw
 *    sequential `fs.readSync` of the same `.log` files with a 1 MiB buffer, in the same run, page
 *    cache warm for both (best of 3 each); also a plain `Log.read` loop, to show what the async
 *    iterator itself costs. Two shapes: 1 KiB values in batches of 100, and 100-byte
 *    values in batches of 10. Reported: MB/s of `.log` bytes, records/s, and the ratio to raw.
 *
 * Knobs: the variables above, SEGLOG_BENCH_DIR (parent of scratch directories; default the OS
 * temp dir).
 *
 * Run: `npx tsc -p tsconfig.json && node dist-all/bench/follow.js`
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log } from '../src/index.js';
import { machineLine } from './common.js';

const MB = 1024 * 1024;
const FOLLOW_RECORDS = Number(process.env.SEGLOG_BENCH_FOLLOW_RECORDS ?? 2000);
const INTERVAL_MS = Number(process.env.SEGLOG_BENCH_FOLLOW_INTERVAL_MS ?? 1);
const CATCHUP_MB = Number(process.env.SEGLOG_BENCH_CATCHUP_MB ?? 256);
const PARENT = process.env.SEGLOG_BENCH_DIR ?? os.tmpdir();
const END = 'END';

function scratch(name: string): string {
  return path.join(fs.mkdtempSync(path.join(PARENT, 'seglog-bench-')), name);
}

function cleanup(dir: string): void {
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
}

const now = (): bigint => process.hrtime.bigint();
const sleep = (ms: number): Promise<void> => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

function stats(latenciesNs: number[]): { median: number; p99: number; max: number; n: number } {
  const us = latenciesNs.map((n) => n / 1000).sort((a, b) => a - b);
  const at = (q: number): number => us[Math.min(us.length - 1, Math.floor(q * us.length))]!;
  return { median: at(0.5), p99: at(0.99), max: us[us.length - 1]!, n: us.length };
}

function report(label: string, s: ReturnType<typeof stats>): void {
  console.log(`  ${label.padEnd(34)} median ${s.median.toFixed(0).padStart(6)} us   p99 ${s.p99.toFixed(0).padStart(6)} us   max ${s.max.toFixed(0).padStart(6)} us   (n=${s.n})`);
}

/** Appends FOLLOW_RECORDS one-record batches whose value is the hrtime of the append, then END. */
async function paceWriter(log: Log): Promise<void> {
  for (let i = 0; i < FOLLOW_RECORDS; i++) {
    await sleep(INTERVAL_MS);
    log.append({ value: String(now()) });
  }
  await sleep(INTERVAL_MS);
  log.append({ value: END });
}

/** Follows `log` from its end until END; returns the latency of every record. */
async function follow(log: Log, onReady?: () => void): Promise<number[]> {
  const latencies: number[] = [];
  const stream = log.stream({ follow: true, from: log.endOffset });
  const first = stream.next();
  onReady?.();
  let result = await first;
  while (result.done !== true) {
    const seenAt = now();
    const value = result.value.value!.toString();
    if (value === END) break;
    latencies.push(Number(seenAt - BigInt(value)));
    result = await stream.next();
  }
  await stream.return();
  return latencies;
}

async function latencySameProcess(): Promise<void> {
  const dir = scratch('follow-0');
  const log = Log.open(dir, { segmentBytes: 1 * MB });
  const following = follow(log);
  await paceWriter(log);
  report('same process (writer\'s own Log)', stats(await following));
  const reader = Log.open(dir, { readOnly: true });
  const viewing = follow(reader);
  await sleep(20);
  await paceWriter(log);
  report('same process, read-only view', stats(await viewing));
  reader.close();
  log.close();
  cleanup(dir);
}

async function latencyAcrossProcesses(): Promise<void> {
  const dir = scratch('follow-0');
  const log = Log.open(dir, { segmentBytes: 1 * MB });
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'follower', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await ready;
  await sleep(50);
  await paceWriter(log);
  await exited;
  const latencies = JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as number[];
  report('other process, read-only view', stats(latencies));
  log.close();
  cleanup(dir);
}

/** The child of `latencyAcrossProcesses`. */
async function followerChild(dir: string): Promise<void> {
  const log = Log.open(dir, { readOnly: true });
  const latencies = await follow(log, () => process.stdout.write('ready\n'));
  log.close();
  process.stdout.write(JSON.stringify(latencies));
}

function buildLog(dir: string, valueBytes: number, perBatch: number): { bytes: number; records: number } {
  const log = Log.open(dir, { segmentBytes: 64 * MB });
  const value = Buffer.alloc(valueBytes, 0x61);
  const batch = Array.from({ length: perBatch }, (_, i) => ({ key: `sensor-${i % 100}`, value, timestamp: 1_700_000_000_000 + i }));
  let records = 0;
  while (log.size < CATCHUP_MB * MB) {
    log.append(batch);
    records += perBatch;
  }
  const bytes = log.size;
  log.close();
  return { bytes, records };
}

function rawRead(dir: string): number {
  const files = fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
  const buffer = Buffer.allocUnsafe(MB);
  let total = 0;
  for (const name of files) {
    const fd = fs.openSync(path.join(dir, name), 'r');
    try {
      for (;;) {
        const n = fs.readSync(fd, buffer, 0, buffer.length, null);
        if (n === 0) break;
        total += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return total;
}

async function streamRead(dir: string): Promise<{ records: number; valueBytes: number }> {
  const log = Log.open(dir, { readOnly: true });
  let records = 0;
  let valueBytes = 0;
  for await (const r of log.stream()) {
    records++;
    valueBytes += r.value!.length;
  }
  log.close();
  return { records, valueBytes };
}

/** `Log.read` in a loop, as a consumer without the iterator would read: the iterator's own cost is the difference. */
function readLoop(dir: string): number {
  const log = Log.open(dir, { readOnly: true });
  const end = log.endOffset;
  let records = 0;
  for (let offset = log.startOffset; offset < end; ) {
    const batch = log.read(offset);
    for (const r of batch) records += r.value!.length > 0 ? 1 : 0;
    offset = batch[batch.length - 1]!.offset + 1;
  }
  log.close();
  return records;
}

async function best<T>(runs: number, fn: () => T | Promise<T>): Promise<{ seconds: number; result: T }> {
  let bestSeconds = Infinity;
  let result: T | undefined;
  for (let i = 0; i < runs; i++) {
    const start = now();
    result = await fn();
    bestSeconds = Math.min(bestSeconds, Number(now() - start) / 1e9);
  }
  return { seconds: bestSeconds, result: result as T };
}

async function catchUp(valueBytes: number, perBatch: number): Promise<void> {
  const dir = scratch('catchup-0');
  const built = buildLog(dir, valueBytes, perBatch);
  const raw = await best(3, () => rawRead(dir));
  const looped = await best(3, () => readLoop(dir));
  const streamed = await best(3, () => streamRead(dir));
  if (streamed.result.records !== built.records) throw new Error(`stream read ${streamed.result.records} records, expected ${built.records}`);
  const mb = built.bytes / MB;
  const rawRate = raw.result / MB / raw.seconds;
  const streamRate = mb / streamed.seconds;
  console.log(`  ${valueBytes}-byte values, ${perBatch} per batch: ${mb.toFixed(0)} MB, ${built.records} records`);
  console.log(`    raw fs.readSync (1 MiB)     ${rawRate.toFixed(0).padStart(6)} MB/s`);
  const loopRate = mb / looped.seconds;
  console.log(`    Log.read() loop (1 MiB)     ${loopRate.toFixed(0).padStart(6)} MB/s   ${(built.records / looped.seconds / 1e6).toFixed(2)} M records/s   ${((loopRate / rawRate) * 100).toFixed(1)}% of raw`);
  console.log(
    `    stream() from offset 0      ${streamRate.toFixed(0).padStart(6)} MB/s   ${(built.records / streamed.seconds / 1e6).toFixed(2)} M records/s   ${((streamRate / rawRate) * 100).toFixed(1)}% of raw`,
  );
  cleanup(dir);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'follower') {
    await followerChild(process.argv[3]!);
    return;
  }
  console.log(`seglog follow benchmark: ${machineLine()}`);
  console.log(`latency append -> follower, ${FOLLOW_RECORDS} records, one every ${INTERVAL_MS} ms:`);
  await latencySameProcess();
  await latencyAcrossProcesses();
  console.log(`catch-up read, page cache warm, best of 3:`);
  await catchUp(1024, 100);
  await catchUp(100, 10);
}

await main();
