import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, Log } from '../../../src/index.js';
import { rawBatches, rawOffsetIndex } from '../../support/raw-log.js';
import {
  SMALL,
  actionsOf,
  appendBatches,
  contents,
  crashImage,
  expectRecords,
  flipBit,
  logFiles,
  markUnclean,
  overwrite,
  partitionDir,
  segmentFile,
  writeRecoveryPoint,
} from './helpers.js';

/**
 * The ways a disk and a crash damage a partition directory, one at a time. Each reopen must keep
 * exactly the longest valid prefix of the log, report every repair (file and position), and
 * leave a log that appends at the right offset and reopens cleanly.
 */

const INDEXES = /\.(index|timeindex)$/;

/** A crash image of a log of `batches` batches of 3 records in SMALL segments (`flushed`: after a flushSync), and the writer's own (closed) directory. */
function crashedLog(batches: number, flushed = false): { image: string; original: string } {
  const original = partitionDir();
  const log = Log.open(original, SMALL);
  appendBatches(log, batches);
  // The background flushes the rolls started (which trim the sealed segments' indexes) ran.
  if (flushed) log.flushSync();
  const image = crashImage(original);
  log.close();
  return { image, original };
}

/** A cleanly closed log of `batches` batches of 3 records in SMALL segments. */
function closedLog(batches: number): string {
  const dir = partitionDir();
  const log = Log.open(dir, SMALL);
  appendBatches(log, batches);
  log.close();
  return dir;
}

/** Appends two more batches, closes, reopens: the log works on as if nothing had happened. */
function expectUsable(dir: string, end: number): void {
  const log = Log.open(dir, SMALL);
  expect(log.recovery.cleanShutdown).toBe(true);
  expect(log.recovery.segmentsRecovered).toBe(0);
  appendBatches(log, 2);
  expectRecords(log, end + 6);
  log.close();
}

describe('a torn or garbage tail of the active segment (crash)', () => {
  it('cuts a batch torn in the middle and appends from its base offset', () => {
    const { image } = crashedLog(40);
    const active = logFiles(image).at(-1)!;
    const last = rawBatches(active).at(-1)!;
    const kept = Math.floor(last.size / 2);
    fs.truncateSync(active, last.position + kept);

    const log = Log.open(image, SMALL);
    expect(log.recovery.cleanShutdown).toBe(false);
    expectRecords(log, last.baseOffset);
    expect(log.recovery.truncatedBytes).toBe(kept);
    expect(actionsOf(log, 'truncated')).toEqual([
      expect.objectContaining({ file: active, position: last.position, offset: last.baseOffset }),
    ]);
    expect(fs.statSync(active).size).toBe(last.position);
    log.close();
    expectUsable(image, last.baseOffset);
  });

  it.each([
    ['random bytes', crypto.randomBytes(100)],
    ['zeros (blocks allocated, never written)', Buffer.alloc(4096)],
    ['a copy of the last batch with one byte changed', null],
  ])('cuts %s appended after the last batch', (_what, bytes) => {
    const { image } = crashedLog(40);
    const active = logFiles(image).at(-1)!;
    const size = fs.statSync(active).size;
    let tail = bytes;
    if (tail === null) {
      const last = rawBatches(active).at(-1)!;
      tail = fs.readFileSync(active).subarray(last.position, last.position + last.size);
      tail[tail.length - 1] = tail[tail.length - 1]! ^ 0xff;
    }
    fs.appendFileSync(active, tail);

    const log = Log.open(image, SMALL);
    expectRecords(log, 120);
    expect(log.recovery.truncatedBytes).toBe(tail.length);
    expect(actionsOf(log, 'truncated')).toEqual([expect.objectContaining({ file: active, position: size, offset: 120 })]);
    expect(fs.statSync(active).size).toBe(size);
    log.close();
    expectUsable(image, 120);
  });

  it('cuts a torn tail even after a clean shutdown (the active tail is always walked)', () => {
    const dir = closedLog(40);
    const active = logFiles(dir).at(-1)!;
    const last = rawBatches(active).at(-1)!;
    fs.truncateSync(active, last.position + 30);
    const log = Log.open(dir, SMALL);
    expect(log.recovery.cleanShutdown).toBe(true);
    expectRecords(log, last.baseOffset);
    expect(actionsOf(log, 'truncated')).toEqual([expect.objectContaining({ file: active, position: last.position })]);
    log.close();
    expectUsable(dir, last.baseOffset);
  });
});

