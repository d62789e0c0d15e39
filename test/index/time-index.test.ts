import fs from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CorruptIndexError, InvalidArgumentError, OffsetOverflowError } from '../../src/errors.js';
import { TimeIndex, type TimestampOffset } from '../../src/index/time-index.js';
import { indexPath, int32s, patchFile, tempDir } from './helpers.js';

const BASE = 45;
const T0 = 1_700_000_000_000;

function newIndex(maxIndexSize = 30 * 12, dir = tempDir()): TimeIndex {
  return new TimeIndex(indexPath(dir, BASE, '.timeindex'), BASE, { maxIndexSize });
}

function modelLookup(entries: TimestampOffset[], target: number): TimestampOffset {
  let found: TimestampOffset = { timestamp: -1, offset: BASE };
  for (const e of entries) if (e.timestamp <= target) found = e;
  return found;
}

describe('TimeIndex', () => {
  it('preallocates to whole 12-byte entries and keeps the last slot for roll', () => {
    const idx = newIndex(10 * 1024 * 1024);
    expect(idx.fileLength).toBe(10_485_756);
    expect(idx.maxEntries).toBe(873_813);
    idx.close();

    const small = newIndex(3 * 12);
    expect(small.lastEntry).toEqual({ timestamp: -1, offset: BASE });
    small.maybeAppend(T0, BASE + 1);
    small.maybeAppend(T0 + 1, BASE + 2);
    expect(small.isFull()).toBe(true);
    expect(() => small.maybeAppend(T0 + 2, BASE + 3)).toThrow(InvalidArgumentError);
    small.maybeAppend(T0 + 2, BASE + 3, true); // the reserved slot
    expect(small.entries).toBe(3);
    expect(() => small.maybeAppend(T0 + 3, BASE + 4, true)).toThrow(InvalidArgumentError);
    small.close();
    expect(fs.statSync(small.file).size).toBe(36);
  });

  it('looks up the largest timestamp <= the target', () => {
    const idx = newIndex();
    idx.maybeAppend(T0 + 10, BASE + 3);
    idx.maybeAppend(T0 + 20, BASE + 7);
    idx.maybeAppend(T0 + 30, BASE + 7);
    expect(idx.lookup(T0)).toEqual({ timestamp: -1, offset: BASE });
    expect(idx.lookup(-1)).toEqual({ timestamp: -1, offset: BASE });
    expect(idx.lookup(T0 + 10)).toEqual({ timestamp: T0 + 10, offset: BASE + 3 });
    expect(idx.lookup(T0 + 25)).toEqual({ timestamp: T0 + 20, offset: BASE + 7 });
    expect(idx.lookup(Number.MAX_SAFE_INTEGER)).toEqual({ timestamp: T0 + 30, offset: BASE + 7 });
    expect(idx.lookupOffset(T0 + 15)).toBe(BASE + 3);
    expect(idx.lookupOffset(0)).toBe(BASE);
    expect(idx.entry(2)).toEqual({ timestamp: T0 + 30, offset: BASE + 7 });
    expect(() => idx.entry(3)).toThrow(InvalidArgumentError);
    idx.close();
  });

  it('follows Kafka append rules', () => {
    const idx = newIndex();
    idx.maybeAppend(-1, BASE + 1); // no timestamp: never indexed
    expect(idx.entries).toBe(0);
    idx.maybeAppend(T0, BASE + 5);
    idx.maybeAppend(T0, BASE + 5); // same entry again (roll/close): ignored
    idx.maybeAppend(T0, BASE + 6); // same timestamp, later offset: ignored
    expect(idx.entries).toBe(1);
    expect(() => idx.maybeAppend(T0 + 1, BASE + 4)).toThrow(InvalidArgumentError); // offset went back
    expect(() => idx.maybeAppend(T0 - 1, BASE + 9)).toThrow(InvalidArgumentError); // timestamp went back
    expect(() => idx.maybeAppend(1.5, BASE + 9)).toThrow(InvalidArgumentError);
    expect(() => idx.maybeAppend(T0 + 1, BASE + 2 ** 31)).toThrow(OffsetOverflowError);
    idx.maybeAppend(T0 + 1, BASE + 5); // same offset, larger timestamp: appended
    expect(idx.lastEntry).toEqual({ timestamp: T0 + 1, offset: BASE + 5 });
    expect(idx.entries).toBe(2);
    idx.close();
  });

  it('rejects an offset below the base offset', () => {
    const idx = newIndex();
    expect(() => idx.maybeAppend(T0, BASE - 1)).toThrow(OffsetOverflowError);
    idx.close();
  });

  it('writes big-endian int64 timestamps and int32 relative offsets', () => {
    const idx = newIndex();
    idx.maybeAppend(1_700_000_000_123, BASE + 5);
    idx.maybeAppend(2 ** 41 + 7, BASE + 0x01020304);
    idx.close();
    const bytes = fs.readFileSync(idx.file);
    expect(bytes.length).toBe(24);
    expect(bytes.subarray(0, 12)).toEqual(Buffer.from('0000018bcfe5687b00000005', 'hex'));
    expect(bytes.readBigInt64BE(0)).toBe(1_700_000_000_123n);
    expect(bytes.readBigInt64BE(12)).toBe(2n ** 41n + 7n);
    expect(bytes.readInt32BE(20)).toBe(0x01020304);
  });

  it('reopens with entries = length / 12 and the last entry read back', () => {
    const idx = newIndex();
    for (let i = 1; i <= 5; i++) idx.maybeAppend(T0 + i * 1000, BASE + i * 2);
    idx.close();
    const again = new TimeIndex(idx.file, BASE, { maxIndexSize: 30 * 12 });
    expect(again.entries).toBe(5);
    expect(again.lastEntry).toEqual({ timestamp: T0 + 5000, offset: BASE + 10 });
    again.resize(30 * 12);
    expect(again.lastEntry).toEqual({ timestamp: T0 + 5000, offset: BASE + 10 });
    again.maybeAppend(T0 + 6000, BASE + 12);
    again.close();
    expect(fs.statSync(idx.file).size).toBe(6 * 12);
  });

  it('truncates by entry offset with the three Kafka cases', () => {
    const idx = newIndex();
    for (let i = 1; i < 10; i++) idx.maybeAppend(T0 + i, BASE + i * 2); // offsets base+2 .. base+18
    idx.truncateTo(BASE + 19);
    expect(idx.entries).toBe(9);
    idx.truncateTo(BASE + 18); // exact
    expect(idx.entries).toBe(8);
    expect(idx.lastEntry).toEqual({ timestamp: T0 + 8, offset: BASE + 16 });
    idx.truncateTo(BASE + 9); // between 8 and 10
    expect(idx.entries).toBe(4);
    expect(idx.lastEntry).toEqual({ timestamp: T0 + 4, offset: BASE + 8 });
    idx.truncateTo(BASE + 1); // before the first
    expect(idx.entries).toBe(0);
    expect(idx.lastEntry).toEqual({ timestamp: -1, offset: BASE });
    idx.maybeAppend(T0, BASE + 1); // a fresh start after emptying
    expect(idx.entries).toBe(1);
    idx.close();
  });

  it('truncating to an offset held by two entries removes both', () => {
    const idx = newIndex();
    idx.maybeAppend(T0 + 1, BASE + 2);
    idx.maybeAppend(T0 + 2, BASE + 4);
    idx.maybeAppend(T0 + 3, BASE + 4);
    idx.maybeAppend(T0 + 4, BASE + 6);
    idx.truncateTo(BASE + 4);
    expect(idx.entries).toBe(1);
    idx.close();
  });

  it('agrees with a sorted-array model on random entries and lookups', () => {
    const dir = tempDir();
    let run = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 20 })), {
          maxLength: 2500,
          size: 'max',
        }),
        fc.array(fc.integer({ min: T0 - 10, max: T0 + 2_000_000_000 }), { minLength: 1, maxLength: 200 }),
        (gaps, targets) => {
          const idx = new TimeIndex(indexPath(dir, BASE + run++, '.timeindex'), BASE, { maxIndexSize: 2600 * 12 });
          const model: TimestampOffset[] = [];
          let timestamp = T0;
          let offset = BASE;
          for (const [tsGap, offsetGap] of gaps) {
            timestamp += tsGap;
            offset += offsetGap;
            idx.maybeAppend(timestamp, offset);
            model.push({ timestamp, offset });
          }
          for (const target of [...targets, ...model.map((e) => e.timestamp), ...model.map((e) => e.timestamp - 1)]) {
            expect(idx.lookup(target)).toEqual(modelLookup(model, target));
          }
          idx.deleteIfExists();
        },
      ),
      { numRuns: 30 },
    );
  });

  describe('sanityCheck', () => {
    /** A trimmed file: (T0+10, base+10), (T0+20, base+20), (T0+30, base+30). */
    function writeGood(): string {
      const idx = newIndex();
      idx.maybeAppend(T0 + 10, BASE + 10);
      idx.maybeAppend(T0 + 20, BASE + 20);
      idx.maybeAppend(T0 + 30, BASE + 30);
      idx.close();
      return idx.file;
    }

    function check(file: string, fullScan = false): void {
      const idx = new TimeIndex(file, BASE, { mode: 'read' });
      try {
        idx.sanityCheck({ fullScan });
      } finally {
        idx.close();
      }
    }

    function timestampBytes(ts: number): Buffer {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(ts));
      return b;
    }

    it('passes a good index', () => {
      check(writeGood(), true);
    });

    it('fails a length that is not a multiple of 12', () => {
      const file = writeGood();
      fs.appendFileSync(file, Buffer.alloc(8));
      expect(() => check(file)).toThrow(CorruptIndexError);
    });

    it('fails a last timestamp not above the first', () => {
      const file = writeGood();
      patchFile(file, 24, timestampBytes(T0 + 10));
      expect(() => check(file)).toThrow(CorruptIndexError);
      patchFile(file, 24, timestampBytes(T0 + 5));
      expect(() => check(file)).toThrow(CorruptIndexError);
    });

    it('fails an offset below the base offset', () => {
      const file = writeGood();
      patchFile(file, 32, int32s(-1));
      expect(() => check(file)).toThrow(CorruptIndexError);
    });

    it('fails a middle entry out of order only with a full scan', () => {
      const file = writeGood();
      patchFile(file, 12, timestampBytes(T0 + 40));
      expect(() => check(file)).not.toThrow();
      expect(() => check(file, true)).toThrow(CorruptIndexError);
    });

    it('fails offsets that go back, with a full scan', () => {
      const file = writeGood();
      patchFile(file, 20, int32s(5));
      expect(() => check(file)).not.toThrow();
      expect(() => check(file, true)).toThrow(CorruptIndexError);
    });
  });
});
