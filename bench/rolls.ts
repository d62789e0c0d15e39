/**
 * What rolls cost the appender: the same appends (200,000 records of 1 KiB, in calls of 100,
 * records prepared beforehand) into a log of 32 MiB segments (6 rolls) and into one of 1 GiB
 * segments (none), run after run in alternating order, medians compared. The target:
 * 32 MiB at >= 90% of 1 GiB. Also prints what the calls that rolled took against the others (the
 * segment count is read after each call, outside the timing), and the slowest calls of each size.
 *
 * Run after a build: `npx tsc -p tsconfig.json && node dist-all/bench/rolls.js [runs]` (default
 * 8 pairs of runs). SEGLOG_BENCH_ROLL_SEGMENT overrides the small segment size in MiB;
 * SEGLOG_BENCH_ROLL_YIELD=n yields to the event loop every n calls (outside the timing), so the
 * background flushes a roll starts run during the appends, as in an async producer. Exits with
 * code 1 when the ratio is under the target.
 *
 * The roll itself, timed inside those runs: `LocalLog.rollAt` (everything the roll does in the
 * appending call) and the `LogSegment.create` in it (the new segment's files), p50 over every roll
 * of the small-segment runs. Then, where this build prepares the next segment's files ahead
 * (src/files/prepared-files.ts), `LogSegment.create` of a segment by name against one whose files
 * were prepared, alternating, SEGLOG_BENCH_ROLL_CREATES (default 60) of each.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Log, type RecordInput } from '../src/index.js';
import { machineLine } from './common.js';
import { LocalLog } from '../src/log/local-log.js';
import { LogSegment, type SegmentOptions } from '../src/segment/log-segment.js';

const MiB = 1024 * 1024;
const RECORDS = 200_000;
const CALL_SIZE = 100;
const VALUE_BYTES = 1024;
const SMALL = Number(process.env.SEGLOG_BENCH_ROLL_SEGMENT ?? 32) * MiB;
const LARGE = 1024 * MiB;
const PAIRS = Number(process.argv[2] ?? 8);
const TARGET = 0.9;

function makeCalls(): RecordInput[][] {
  const calls: RecordInput[][] = [];
  for (let i = 0; i < RECORDS; i += CALL_SIZE) {
    calls.push(Array.from({ length: CALL_SIZE }, (_, j) => ({ key: `key-${i + j}`, value: Buffer.alloc(VALUE_BYTES, (i + j) & 0xff) })));
  }
  return calls;
}

interface Run {
  ms: number;
  segments: number;
  /** Median ms of the calls that rolled, and of the others. */
  rollingCallMs: number;
  otherCallMs: number;
  /** The slowest calls, in ms, slowest first. */
  slowest: number[];
}

/** Turns of the event loop every this many calls (outside the timing), so background flushes run as in an async producer; 0: none. */
const YIELD_EVERY = Number(process.env.SEGLOG_BENCH_ROLL_YIELD ?? 0);

