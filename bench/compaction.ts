/**
 * Compaction benchmark (issue 16).
 *
 * 1. Cleaning throughput: a compacted log of SEGLOG_BENCH_COMPACT_MB megabytes (default 64) of
 *    batches of SEGLOG_BENCH_BATCH_RECORDS records (default 32) with SEGLOG_BENCH_RECORD_BYTES value
 *    bytes (default 256), keys drawn from SEGLOG_BENCH_KEYS distinct keys (default 100000), is
 *    rolled and compacted with `log.compact()`; reported: MB/s of input (bytes of the segments
 *    rewritten over the pass's duration, the flushes and swaps included), the key map's size, and
 *    how much of the input was kept. During the pass a probe chains `setImmediate` turns and
 *    records the gaps between them: the longest gap is the longest time the pass held the main
 *    thread in one go (one slice, or a swap), i.e. the longest an append could wait for it, with the
 *    CPU time of that stretch (what the pass itself took, without other processes' share of the
 *    core); the same probe over an idle event loop of the same length gives the machine's noise floor.
 * 2. Appends while the background cleaner runs: the same append loop (one batch per event-loop
 *    turn, so cleaner slices interleave) on two compacted logs in the same run, one with the
 *    background cleaner checking every 20 ms at a dirty ratio of 0.2, one with it off, in
 *    SEGLOG_BENCH_PAIRS pairs (default 6) of alternating order; reported: the median of the pairs'
 *    ratios of records/s (on / off), the passes the cleaner ran, and the longest wait of an append
 *    behind the event loop (a slice of the cleaner, or anything else) with the cleaner on and off.
 * 3. Key-map memory per million distinct keys: an offset map sized for 1,000,000 keys is filled;
 *    reported: its bytes (the typed arrays) and the growth of `process.memoryUsage().arrayBuffers`.
 *
 * Run: `npx tsc -p tsconfig.json && node dist-all/bench/compaction.js`
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Log } from '../src/index.js';
import { OffsetMap } from '../src/cleaner/offset-map.js';
import { machineLine } from './common.js';

const MB = 1024 * 1024;
const COMPACT_MB = Number(process.env.SEGLOG_BENCH_COMPACT_MB ?? 64);
const BATCH_RECORDS = Number(process.env.SEGLOG_BENCH_BATCH_RECORDS ?? 32);
const RECORD_BYTES = Number(process.env.SEGLOG_BENCH_RECORD_BYTES ?? 256);
const KEYS = Number(process.env.SEGLOG_BENCH_KEYS ?? 100_000);
const PAIRS = Number(process.env.SEGLOG_BENCH_PAIRS ?? 6);
const APPEND_MB = Number(process.env.SEGLOG_BENCH_APPEND_MB ?? 16);
const PARENT = process.env.SEGLOG_BENCH_DIR ?? os.tmpdir();

function scratch(name: string): string {
  return path.join(fs.mkdtempSync(path.join(PARENT, 'seglog-bench-')), name);
}

function cleanup(dir: string): void {
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
}

let seed = 1;
function nextKey(): string {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return `key-${seed % KEYS}`;
}

function batch(value: string): { key: string; value: string }[] {
  const out = [];
  for (let i = 0; i < BATCH_RECORDS; i++) out.push({ key: nextKey(), value });
  return out;
}

async function cleaningThroughput(): Promise<void> {
  const dir = scratch('compact-0');
  const log = Log.open(dir, { cleanupPolicy: 'compact', cleanerBackoffMs: 0, segmentBytes: 16 * MB });
  const value = 'v'.repeat(RECORD_BYTES);
  while (log.size < COMPACT_MB * MB) log.append(batch(value));
  log.roll();
  log.append({ key: 'last', value });
  await log.flush();
  const probe = probeTurns();
  const result = await log.compact();
  const busy = probe.stop();
  const idleProbe = probeTurns();
  await new Promise((r) => setTimeout(r, Math.max(200, result.durationMs)));
  const idle = idleProbe.stop();
  const mbps = result.bytesRead / MB / (result.durationMs / 1000);
  console.log(
    `cleaning: ${(result.bytesRead / MB).toFixed(1)} MB in ${result.durationMs.toFixed(0)} ms = ${mbps.toFixed(1)} MB/s of input; ` +
      `${result.segmentsCleaned} segments, ${(result.bytesWritten / MB).toFixed(1)} MB kept, ${result.recordsRemoved} records removed; ` +
      `key map ${(log.cleaner.lastMapBytes / MB).toFixed(1)} MB for ${KEYS} keys`,
  );
  console.log(
    `main thread held by the pass in one go: longest ${busy.max.toFixed(2)} ms (CPU ${busy.maxCpu.toFixed(2)} ms), p99 ${busy.p99.toFixed(2)} ms over ${busy.turns} turns ` +
      `(idle event loop, same length: longest ${idle.max.toFixed(2)} ms (CPU ${idle.maxCpu.toFixed(2)} ms), p99 ${idle.p99.toFixed(2)} ms)`,
  );
  log.close();
  cleanup(dir);
}

/**
 * Chains setImmediate turns until `stop()`; returns the longest and 99th-percentile gap between two
 * turns (wall time), and the longest CPU time (user + system, this process) spent within one gap:
 * on a loaded machine the wall time includes the time other processes held the core, the CPU time
 * does not (it does include the thread pool's, for example a cleaned segment's fdatasync).
 */