describe('a damaged batch in the middle (crash, nothing flushed)', () => {
  const damages: [string, (file: string, batch: { position: number; size: number }) => void, RegExp][] = [
    ['one flipped bit in a record', (f, b) => flipBit(f, b.position + b.size - 5, 3), /CRC mismatch/],
    ['one flipped bit in the CRC-covered header', (f, b) => flipBit(f, b.position + 22, 0), /CRC mismatch/],
    ['a wrong magic byte', (f, b) => overwrite(f, b.position + 16, Buffer.from([1])), /magic/],
    ['a length field too small', (f, b) => overwrite(f, b.position + 8, int32(b.size - 12 - 20)), /CRC mismatch/],
    ['a length field below the minimum', (f, b) => overwrite(f, b.position + 8, int32(3)), /below/],
    ['a base offset going backwards', (f, b) => overwrite(f, b.position, Buffer.alloc(8)), /backwards/],
  ];

  it.each(damages)('keeps the prefix before %s and deletes the later segments', (_what, damage, reason) => {
    const { image } = crashedLog(100);
    writeRecoveryPoint(image, 0);
    const files = logFiles(image);
    expect(files.length).toBeGreaterThanOrEqual(4);
    const target = files[1]!;
    const batches = rawBatches(target);
    const hit = batches[Math.floor(batches.length / 2)]!;
    damage(target, hit);

    const log = Log.open(image, SMALL);
    expectRecords(log, hit.baseOffset);
    expect(logFiles(image)).toEqual(files.slice(0, 2));
    for (const later of files.slice(2)) {
      for (const suffix of ['.log', '.index', '.timeindex']) expect(fs.existsSync(later.replace(/\.log$/, suffix))).toBe(false);
    }
    const cut = actionsOf(log, 'truncated');
    expect(cut).toEqual([expect.objectContaining({ file: target, position: hit.position, offset: hit.baseOffset })]);
    expect(cut[0]!.detail).toMatch(reason);
    expect(actionsOf(log, 'deleted-after-corruption').map((a) => a.file)).toEqual(files.slice(2));
    expect(log.recovery.segmentsRecovered).toBe(2);
    log.close();
    expectUsable(image, hit.baseOffset);
  });

  it('recovers only from the segment holding the recovery point', () => {
    const { image } = crashedLog(60, true);
    const files = logFiles(image);
    const bases = files.map((f) => Number(path.basename(f).slice(0, 20)));
    writeRecoveryPoint(image, bases[2]! + 1);
    const log = Log.open(image, SMALL);
    expect(log.recovery.recoveryPoint).toBe(bases[2]! + 1);
    expect(actionsOf(log, 'rebuilt-indexes').map((a) => a.file)).toEqual(files.slice(2));
    expectRecords(log, 180);
    log.close();
  });

  it('reads a damaged batch below the recovery point as CorruptRecordError naming file and position (it is trusted at open)', () => {
    const dir = closedLog(60);
    const first = logFiles(dir)[0]!;
    const hit = rawBatches(first)[2]!;
    flipBit(first, hit.position + hit.size - 1);
    const log = Log.open(dir, SMALL);
    expect(log.recovery.segmentsRecovered).toBe(0);
    let caught: unknown;
    try {
      log.read(hit.baseOffset);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CorruptRecordError);
    expect(caught).toMatchObject({ file: first, position: hit.position });
    log.close();
  });
});

