/**
 * Point reads (`read(o, { maxRecords: few })`) and `offsetForTimestamp` answered from batches the
 * log has checked before (`segment/verified-batches.ts`): the record found straight from the
 * batch's record table, the timestamp from the kept record timestamps. Each case asks both
 * openers twice (the first call checks the batch, the second uses what it kept) and compares
 * with what was written, also after the writer cut the log and wrote other records at the same
 * offsets, and a read-only view must not look at the directory on every call, nor trust a copy
 * that does not match the batch it checked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CorruptRecordError, Log, type LogRecord } from '../../src/index.js';
import { guardedCopies } from '../../src/segment/file-records.js';
import { prng } from '../support/prng.js';
import { tmpDir } from '../support/tmp.js';

const T0 = 1_700_000_000_000;

function appendBatches(log: Log, count: number, perBatch: number, tag: string, stamp: (offset: number) => number): void {
  for (let done = 0; done < count; ) {
    const n = Math.min(perBatch, count - done);
    const start = log.endOffset;
    log.append(Array.from({ length: n }, (_, i) => ({ key: `k${start + i}`, value: `${tag}${start + i}`, timestamp: stamp(start + i) })));
    done += n;
  }
}

/** The records as one line each (offset, key, value, timestamp), to compare in one assertion. */
function lines(records: LogRecord[]): string[] {
  return records.map((r) => `${r.offset} ${r.key?.toString()} ${r.value?.toString()} ${r.timestamp}`);
}

function expectRecords(records: LogRecord[], from: number, count: number, tag: string, stamp: (offset: number) => number): void {
  const expected = Array.from({ length: count }, (_, i) => `${from + i} k${from + i} ${tag}${from + i} ${stamp(from + i)}`);
  const got = lines(records);
  // One assertion per mismatch only: thousands of reads stay fast.
  if (got.join('\n') !== expected.join('\n')) expect(got).toEqual(expected);
}

