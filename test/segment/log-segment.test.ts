import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OffsetOverflowError } from '../../src/errors.js';
import { logFile, offsetIndexFile, timeIndexFile } from '../../src/files/file-names.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { BatchCursor } from '../../src/segment/batch-cursor.js';
import { LogSegment, type SegmentOptions } from '../../src/segment/log-segment.js';
import { rawOffsetIndex, rawTimeIndex } from '../support/raw-log.js';
import { tmpDir } from '../support/tmp.js';

const T0 = 1_700_000_000_000;

function options(overrides: Partial<SegmentOptions> = {}): SegmentOptions {
  return { indexIntervalBytes: 200, maxIndexSize: 1200, rollJitterMs: 0, writable: true, now: T0, reserveLimit: 0, ...overrides };
}

/** Appends `count` batches of 2 records from `offset`; returns each batch's [position, lastOffset, size]. */
function appendBatches(segment: LogSegment, offset: number, count: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < count; i++) {
    const base = offset + i * 2;
    const encoded = encodeBatch(
      [
        { value: `value ${base}`.padEnd(60, '.'), timestamp: T0 + base },
        { value: `value ${base + 1}`.padEnd(60, '.'), timestamp: T0 + base + 1 },
      ],
      base,
      { compression: 'none', timestampType: 'CreateTime', now: T0 },
    );
    out.push([segment.size, base + 1, encoded.buffer.length]);
    segment.append(base + 1, encoded.maxTimestamp, base + 1, encoded.buffer);
  }
  return out;
}

/** Kafka's append rule: an entry before a batch once more than the interval was appended since the last one. */
function expectedEntries(batches: [number, number, number][], interval: number): { offset: number; position: number }[] {
  const entries: { offset: number; position: number }[] = [];
  let since = 0;
  for (const [position, last, size] of batches) {
    if (since > interval) {
      entries.push({ offset: last, position });
      since = 0;
    }
    since += size;
  }
  return entries;
}

describe('LogSegment', () => {
  it('creates its three files named by the base offset, appends, and indexes by Kafka\'s interval rule', () => {
    const dir = tmpDir();
    const segment = LogSegment.create(dir, 100, options());
    expect(fs.existsSync(logFile(dir, 100))).toBe(true);
    expect(fs.statSync(offsetIndexFile(dir, 100)).size).toBe(1200);
    const batches = appendBatches(segment, 100, 12);
    expect(segment.size).toBe(batches.at(-1)![0] + batches.at(-1)![2]);
    expect(segment.maxTimestamp).toBe(T0 + 123);
    segment.close();
    const entries = rawOffsetIndex(offsetIndexFile(dir, 100), 100);
    expect(entries).toEqual(expectedEntries(batches, 200));
    expect(entries.length).toBeGreaterThan(2);
    expect(fs.statSync(offsetIndexFile(dir, 100)).size).toBe(entries.length * 8);
    // The closing time-index entry: the largest timestamp and the batch's last offset.
    expect(rawTimeIndex(timeIndexFile(dir, 100), 100).at(-1)).toEqual({ timestamp: T0 + 123, offset: 123 });
  });

  it('locates the batch holding an offset, finds offsets by timestamp, and reads its next offset', () => {
    const dir = tmpDir();
    const segment = LogSegment.create(dir, 0, options());
    const batches = appendBatches(segment, 0, 10);
    const cursor = new BatchCursor(segment.log);
    expect(segment.locate(7, cursor)).toBe(true);
    expect([cursor.position, cursor.baseOffset, cursor.lastOffset]).toEqual([batches[3]![0], 6, 7]);
    expect(segment.locate(20, cursor)).toBe(false);
    expect(segment.findOffsetByTimestamp(T0 + 9, 0, cursor)).toBe(9);
    expect(segment.readNextOffset(cursor)).toBe(20);
    segment.close();
  });

  it('recover() rebuilds the same indexes from the .log and cuts a torn tail', () => {
    const dir = tmpDir();
    const segment = LogSegment.create(dir, 0, options());
    const batches = appendBatches(segment, 0, 10);
    segment.close();
    const written = rawOffsetIndex(offsetIndexFile(dir, 0), 0);
    fs.rmSync(offsetIndexFile(dir, 0));
    fs.appendFileSync(logFile(dir, 0), Buffer.alloc(30, 9));
    const reopened = LogSegment.open(dir, 0, options());
    const result = reopened.recover(new BatchCursor(reopened.log));
    expect(result.truncatedBytes).toBe(30);
    expect(result.reason).toMatch(/torn batch|position/);
    reopened.close();
    expect(fs.statSync(logFile(dir, 0)).size).toBe(batches.at(-1)![0] + batches.at(-1)![2]);
    expect(rawOffsetIndex(offsetIndexFile(dir, 0), 0)).toEqual(written);
  });

  it('truncateTo removes whole batches from the one holding the offset on, and the index entries there', () => {
    const dir = tmpDir();
    const segment = LogSegment.create(dir, 0, options());
    const batches = appendBatches(segment, 0, 10);
    const cursor = new BatchCursor(segment.log);
    const total = segment.size;
    const cut = segment.truncateTo(9, cursor, T0);
    expect(segment.size).toBe(batches[4]![0]);
    expect(cut).toBe(total - batches[4]![0]);
    expect(segment.readNextOffset(cursor)).toBe(8);
    expect(segment.maxTimestamp).toBe(T0 + 7);
    segment.close();
    expect(rawOffsetIndex(offsetIndexFile(dir, 0), 0).every((e) => e.offset < 9)).toBe(true);
  });

  it('shouldRoll: size, time since the first batch, and offsets that no longer fit 31 bits', () => {
    const dir = tmpDir();
    const segment = LogSegment.create(dir, 0, options());
    expect(segment.shouldRoll(100, T0, 1, 1000, 60_000, T0)).toBe(false);
    appendBatches(segment, 0, 1);
    expect(segment.shouldRoll(1000, T0, 3, 1000, 60_000, T0)).toBe(true);
    expect(segment.shouldRoll(100, T0 + 60_001, 3, 1_000_000, 60_000, T0)).toBe(false);
    expect(segment.shouldRoll(100, T0 + 60_002, 3, 1_000_000, 60_000, T0)).toBe(true);
    expect(segment.shouldRoll(100, T0 + 10, 2 ** 31, 1_000_000, 60_000, T0)).toBe(true);
    expect(() => appendBatches(segment, 2 ** 31, 1)).toThrow(OffsetOverflowError);
    segment.close();
  });

  it('renames its files with a suffix and deletes them under the new names', () => {
    const dir = tmpDir();
    const segment = LogSegment.create(dir, 5, options());
    appendBatches(segment, 5, 3);
    segment.changeFileSuffixes('', '.deleted');
    expect(fs.readdirSync(dir).sort()).toEqual(['00000000000000000005.index.deleted', '00000000000000000005.log.deleted', '00000000000000000005.timeindex.deleted']);
    segment.deleteIfExists();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
