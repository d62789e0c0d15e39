import fs from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError, OffsetOverflowError } from '../../src/errors.js';
import { MAX_RELATIVE_OFFSET } from '../../src/index/abstract-index.js';
import { OffsetIndex } from '../../src/index/offset-index.js';
import { TimeIndex } from '../../src/index/time-index.js';
import { indexPath, tempDir } from './helpers.js';

const BASE = 45;
const T0 = 1_700_000_000_000;

describe('relative offsets', () => {
  // [offset - baseOffset, representable]
  const table: [number, boolean][] = [
    [-(2 ** 31) - 1, false],
    [-(2 ** 31), false],
    [-1, false],
    [0, true],
    [1, true],
    [2 ** 31 - 2, true],
    [2 ** 31 - 1, true],
    [2 ** 31, false],
    [2 ** 32 - 1, false],
    [2 ** 32, false],
    [0.5, false],
  ];

  for (const base of [BASE, 2 ** 40]) {
    for (const [delta, ok] of table) {
      it(`base ${base}, offset base${delta < 0 ? '' : '+'}${delta}: ${ok ? 'stored' : 'overflow'}`, () => {
        const dir = tempDir();
        const idx = new OffsetIndex(indexPath(dir, base, '.index'), base, { maxIndexSize: 64 });
        const offset = base + delta;
        expect(idx.canAppendOffset(offset)).toBe(ok);
        if (ok) {
          expect(idx.relativeOffset(offset)).toBe(delta);
          idx.append(offset, 0);
          expect(idx.lookup(offset)).toEqual({ offset, position: 0 });
          expect(idx.lastOffset).toBe(offset);
        } else {
          expect(() => idx.relativeOffset(offset)).toThrow(OffsetOverflowError);
          expect(() => idx.append(offset, 0)).toThrow(OffsetOverflowError);
          expect(idx.entries).toBe(0);
        }
        idx.close();
      });
    }
  }

  it('MAX_RELATIVE_OFFSET is 2^31 - 1', () => {
    expect(MAX_RELATIVE_OFFSET).toBe(2 ** 31 - 1);
  });
});

describe('opening', () => {
  it('rejects a bad base offset or mode', () => {
    const dir = tempDir();
    const file = indexPath(dir, BASE, '.index');
    expect(() => new OffsetIndex(file, -1)).toThrow(InvalidArgumentError);
    expect(() => new OffsetIndex(file, 1.5)).toThrow(InvalidArgumentError);
    expect(() => new OffsetIndex(file, BASE, { mode: 'append' as 'write' })).toThrow(InvalidArgumentError);
    expect(() => new TimeIndex(file, BASE, { maxIndexSize: 11 })).toThrow(InvalidArgumentError);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('opens an existing empty file as a full index with no slots (Kafka: the segment resizes it)', () => {
    const dir = tempDir();
    const file = indexPath(dir, BASE, '.index');
    fs.writeFileSync(file, Buffer.alloc(0));
    const idx = new OffsetIndex(file, BASE, { maxIndexSize: 80 });
    expect(idx.entries).toBe(0);
    expect(idx.maxEntries).toBe(0);
    expect(idx.isFull()).toBe(true);
    expect(idx.lookup(BASE + 3)).toEqual({ offset: BASE, position: 0 });
    idx.resize(80);
    idx.append(BASE + 3, 7);
    idx.close();
    expect(fs.statSync(file).size).toBe(8);
  });

  it('counts whole entries of a length that is not a multiple of the entry size', () => {
    const dir = tempDir();
    const file = indexPath(dir, BASE, '.index');
    fs.writeFileSync(file, Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0]));
    const idx = new OffsetIndex(file, BASE, { mode: 'read' });
    expect(idx.entries).toBe(1);
    expect(idx.fileLength).toBe(11);
    idx.close();
  });
});