/** One run into a new log with `segmentBytes`: total ms in `append`, and its slowest calls. */
async function run(root: string, name: string, calls: RecordInput[][], segmentBytes: number): Promise<Run> {
  const dir = path.join(root, `${name}-0`);
  const log = Log.open(dir, { segmentBytes, retentionMs: -1 });
  const perCall = new Float64Array(calls.length);
  const rolling: number[] = [];
  const others: number[] = [];
  let total = 0n;
  let segments = 1;
  try {
    for (let i = 0; i < calls.length; i++) {
      const start = process.hrtime.bigint();
      log.append(calls[i]!);
      const ns = process.hrtime.bigint() - start;
      total += ns;
      perCall[i] = Number(ns) / 1e6;
      const count = segmentBytes < LARGE ? log.segments().length : 1;
      (count > segments ? rolling : others).push(perCall[i]!);
      segments = count;
      if (YIELD_EVERY > 0 && i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    segments = log.segments().length;
    return {
      ms: Number(total) / 1e6,
      segments,
      rollingCallMs: rolling.length > 0 ? median(rolling) : NaN,
      otherCallMs: median(others),
      slowest: [...perCall].sort((a, b) => b - a).slice(0, 8),
    };
  } finally {
    log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Durations in ms of every call of `name` on `owner` while the returned stop() has not been called. */
function timeCalls(owner: object, name: string, into: number[]): () => void {
  const target = owner as Record<string, (...args: unknown[]) => unknown>;
  const original = target[name]!;
  target[name] = function (this: unknown, ...args: unknown[]): unknown {
    const start = process.hrtime.bigint();
    try {
      return original.apply(this, args);
    } finally {
      into.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  };
  return () => {
    target[name] = original;
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function pause(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-bench-rolls-'));
  const calls = makeCalls();
  const small: Run[] = [];
  const large: Run[] = [];
  const rollMs: number[] = [];
  const createMs: number[] = [];
  try {
    // A warm-up pair (JIT, file-system paths), not counted; then the order alternates.
    await run(root, 'warm-small', calls, SMALL);
    await run(root, 'warm-large', calls, LARGE);
    for (let r = 0; r < PAIRS; r++) {
      const order: [Run[], number][] = r % 2 === 0 ? [[small, SMALL], [large, LARGE]] : [[large, LARGE], [small, SMALL]];
      for (const [list, bytes] of order) {
        await pause();
        const timed = bytes === SMALL ? [timeCalls(LocalLog.prototype, 'rollAt', rollMs), timeCalls(LogSegment, 'create', createMs)] : [];
        list.push(await run(root, `run${r}-${bytes}`, calls, bytes));
        for (const stop of timed) stop();
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  report(small, large);
  const roll = median(rollMs);
  const create = median(createMs);
  console.log(`  LocalLog.rollAt p50 ${roll.toFixed(3)} ms over ${rollMs.length} rolls; its LogSegment.create p50 ${create.toFixed(3)} ms, the rest ~${(roll - create).toFixed(3)} ms`);
  await benchCreates();
}

/** `LogSegment.create` by name against with prepared files, alternating (builds that prepare them only). */
async function benchCreates(): Promise<void> {
  const module = '../src/files/prepared-files.js';
  let prepared: { PreparedSegmentFiles: { start(dir: string, a: number, b: number, r: number): { state(): string; drop(): void } | null } };
  try {
    prepared = (await import(module)) as typeof prepared;
  } catch {
    return; // a build without prepared files
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-bench-creates-'));
  const options: SegmentOptions = { indexIntervalBytes: 4096, maxIndexSize: 10 * MiB, rollJitterMs: 0, writable: true, now: Date.now(), reserveLimit: SMALL };
  const byName: number[] = [];
  const ahead: number[] = [];
  const count = Number(process.env.SEGLOG_BENCH_ROLL_CREATES ?? 60);
  try {
    for (let i = 0; i < 2 * count; i++) {
      const files = prepared.PreparedSegmentFiles.start(dir, 10 * MiB, 10 * MiB - ((10 * MiB) % 12), 4 * MiB);
      if (files === null) return;
      while (files.state() === 'making') await pause();
      const usePrepared = i % 2 === 1;
      const start = process.hrtime.bigint();
      // Called loosely: the same file runs against builds whose `create` takes no prepared files.
      const segment = (LogSegment.create as (...args: unknown[]) => LogSegment)(dir, i * 1000, options, '', usePrepared ? files : undefined);
      (usePrepared ? ahead : byName).push(Number(process.hrtime.bigint() - start) / 1e6);
      files.drop();
      segment.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`  LogSegment.create p50: files created by name ${median(byName).toFixed(3)} ms, files prepared ahead ${median(ahead).toFixed(3)} ms (${count} each, alternating)`);
}

function report(small: Run[], large: Run[]): void {
  const smallMs = median(small.map((r) => r.ms));
  const largeMs = median(large.map((r) => r.ms));
  const rolls = small[0]!.segments - 1;
  const ratio = largeMs / smallMs;
  console.log(machineLine());
  console.log(`${RECORDS} records of ${VALUE_BYTES} B in calls of ${CALL_SIZE}, ${PAIRS} pairs of runs in alternating order (medians)`);
  console.log(`  segmentBytes ${SMALL / MiB} MiB: ${smallMs.toFixed(1)} ms (${rolls} rolls); runs ${small.map((r) => r.ms.toFixed(0)).join(' ')}`);
  console.log(`  segmentBytes ${LARGE / MiB} MiB: ${largeMs.toFixed(1)} ms (${large[0]!.segments - 1} rolls); runs ${large.map((r) => r.ms.toFixed(0)).join(' ')}`);
  const rollingMs = median(small.map((r) => r.rollingCallMs));
  const otherMs = median(small.map((r) => r.otherCallMs));
  console.log(`  ${SMALL / MiB} MiB: a call that rolled ${rollingMs.toFixed(3)} ms, any other call ${otherMs.toFixed(3)} ms (medians): a roll costs the appender ~${(rollingMs - otherMs).toFixed(3)} ms`);
  console.log(`  slowest calls, median over runs (ms): ${SMALL / MiB} MiB ${medianSlowest(small)}; ${LARGE / MiB} MiB ${medianSlowest(large)}`);
  console.log(`  median of the pairs' ratios: ${median(small.map((r, i) => large[i]!.ms / r.ms)).toFixed(3)}`);
  console.log(`${SMALL / MiB} MiB / ${LARGE / MiB} MiB throughput: ${(ratio * 100).toFixed(1)}% (target >= ${TARGET * 100}%)`);
  if (ratio < TARGET) process.exitCode = 1;
}

function medianSlowest(runs: Run[]): string {
  return runs[0]!.slowest.map((_, k) => median(runs.map((r) => r.slowest[k]!)).toFixed(2)).join(' ');
}

await main();
