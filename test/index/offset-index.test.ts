import fs from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  CorruptIndexError,
  InvalidArgumentError,
  LogClosedError,
  OffsetOverflowError,
  ReadOnlyLogError,
} from '../../src/errors.js';
import { OffsetIndex, type OffsetPosition } from '../../src/index/offset-index.js';
import { indexPath, int32s, patchFile, tempDir } from './helpers.js';

const BASE = 45;

function newIndex(maxIndexSize = 30 * 8, dir = tempDir()): OffsetIndex {
  return new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize });
}

/** The model: the entry with the largest offset <= target, else (base, 0). */
function modelLookup(entries: OffsetPosition[], target: number): OffsetPosition {
  let found: OffsetPosition = { offset: BASE, position: 0 };
  for (const e of entries) if (e.offset <= target) found = e;
  return found;
}

describe('OffsetIndex', () => {
  it('preallocates a new file to maxIndexSize rounded down to whole entries, with no entries', () => {
    const idx = newIndex(30 * 8 + 5);
    expect(idx.entries).toBe(0);
    expect(idx.maxEntries).toBe(30);
    expect(idx.fileLength).toBe(240);
    expect(fs.statSync(idx.file).size).toBe(240);
    expect(idx.lastOffset).toBe(BASE);
    expect(idx.isFull()).toBe(false);
    idx.close();
  });

  it('rejects a max index size smaller than one entry', () => {
    const dir = tempDir();
    expect(() => new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 7 })).toThrow(
      InvalidArgumentError,
    );
    expect(fs.existsSync(indexPath(dir, BASE, '.index'))).toBe(false);
  });

  it('returns (baseOffset, 0) from an empty index', () => {
    const idx = newIndex();
    expect(idx.lookup(BASE)).toEqual({ offset: BASE, position: 0 });
    expect(idx.lookup(BASE + 1000)).toEqual({ offset: BASE, position: 0 });
    expect(idx.lookupPosition(BASE + 1000)).toBe(0);
    idx.close();
  });

  it('finds the largest entry <= the target', () => {
    const idx = newIndex();
    idx.append(BASE + 5, 100);
    idx.append(BASE + 9, 250);
    idx.append(BASE + 20, 900);
    expect(idx.lookup(BASE)).toEqual({ offset: BASE, position: 0 });
    expect(idx.lookup(BASE + 4)).toEqual({ offset: BASE, position: 0 });
    expect(idx.lookup(BASE + 5)).toEqual({ offset: BASE + 5, position: 100 });
    expect(idx.lookup(BASE + 8)).toEqual({ offset: BASE + 5, position: 100 });
    expect(idx.lookup(BASE + 9)).toEqual({ offset: BASE + 9, position: 250 });
    expect(idx.lookup(BASE + 19)).toEqual({ offset: BASE + 9, position: 250 });
    expect(idx.lookup(BASE + 20)).toEqual({ offset: BASE + 20, position: 900 });
    expect(idx.lookup(Number.MAX_SAFE_INTEGER)).toEqual({ offset: BASE + 20, position: 900 });
    expect(idx.lookup(0)).toEqual({ offset: BASE, position: 0 });
    expect(idx.lookupPosition(BASE + 10)).toBe(250);
    expect(idx.lastOffset).toBe(BASE + 20);
    expect(idx.entry(1)).toEqual({ offset: BASE + 9, position: 250 });
    expect(() => idx.entry(3)).toThrow(InvalidArgumentError);
    expect(() => idx.entry(-1)).toThrow(InvalidArgumentError);
    idx.close();
  });

  it('writes big-endian relative offsets and positions, and trims the file on close', () => {
    const idx = newIndex();
    idx.append(BASE + 5, 4096);
    idx.append(BASE + 0x01020304, 0x7fffffff);
    idx.close();
    const bytes = fs.readFileSync(idx.file);
    expect(bytes.length).toBe(16);
    expect(bytes).toEqual(
      Buffer.from([0, 0, 0, 5, 0, 0, 0x10, 0, 0x01, 0x02, 0x03, 0x04, 0x7f, 0xff, 0xff, 0xff]),
    );
  });

  it('reopens an existing file with entries = length / 8', () => {
    const dir = tempDir();
    const idx = newIndex(30 * 8, dir);
    for (let i = 1; i <= 7; i++) idx.append(BASE + i * 3, i * 100);
    idx.close();
    expect(fs.statSync(idx.file).size).toBe(7 * 8);
    const again = new OffsetIndex(idx.file, BASE, { maxIndexSize: 30 * 8 });
    expect(again.entries).toBe(7);
    expect(again.maxEntries).toBe(7);
    expect(again.isFull()).toBe(true);
    expect(again.lastOffset).toBe(BASE + 21);
    expect(again.lookup(BASE + 10)).toEqual({ offset: BASE + 9, position: 300 });
    // An active segment gets its room back, then appends continue.
    expect(again.resize(30 * 8)).toBe(true);
    expect(again.resize(30 * 8)).toBe(false);
    again.append(BASE + 22, 800);
    expect(again.entries).toBe(8);
    again.close();
    expect(fs.statSync(idx.file).size).toBe(8 * 8);
  });

  it('enforces the append rules', () => {
    const idx = newIndex(3 * 8);
    idx.append(BASE + 1, 10);
    expect(() => idx.append(BASE + 1, 20)).toThrow(InvalidArgumentError);
    expect(() => idx.append(BASE, 20)).toThrow(InvalidArgumentError);
    expect(() => idx.append(BASE + 2, -1)).toThrow(InvalidArgumentError);
    expect(() => idx.append(BASE + 2, 2 ** 31)).toThrow(InvalidArgumentError);
    expect(() => idx.append(BASE + 2, 1.5)).toThrow(InvalidArgumentError);
    expect(() => idx.append(BASE + 2 ** 31, 30)).toThrow(OffsetOverflowError);
    expect(idx.entries).toBe(1);
    idx.append(BASE + 2, 20);
    idx.append(BASE + 2 ** 31 - 1, 30);
    expect(idx.isFull()).toBe(true);
    expect(() => idx.append(BASE + 2 ** 31, 40)).toThrow(InvalidArgumentError); // full comes first
    expect(idx.lookup(Number.MAX_SAFE_INTEGER)).toEqual({ offset: BASE + 2 ** 31 - 1, position: 30 });
    idx.close();
  });

  it('rejects an offset below the base offset even when empty', () => {
    const idx = newIndex();
    expect(() => idx.append(BASE - 1, 0)).toThrow(OffsetOverflowError);
    idx.close();
  });

  it('truncates by Kafka rules: all, exact entry and after, after the next smaller one, none', () => {
    const idx = newIndex(10 * 8);
    // Offsets base+1 .. base+9, position = relative offset.
    for (let i = 1; i < 10; i++) idx.append(BASE + i, i);

    idx.truncateTo(BASE + 11); // past the end: nothing changes
    expect(idx.entries).toBe(9);
    expect(idx.lookup(BASE + 10)).toEqual({ offset: BASE + 9, position: 9 });

    idx.truncateTo(BASE + 9); // exact entry: it goes too
    expect(idx.entries).toBe(8);
    expect(idx.lookup(BASE + 10)).toEqual({ offset: BASE + 8, position: 8 });
    expect(idx.lastOffset).toBe(BASE + 8);

    idx.truncateTo(BASE + 5);
    expect(idx.entries).toBe(4);
    expect(idx.lookup(BASE + 10)).toEqual({ offset: BASE + 4, position: 4 });

    idx.truncateTo(BASE); // nothing <= target: everything goes
    expect(idx.entries).toBe(0);
    expect(idx.lookup(BASE + 10)).toEqual({ offset: BASE, position: 0 });
    expect(idx.lastOffset).toBe(BASE);
    idx.close();
  });

  it('truncates between entries, keeping the next smaller one', () => {
    const idx = newIndex();
    idx.append(BASE + 10, 100);
    idx.append(BASE + 20, 200);
    idx.append(BASE + 30, 300);
    idx.truncateTo(BASE + 25);
    expect(idx.entries).toBe(2);
    expect(idx.lastOffset).toBe(BASE + 20);
    // The dropped slot is zeroed in the file.
    idx.closeWithoutTrim();
    expect(fs.readFileSync(idx.file).subarray(16, 24)).toEqual(Buffer.alloc(8));
  });

  it('reset drops every entry and restores the full size', () => {
    const idx = newIndex(10 * 8);
    for (let i = 1; i <= 4; i++) idx.append(BASE + i, i * 10);
    idx.trimToValidSize();
    expect(idx.fileLength).toBe(32);
    idx.reset();
    expect(idx.entries).toBe(0);
    expect(idx.fileLength).toBe(80);
    expect(idx.lastOffset).toBe(BASE);
    idx.closeWithoutTrim();
    expect(fs.readFileSync(idx.file)).toEqual(Buffer.alloc(80));
  });

  it('refuses to resize below its entries', () => {
    const idx = newIndex();
    idx.append(BASE + 1, 1);
    idx.append(BASE + 2, 2);
    expect(() => idx.resize(15)).toThrow(InvalidArgumentError);
    expect(idx.resize(17)).toBe(true); // rounded down to 16
    expect(idx.fileLength).toBe(16);
    expect(idx.isFull()).toBe(true);
    idx.close();
  });

  it('finds an upper bound for a fetch by position', () => {
    const idx = newIndex();
    idx.append(BASE + 10, 1000);
    idx.append(BASE + 20, 2000);
    idx.append(BASE + 30, 3000);
    expect(idx.fetchUpperBoundOffset(0, 500)).toEqual({ offset: BASE + 10, position: 1000 });
    expect(idx.fetchUpperBoundOffset(1000, 1000)).toEqual({ offset: BASE + 20, position: 2000 });
    expect(idx.fetchUpperBoundOffset(1000, 1001)).toEqual({ offset: BASE + 30, position: 3000 });
    expect(idx.fetchUpperBoundOffset(2500, 600)).toBeNull();
    idx.close();
  });

  it('agrees with a sorted-array model on random entries and lookups', () => {
    const dir = tempDir();
    let run = 0;
    fc.assert(
      fc.property(
        // Gaps between indexed offsets and between positions; up to 3000 entries exercises both
        // the warm section (last 1024 entries) and the cold part.
        fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 5000 })), { maxLength: 3000, size: 'max' }),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 200 }),
        (gaps, targets) => {
          const idx = new OffsetIndex(indexPath(dir, BASE + run++, '.index'), BASE, { maxIndexSize: 3000 * 8 });
          const model: OffsetPosition[] = [];
          let offset = BASE;
          let position = 0;
          for (const [offsetGap, positionGap] of gaps) {
            offset += offsetGap;
            position += positionGap;
            idx.append(offset, position);
            model.push({ offset, position });
          }
          for (const target of [...targets, ...model.map((e) => e.offset), ...model.map((e) => e.offset - 1)]) {
            expect(idx.lookup(target)).toEqual(modelLookup(model, target));
          }
          idx.deleteIfExists();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('is unusable after close, and close is idempotent', () => {
    const idx = newIndex();
    idx.append(BASE + 1, 8);
    idx.close();
    idx.close();
    expect(idx.isOpen).toBe(false);
    expect(() => idx.lookup(BASE + 1)).toThrow(LogClosedError);
    expect(() => idx.append(BASE + 2, 16)).toThrow(LogClosedError);
  });

  it('renames its file and keeps working', () => {
    const idx = newIndex();
    idx.append(BASE + 1, 8);
    const renamed = idx.file + '.deleted';
    idx.renameTo(renamed);
    expect(idx.file).toBe(renamed);
    expect(fs.existsSync(renamed)).toBe(true);
    idx.append(BASE + 2, 16);
    expect(idx.lookup(BASE + 5)).toEqual({ offset: BASE + 2, position: 16 });
    idx.close();
    expect(fs.statSync(renamed).size).toBe(16);
    expect(idx.deleteIfExists()).toBe(true);
    expect(idx.deleteIfExists()).toBe(false);
    expect(fs.existsSync(renamed)).toBe(false);
  });

  it('rejects writes in read mode', () => {
    const idx = newIndex();
    idx.append(BASE + 1, 8);
    idx.close();
    const reader = new OffsetIndex(idx.file, BASE, { mode: 'read' });
    expect(() => reader.append(BASE + 2, 16)).toThrow(ReadOnlyLogError);
    expect(() => reader.truncateTo(BASE)).toThrow(ReadOnlyLogError);
    expect(() => reader.resize(80)).toThrow(ReadOnlyLogError);
    expect(() => reader.reset()).toThrow(ReadOnlyLogError);
    reader.close();
    expect(fs.statSync(idx.file).size).toBe(8);
  });

  describe('sanityCheck', () => {
    /** A trimmed file with entries (base+10, 100), (base+20, 200), (base+30, 300). */
    function writeGood(): string {
      const idx = newIndex();
      idx.append(BASE + 10, 100);
      idx.append(BASE + 20, 200);
      idx.append(BASE + 30, 300);
      idx.close();
      return idx.file;
    }

    function check(file: string, options?: Parameters<OffsetIndex['sanityCheck']>[0]): void {
      const idx = new OffsetIndex(file, BASE, { mode: 'read' });
      try {
        idx.sanityCheck(options);
      } finally {
        idx.close();
      }
    }

    it('passes a good index, and an index whose last offset is the base offset', () => {
      const file = writeGood();
      check(file, { fullScan: true, logSize: 301 });
      const single = newIndex();
      single.append(BASE, 0);
      single.close();
      check(single.file, { fullScan: true, logSize: 1 });
    });

    it('fails a length that is not a multiple of 8', () => {
      const file = writeGood();
      fs.appendFileSync(file, Buffer.from([0, 0, 0]));
      expect(() => check(file)).toThrow(CorruptIndexError);
    });

    it('fails a last offset below the base offset', () => {
      const file = writeGood();
      patchFile(file, 16, int32s(-1));
      expect(() => check(file)).toThrow(CorruptIndexError);
    });

    it('fails a first offset below the base offset', () => {
      const file = writeGood();
      patchFile(file, 0, int32s(-5));
      expect(() => check(file)).toThrow(CorruptIndexError);
    });

    it('fails offsets that do not increase from first to last', () => {
      const file = writeGood();
      patchFile(file, 16, int32s(10));
      expect(() => check(file)).toThrow(CorruptIndexError);
    });

    it('fails a middle entry out of order only with a full scan', () => {
      const file = writeGood();
      patchFile(file, 8, int32s(40));
      expect(() => check(file)).not.toThrow();
      expect(() => check(file, { fullScan: true })).toThrow(CorruptIndexError);
    });

    it('fails a position beyond the log size', () => {
      const file = writeGood();
      expect(() => check(file, { logSize: 300 })).toThrow(CorruptIndexError);
      patchFile(file, 12, int32s(5000)); // middle entry's position
      expect(() => check(file, { logSize: 1000 })).not.toThrow();
      expect(() => check(file, { logSize: 1000, fullScan: true })).toThrow(CorruptIndexError);
    });

    it('fails a negative position', () => {
      const file = writeGood();
      patchFile(file, 20, int32s(-1));
      expect(() => check(file)).toThrow(CorruptIndexError);
    });
  });
});