describe('zero-tail detection', () => {
  function untrimmedOffsetIndex(count: number, slots: number): string {
    const dir = tempDir();
    const idx = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: slots * 8 });
    for (let i = 1; i <= count; i++) idx.append(BASE + i * 2, i * 100);
    idx.closeWithoutTrim(); // as a crash would leave it
    return idx.file;
  }

  it('trusts the file length by default, as Kafka does', () => {
    const file = untrimmedOffsetIndex(5, 30);
    const idx = new OffsetIndex(file, BASE, { maxIndexSize: 240 });
    expect(idx.entries).toBe(30);
    idx.closeWithoutTrim();
  });

  it('counts entries up to the zero-filled tail, then appends after them', () => {
    const file = untrimmedOffsetIndex(5, 30);
    const idx = new OffsetIndex(file, BASE, { maxIndexSize: 240, detectZeroTail: true });
    expect(idx.entries).toBe(5);
    expect(idx.maxEntries).toBe(30);
    expect(idx.lastOffset).toBe(BASE + 10);
    expect(idx.lookup(BASE + 1000)).toEqual({ offset: BASE + 10, position: 500 });
    idx.append(BASE + 11, 600);
    idx.close();
    expect(fs.statSync(file).size).toBe(6 * 8);
  });

  it('finds no entry in a freshly preallocated file, and every entry in a full one', () => {
    for (const [count, slots] of [[0, 30], [1, 30], [29, 30], [30, 30]] as const) {
      const reader = new OffsetIndex(untrimmedOffsetIndex(count, slots), BASE, { mode: 'read', detectZeroTail: true });
      expect(reader.entries).toBe(count);
      reader.close();
    }
  });

  it('keeps an entry (baseOffset, 0) in the first slot when entries follow it', () => {
    const dir = tempDir();
    const idx = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 80 });
    idx.append(BASE, 0);
    idx.append(BASE + 4, 300);
    idx.closeWithoutTrim();
    const reader = new OffsetIndex(idx.file, BASE, { mode: 'read', detectZeroTail: true });
    expect(reader.entries).toBe(2);
    reader.close();
  });

  it('does not count stale entries left beyond a truncation', () => {
    const dir = tempDir();
    const idx = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 80 });
    for (const o of [10, 20, 30, 40]) idx.append(BASE + o, o * 10);
    idx.truncateTo(BASE + 25);
    idx.append(BASE + 22, 220);
    idx.closeWithoutTrim();
    const reader = new OffsetIndex(idx.file, BASE, { mode: 'read', detectZeroTail: true });
    expect(reader.entries).toBe(3);
    expect(reader.lookup(BASE + 100)).toEqual({ offset: BASE + 22, position: 220 });
    reader.close();
  });

  it('works for the time index', () => {
    const dir = tempDir();
    const idx = new TimeIndex(indexPath(dir, BASE, '.timeindex'), BASE, { maxIndexSize: 30 * 12 });
    for (let i = 1; i <= 7; i++) idx.maybeAppend(T0 + i, BASE + i);
    idx.closeWithoutTrim();
    const again = new TimeIndex(idx.file, BASE, { maxIndexSize: 30 * 12, detectZeroTail: true });
    expect(again.entries).toBe(7);
    expect(again.lastEntry).toEqual({ timestamp: T0 + 7, offset: BASE + 7 });
    again.maybeAppend(T0 + 8, BASE + 8);
    again.close();
    expect(fs.statSync(idx.file).size).toBe(8 * 12);
  });

  it('finds exactly the entries written, for any count and size', () => {
    const dir = tempDir();
    let run = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.double({ min: 0, max: 1, noNaN: true }), (slots, fill) => {
        const count = Math.floor(slots * fill);
        const idx = new TimeIndex(indexPath(dir, run++, '.timeindex'), 0, { maxIndexSize: slots * 12 });
        for (let i = 0; i < count; i++) idx.maybeAppend(i + 1, i, true);
        idx.closeWithoutTrim();
        for (const mode of ['read', 'write'] as const) {
          const reader = new TimeIndex(idx.file, 0, { mode, detectZeroTail: true });
          // A reader leaves out the last entry of a file that goes on past it: a live writer may be
          // writing it (see TIME_ENTRY_BYTES in src/index/memory-storage.ts).
          expect(reader.entries).toBe(mode === 'read' && count > 0 && count < slots ? count - 1 : count);
          reader.closeWithoutTrim();
        }
        fs.rmSync(idx.file);
      }),
      { numRuns: 60 },
    );
  });
});

describe('file handling', () => {
  it('close trims to entries * entrySize and is idempotent; deleteIfExists after close works', () => {
    const dir = tempDir();
    const idx = new TimeIndex(indexPath(dir, BASE, '.timeindex'), BASE);
    expect(fs.statSync(idx.file).size).toBe(10_485_756);
    idx.maybeAppend(T0, BASE + 1);
    idx.flush();
    idx.close();
    idx.close();
    expect(fs.statSync(idx.file).size).toBe(12);
    expect(idx.deleteIfExists()).toBe(true);
    expect(fs.existsSync(idx.file)).toBe(false);
  });

  it('closeWithoutTrim leaves the preallocated length', () => {
    const dir = tempDir();
    const idx = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 800 });
    idx.append(BASE + 1, 1);
    idx.closeWithoutTrim();
    expect(fs.statSync(idx.file).size).toBe(800);
  });

  it('an empty index closes to an empty file', () => {
    const dir = tempDir();
    const idx = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE);
    idx.close();
    expect(fs.statSync(idx.file).size).toBe(0);
  });

  it('renaming a file that does not exist only changes the name', () => {
    const dir = tempDir();
    const idx = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 80 });
    idx.deleteIfExists();
    idx.renameTo(idx.file + '.deleted');
    expect(idx.file.endsWith('.index.deleted')).toBe(true);
  });
});