describe('damaged index files are rebuilt from the log, never trusted, never fatal', () => {
  /** Runs `damage` on segment 1 of a cleanly closed log; after reopen and close the indexes must equal the writer's. */
  function rebuiltAfter(damage: (dir: string, base: number) => void, detail: RegExp): void {
    const dir = closedLog(60);
    const reference = contents(dir, INDEXES);
    const base = Number(path.basename(logFiles(dir)[1]!).slice(0, 20));
    damage(dir, base);
    const log = Log.open(dir, SMALL);
    expect(log.recovery.cleanShutdown).toBe(true);
    const rebuilt = actionsOf(log, 'rebuilt-indexes');
    expect(rebuilt).toEqual([expect.objectContaining({ file: segmentFile(dir, base, '.log') })]);
    expect(rebuilt[0]!.detail).toMatch(detail);
    expect(log.recovery.truncatedBytes).toBe(0);
    expectRecords(log, 180);
    for (let i = 0; i < 180; i += 7) expect(log.offsetForTimestamp(1_000_000 + i * 10)).toBe(i);
    log.close();
    expect(contents(dir, INDEXES)).toEqual(reference);
    expectUsable(dir, 180);
  }

  it('rebuilds a missing .index', () => rebuiltAfter((dir, base) => fs.rmSync(segmentFile(dir, base, '.index')), /\.index is missing/));
  it('rebuilds a missing .timeindex', () => rebuiltAfter((dir, base) => fs.rmSync(segmentFile(dir, base, '.timeindex')), /\.timeindex is missing/));
  it('rebuilds an .index whose length is not a multiple of 8', () =>
    rebuiltAfter((dir, base) => truncateBy(segmentFile(dir, base, '.index'), 3), /not a multiple of 8/));
  it('rebuilds a .timeindex whose length is not a multiple of 12', () =>
    rebuiltAfter((dir, base) => truncateBy(segmentFile(dir, base, '.timeindex'), 5), /not a multiple of 12/));
  it('rebuilds an .index whose entries go backwards', () =>
    rebuiltAfter((dir, base) => overwriteLastEntry(segmentFile(dir, base, '.index'), 8, int32(0)), /not above its first offset/));
  it('rebuilds a .timeindex whose timestamps go backwards', () =>
    rebuiltAfter((dir, base) => overwriteLastEntry(segmentFile(dir, base, '.timeindex'), 12, Buffer.alloc(8)), /not above its first timestamp/));
  it('rebuilds an .index whose last entry points past the log', () =>
    rebuiltAfter((dir, base) => {
      const file = segmentFile(dir, base, '.index');
      const at = fs.statSync(file).size - 4;
      overwrite(file, at, int32(fs.statSync(segmentFile(dir, base, '.log')).size + 100));
    }, /outside the log/));
  it('rebuilds an index whose last offset lies in the next segment', () =>
    rebuiltAfter((dir, base) => overwriteLastEntry(segmentFile(dir, base, '.timeindex'), 12, Buffer.concat([int32(0x7fff), int32(0x7fffffff), int32(0x7fffffff)])), /next segment's base offset/));
  it('rebuilds an index left untrimmed (a zero-filled preallocated tail)', () =>
    rebuiltAfter((dir, base) => fs.appendFileSync(segmentFile(dir, base, '.index'), Buffer.alloc(800)), /not above its first offset/));

  it('rebuilds the zeroed entries of a preallocated active index after a crash, equal to what the writer wrote', () => {
    const { image, original } = crashedLog(40);
    const active = logFiles(image).at(-1)!;
    const indexFile = active.replace(/\.log$/, '.index');
    const entries = rawOffsetIndex(indexFile, Number(path.basename(active).slice(0, 20))).length;
    expect(entries).toBeGreaterThan(2);
    expect(fs.statSync(indexFile).size).toBe(1200); // preallocated, as the crash left it
    overwrite(indexFile, 8, Buffer.alloc(1200 - 8)); // zero everything after the first entry
    const log = Log.open(image, SMALL);
    expect(actionsOf(log, 'rebuilt-indexes').map((a) => a.file)).toContain(active);
    expectRecords(log, 120);
    log.close();
    expect(contents(image, INDEXES)).toEqual(contents(original, INDEXES));
  });

  it('keeps reading correctly from an index cut to fewer whole entries (a valid prefix; not detected cheaply)', () => {
    const dir = closedLog(60);
    const base = Number(path.basename(logFiles(dir)[1]!).slice(0, 20));
    const file = segmentFile(dir, base, '.index');
    fs.truncateSync(file, 8);
    const log = Log.open(dir, SMALL);
    expect(log.recovery.actions).toEqual([]);
    expectRecords(log, 180);
    log.close();
  });
});

describe('checkpoints', () => {
  it('recovers everything after a crash when the recovery-point checkpoint is garbage', () => {
    const { image } = crashedLog(60);
    fs.writeFileSync(path.join(image, 'recovery-point-offset-checkpoint'), 'not a checkpoint\n');
    const log = Log.open(image, SMALL);
    expect(log.recovery.recoveryPoint).toBe(0);
    expect(log.recovery.segmentsRecovered).toBe(logFiles(image).length);
    expectRecords(log, 180);
    log.close();
  });

  it('ignores a recovery point past the end of the log (files lost behind it) and keeps what is there', () => {
    const dir = closedLog(60);
    markUnclean(dir);
    writeRecoveryPoint(dir, 10_000);
    const files = logFiles(dir);
    for (const f of files.slice(-1)) fs.truncateSync(f, 0);
    const log = Log.open(dir, SMALL);
    const end = Number(path.basename(files.at(-1)!).slice(0, 20));
    expectRecords(log, end);
    log.close();
  });
});

function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

function truncateBy(file: string, bytes: number): void {
  fs.truncateSync(file, fs.statSync(file).size - bytes);
}

function overwriteLastEntry(file: string, entrySize: number, bytes: Buffer): void {
  overwrite(file, fs.statSync(file).size - entrySize, bytes);
}