function probeTurns(): { stop: () => { max: number; p99: number; maxCpu: number; turns: number } } {
  const gaps: number[] = [];
  let maxCpu = 0;
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    gaps.push(now - last);
    maxCpu = Math.max(maxCpu, (cpu.user + cpu.system) / 1000);
    last = now;
    lastCpu = process.cpuUsage();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      running = false;
      const sorted = gaps.slice().sort((a, b) => a - b);
      return { max: sorted[sorted.length - 1] ?? 0, p99: sorted[Math.floor(sorted.length * 0.99)] ?? 0, maxCpu, turns: sorted.length };
    },
  };
}

interface AppendRun {
  recordsPerSecond: number;
  maxWaitMs: number;
  passes: number;
}

async function appendRun(cleanerOn: boolean): Promise<AppendRun> {
  const dir = scratch('appends-0');
  const log = Log.open(dir, {
    cleanupPolicy: 'compact',
    segmentBytes: 2 * MB,
    cleanerBackoffMs: cleanerOn ? 20 : 0,
    minCleanableDirtyRatio: 0.2,
  });
  const value = 'v'.repeat(RECORD_BYTES);
  const target = APPEND_MB * MB;
  let records = 0;
  let bytes = 0;
  let maxWaitMs = 0;
  let passes = 0;
  let lastDirty: number | null = null;
  const start = performance.now();
  while (bytes < target) {
    const b = batch(value);
    log.append(b);
    records += b.length;
    bytes += b.length * (RECORD_BYTES + 10);
    const scheduled = performance.now();
    await new Promise((r) => setImmediate(r));
    maxWaitMs = Math.max(maxWaitMs, performance.now() - scheduled);
    const dirty = log.cleaner.firstDirtyOffset();
    if (dirty !== lastDirty) {
      passes++;
      lastDirty = dirty;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  log.close();
  cleanup(dir);
  return { recordsPerSecond: records / seconds, maxWaitMs, passes };
}

async function appendsWithCleaner(): Promise<void> {
  const ratios: number[] = [];
  const waitsOn: number[] = [];
  const waitsOff: number[] = [];
  let passes = 0;
  for (let pair = 0; pair < PAIRS; pair++) {
    const order = pair % 2 === 0 ? [true, false] : [false, true];
    const runs = new Map<boolean, AppendRun>();
    for (const on of order) runs.set(on, await appendRun(on));
    const on = runs.get(true)!;
    const off = runs.get(false)!;
    ratios.push(on.recordsPerSecond / off.recordsPerSecond);
    waitsOn.push(on.maxWaitMs);
    waitsOff.push(off.maxWaitMs);
    passes += on.passes;
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `appends with the background cleaner on / off: median ratio ${median(ratios).toFixed(2)}x over ${PAIRS} pairs ` +
      `(range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); ${passes} passes ran; ` +
      `longest wait of an append behind the event loop: median ${median(waitsOn).toFixed(1)} ms on, ${median(waitsOff).toFixed(1)} ms off (max ${Math.max(...waitsOn).toFixed(1)} / ${Math.max(...waitsOff).toFixed(1)})`,
  );
}

function keyMapMemory(): void {
  const keys = 1_000_000;
  globalThis.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const map = new OffsetMap(OffsetMap.slotsFor(1024 * MB, keys));
  const key = Buffer.alloc(16);
  for (let i = 0; i < keys; i++) {
    key.writeUInt32BE(i, 0);
    key.writeUInt32BE(i * 7, 4);
    map.put(key, 0, 8, i);
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  console.log(
    `key map: ${(map.memoryBytes / MB).toFixed(1)} MB of typed arrays for ${map.size} keys (${(map.memoryBytes / keys).toFixed(1)} bytes per key, load factor 0.9); ` +
      `arrayBuffers grew ${(grown / MB).toFixed(1)} MB`,
  );
}


async function main(): Promise<void> {
  console.log(machineLine());
  keyMapMemory();
  await cleaningThroughput();
  if (PAIRS > 0) await appendsWithCleaner();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
