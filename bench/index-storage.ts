/**
 * The writer's index storage with and without seglog's addon, in one process on the same file
 * (src/index/storage.ts): a shared mapping (`MmapStorage`) against positional reads and writes
 * (`PwriteStorage`, the fallback). Appends store one 8-byte offset-index entry at a time, as
 * `OffsetIndex.append` does; lookups binary-search the entries of a full 10 MiB index, as
 * `OffsetIndex.lookup` does. Prints each figure and the same-run ratio.
 * Run: `npx tsc -p tsconfig.json && node dist-all/bench/index-storage.js`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeAddon } from '../src/files/native.js';
import { MmapStorage } from '../src/index/mmap-storage.js';
import { PwriteStorage } from '../src/index/positional-storage.js';
import type { IndexStorage } from '../src/index/storage.js';
import { machineLine } from './common.js';

const SIZE = 10 * 1024 * 1024;
const ENTRIES = SIZE / 8;
const LOOKUPS = 200_000;
const ROUNDS = 5;

function appendAll(storage: IndexStorage): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ENTRIES; i++) {
    storage.setInt32(i * 8, i);
    storage.setInt32(i * 8 + 4, i * 4096);
  }
  return Number(process.hrtime.bigint() - start) / ENTRIES;
}

function lookups(storage: IndexStorage): number {
  let seed = 12345;
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let n = 0; n < LOOKUPS; n++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const target = seed % ENTRIES;
    let lo = 0;
    let hi = ENTRIES - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (storage.int32(mid * 8) <= target) lo = mid;
      else hi = mid - 1;
    }
    sink += storage.int32(lo * 8 + 4);
  }
  if (sink === 0.5) console.log(sink);
  return Number(process.hrtime.bigint() - start) / LOOKUPS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const addon = nativeAddon();
if (addon === null) throw new Error('index-storage bench: the addon does not load here (npm run build:native)');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-index-bench-'));
try {
  const results = { mmap: { append: [] as number[], lookup: [] as number[] }, pwrite: { append: [] as number[], lookup: [] as number[] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 === 0 ? (['mmap', 'pwrite'] as const) : (['pwrite', 'mmap'] as const)) {
      const file = path.join(dir, `${kind}-${round}.index`);
      const { storage } = kind === 'mmap' ? MmapStorage.open(file, SIZE, addon) : PwriteStorage.open(file, SIZE);
      results[kind].append.push(appendAll(storage));
      results[kind].lookup.push(lookups(storage));
      storage.release();
      fs.rmSync(file);
    }
  }
  const line = (what: 'append' | 'lookup'): string => {
    const m = median(results.mmap[what]);
    const p = median(results.pwrite[what]);
    return `${what.padEnd(8)} mmap ${m.toFixed(0)} ns   pwrite ${p.toFixed(0)} ns   pwrite/mmap ${(p / m).toFixed(1)}x`;
  };
  console.log(`index storage, ${ENTRIES} entries (10 MiB), ${LOOKUPS} lookups, median of ${ROUNDS} interleaved rounds; ${machineLine()}`);
  console.log(line('append'));
  console.log(line('lookup'));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