/** Reads every offset of [from, to) one at a time and up to three at a time, twice each. */
function readAll(log: Log, from: number, to: number, tag: string, stamp: (offset: number) => number): void {
  let reads = 0;
  for (let pass = 0; pass < 2; pass++) {
    for (let o = from; o < to; o++) {
      const three = Math.min(3, to - o);
      expectRecords(log.read(o, { maxRecords: 1 }), o, 1, tag, stamp);
      expectRecords(log.read(o, { maxRecords: three }), o, three, tag, stamp);
      reads += 2;
    }
  }
  expect(reads).toBe(4 * (to - from));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('point reads from batches checked before', () => {
  it('return every record of batches of 100 and of 1,000, on both openers, and the new records after the writer cut and rewrote them', () => {
    const dir = path.join(tmpDir(), 'point-0');
    const stamp = (o: number): number => T0 + o;
    const writer = Log.open(dir, { segmentBytes: 64 * 1024 });
    appendBatches(writer, 600, 100, 'a', stamp);
    appendBatches(writer, 2000, 1000, 'a', stamp);
    const reader = Log.open(dir, { readOnly: true });
    readAll(writer, 0, 2600, 'a', stamp);
    readAll(reader, 0, 2600, 'a', stamp);
    // Other records at the same offsets, in batches of another size: nothing kept may answer for them.
    writer.truncateTo(250);
    appendBatches(writer, 2350, 37, 'b', stamp);
    readAll(writer, 250, 2600, 'b', stamp);
    readAll(reader, 250, 2600, 'b', stamp);
    readAll(reader, 0, 250, 'a', stamp);
    reader.close();
    writer.close();
  });

  it('find offsetForTimestamp in batches whose record timestamps are not in order, from any start offset, on both openers', () => {
    const dir = path.join(tmpDir(), 'point-1');
    const random = prng(18);
    const stamps = Array.from({ length: 1500 }, () => T0 + Math.floor(random() * 5000));
    const writer = Log.open(dir, { segmentBytes: 32 * 1024 });
    appendBatches(writer, 1500, 100, 'a', (o) => stamps[o]!);
    writer.deleteRecordsBefore(130);
    const reader = Log.open(dir, { readOnly: true });
    const expected = (t: number): number | null => {
      for (let o = 130; o < stamps.length; o++) if (stamps[o]! >= t) return o;
      return null;
    };
    for (let pass = 0; pass < 2; pass++) {
      for (let t = T0 - 10; t <= T0 + 5010; t += 37) {
        expect(writer.offsetForTimestamp(t)).toBe(expected(t));
        expect(reader.offsetForTimestamp(t)).toBe(expected(t));
      }
    }
    reader.close();
    writer.close();
  });

  it('find offsetForTimestamp in LogAppendTime batches', () => {
    const dir = path.join(tmpDir(), 'point-2');
    let now = T0;
    const writer = Log.open(dir, { timestampType: 'LogAppendTime', clock: () => now });
    for (let b = 0; b < 20; b++) {
      now = T0 + b * 1000;
      appendBatches(writer, 50, 50, 'a', () => 0);
    }
    const reader = Log.open(dir, { readOnly: true });
    for (let pass = 0; pass < 2; pass++) {
      for (let b = 0; b < 20; b++) {
        expect(writer.offsetForTimestamp(T0 + b * 1000 - 500)).toBe(b * 50);
        expect(reader.offsetForTimestamp(T0 + b * 1000)).toBe(b * 50);
      }
    }
    reader.close();
    writer.close();
  });

  it('on a read-only opener copying from mappings, refuse a record whose bytes changed after its batch was checked', () => {
    // What a copy from a page that a writer is filling again can see; two reads cannot, and only
    // notice a changed header. An inactive segment, so that the view's look at the active one does
    // not forget the batch first.
    const dir = path.join(tmpDir(), 'point-4');
    const stamp = (o: number): number => T0 + o;
    const writer = Log.open(dir);
    appendBatches(writer, 10, 10, 'a', stamp);
    writer.roll();
    appendBatches(writer, 1, 1, 'a', stamp);
    writer.close();
    const reader = Log.open(dir, { readOnly: true });
    for (let i = 0; i < 2; i++) expectRecords(reader.read(5, { maxRecords: 1 }), 5, 1, 'a', stamp);
    const file = path.join(dir, '00000000000000000000.log');
    const at = fs.readFileSync(file).indexOf('a5');
    expect(at).toBeGreaterThan(0);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('z'), 0, 1, at);
    fs.closeSync(fd);
    if (guardedCopies()) {
      expect(() => reader.read(5, { maxRecords: 1 })).toThrow(CorruptRecordError);
    } else {
      expect(reader.read(5, { maxRecords: 1 })[0]!.value?.toString()).toBe('z5');
    }
    reader.close();
  });

  it('a read-only view reads inside the offsets it knows without looking at the directory on every call', () => {
    const dir = path.join(tmpDir(), 'point-3');
    const stamp = (o: number): number => T0 + o;
    const writer = Log.open(dir);
    appendBatches(writer, 1000, 100, 'a', stamp);
    const reader = Log.open(dir, { readOnly: true });
    readAll(reader, 0, 1000, 'a', stamp);
    const stat = vi.spyOn(fs, 'statSync');
    const fstat = vi.spyOn(fs, 'fstatSync');
    for (let o = 0; o < 1000; o++) expectRecords(reader.read(o, { maxRecords: 1 }), o, 1, 'a', stamp);
    // At most one look per RECHECK_MS (2 ms): far fewer than the calls, however slow the machine.
    expect(stat.mock.calls.length).toBeLessThan(250);
    expect(fstat.mock.calls.length).toBeLessThan(250);
    // A write of this process is seen at once.
    appendBatches(writer, 1, 1, 'a', stamp);
    writer.truncateTo(500);
    expect(reader.endOffset).toBe(500);
    expect(() => reader.read(700, { maxRecords: 1 })).toThrow(/out of range|above/i);
    reader.close();
    writer.close();
  });
});
