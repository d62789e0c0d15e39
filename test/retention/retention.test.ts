import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Log, OffsetOutOfRangeError, ReadOnlyLogError } from '../../src/index.js';
import { ClockedLog, appendBatch, deletedFiles, liveFiles, partitionDir, readAll, segmentFiles, sleep, startCheckpoint, waitFor } from './helpers.js';

/** Segments with the given record timestamps, one batch of 3 records each, each rolled; then an active segment. */
function segmentsWithTimestamps(c: ClockedLog, stamps: number[]): number[] {
  const bases: number[] = [];
  for (const ts of stamps) {
    bases.push(appendBatch(c.log, 3, ts));
    c.log.roll();
  }
  return bases;
}

describe('time retention', () => {
  it('deletes the oldest segments older than retentionMs, stopping at the first one kept', () => {
    const c = new ClockedLog(partitionDir(), { retentionMs: 1000, fileDeleteDelayMs: 60_000 });
    const now = c.now;
    const bases = segmentsWithTimestamps(c, [now - 5000, now - 3000, now, now - 5000]);
    appendBatch(c.log, 2, now);
    const before = readAll(c.log);
    expect(c.log.applyRetention()).toBe(2);
    expect(c.log.startOffset).toBe(bases[2]);
    expect(c.log.segments().map((s) => s.baseOffset)).toEqual([bases[2], bases[3], 12]);
    expect(readAll(c.log)).toEqual(before.slice(6));
    expect(() => c.log.read(0)).toThrow(OffsetOutOfRangeError);
    // Renamed at once, deleted later.
    const files = segmentFiles(c.dir);
    expect(files).toEqual(expect.arrayContaining([...deletedFiles(0), ...deletedFiles(3), ...liveFiles(6), ...liveFiles(9), ...liveFiles(12)]));
    expect(files).not.toContain('00000000000000000000.log');
    // Kafka's checkpoint format, written as the start offset moved.
    expect(startCheckpoint(c.dir)).toBe('0\n1\nevents 0 6\n');
    // Nothing else is old enough to go, and a second pass deletes nothing.
    expect(c.log.applyRetention()).toBe(0);
    c.log.close();
  });

  it('measures age from the newest record: a segment stamped in the future waits until the clock passes it', () => {
    const c = new ClockedLog(partitionDir(), { retentionMs: 1000 });
    const future = c.now + 10_000;
    segmentsWithTimestamps(c, [c.now - 5000, future]);
    appendBatch(c.log, 1, future + 5000);
    expect(c.log.applyRetention()).toBe(1);
    expect(c.log.applyRetention(future + 1000)).toBe(0);
    expect(c.log.applyRetention(future + 1001)).toBe(1);
    expect(c.log.startOffset).toBe(6);
    c.log.close();
  });

  it('rolls when every segment would go, so endOffset stays and appends continue from it', () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir, { retentionMs: 100 });
    segmentsWithTimestamps(c, [c.now - 1000, c.now - 1000]);
    appendBatch(c.log, 4, c.now - 1000);
    expect(c.log.endOffset).toBe(10);
    expect(c.log.applyRetention()).toBe(3);
    expect(c.log.startOffset).toBe(10);
    expect(c.log.endOffset).toBe(10);
    expect(c.log.segments()).toEqual([expect.objectContaining({ baseOffset: 10, endOffset: 10, sizeBytes: 0 })]);
    expect(c.log.read(10)).toEqual([]);
    c.reopen();
    expect([c.log.startOffset, c.log.endOffset]).toEqual([10, 10]);
    expect(c.log.append({ value: 'next' })).toEqual({ baseOffset: 10, lastOffset: 10 });
    // An empty active segment is never deleted.
    c.log.roll();
    c.now += 10_000;
    expect(c.log.applyRetention()).toBe(1);
    expect(c.log.segments().map((s) => s.baseOffset)).toEqual([11]);
    expect(c.log.applyRetention()).toBe(0);
    c.log.close();
  });

  it('treats retentionMs -1 as forever', () => {
    const c = new ClockedLog(partitionDir(), { retentionMs: -1 });
    segmentsWithTimestamps(c, [0, 1]);
    expect(c.log.applyRetention(Number.MAX_SAFE_INTEGER)).toBe(0);
    c.log.close();
  });
});

describe('size retention', () => {
  it('deletes the oldest segments while the log is over retentionBytes by at least a whole segment', () => {
    const c = new ClockedLog(partitionDir(), { retentionMs: -1 });
    for (let i = 0; i < 5; i++) {
      appendBatch(c.log, 2, c.now, 100 * (i + 1));
      c.log.roll();
    }
    appendBatch(c.log, 1, c.now, 50);
    const sizes = c.log.segments().map((s) => s.sizeBytes);
    const total = sizes.reduce((a, b) => a + b, 0);
    // Kafka: diff = size - retention.bytes; delete while diff - segment.size >= 0.
    const retentionBytes = total - sizes[0]! - sizes[1]! + 1;
    c.log.close();
    const log = Log.open(c.dir, { ...c.config, retentionBytes });
    expect(log.applyRetention()).toBe(1);
    expect(log.size).toBe(total - sizes[0]!);
    expect(log.applyRetention()).toBe(0);
    log.close();
    const exact = Log.open(c.dir, { ...c.config, retentionBytes: total - sizes[0]! - sizes[1]! - sizes[2]! });
    expect(exact.applyRetention()).toBe(2);
    expect(exact.size).toBe(total - sizes[0]! - sizes[1]! - sizes[2]!);
    exact.close();
  });
});

describe('retention floor', () => {
  it('never deletes a segment holding an offset at or above the floor', () => {
    const c = new ClockedLog(partitionDir(), { retentionMs: 10 });
    segmentsWithTimestamps(c, [0, 0, 0, 0]);
    let floor: number | null = 7;
    const unregister = c.log.addRetentionFloor(() => floor);
    expect(c.log.applyRetention()).toBe(2); // [0,3) and [3,6) lie below 7; [6,9) holds 7
    expect(c.log.startOffset).toBe(6);
    floor = 9;
    expect(c.log.applyRetention()).toBe(1);
    floor = null;
    unregister();
    expect(c.log.applyRetention()).toBe(1);
    expect(c.log.startOffset).toBe(12);
    c.log.close();
  });
});

describe('deleteRecordsBefore', () => {
  it('advances startOffset, checkpointed; reads below it fail although the bytes remain', () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir, { fileDeleteDelayMs: 60_000 });
    segmentsWithTimestamps(c, [1, 2, 3]);
    appendBatch(c.log, 3, 4);
    const all = readAll(c.log);
    expect(c.log.deleteRecordsBefore(4)).toBe(4);
    expect(c.log.startOffset).toBe(4);
    expect(() => c.log.read(3)).toThrow(OffsetOutOfRangeError);
    expect(() => c.log.readBatches(3)).toThrow(OffsetOutOfRangeError);
    expect(readAll(c.log)).toEqual(all.slice(4));
    expect(c.log.offsetForTimestamp(0)).toBe(4);
    // The segment wholly below went at once; the one holding offset 4 stays.
    expect(c.log.segments().map((s) => s.baseOffset)).toEqual([3, 6, 9]);
    expect(segmentFiles(dir)).toEqual(expect.arrayContaining(deletedFiles(0)));
    expect(startCheckpoint(dir)).toBe('0\n1\nevents 0 4\n');
    // Never backwards.
    expect(c.log.deleteRecordsBefore(2)).toBe(4);
    expect(c.log.startOffset).toBe(4);
    c.reopen();
    expect(c.log.startOffset).toBe(4);
    expect(readAll(c.log)).toEqual(all.slice(4));
    expect(segmentFiles(dir).some((n) => n.endsWith('.deleted'))).toBe(false);
    c.log.close();
  });

  it('takes every segment at endOffset, rolling first', () => {
    const c = new ClockedLog(partitionDir());
    segmentsWithTimestamps(c, [1, 2]);
    appendBatch(c.log, 3, 3);
    expect(c.log.deleteRecordsBefore(9)).toBe(9);
    expect(c.log.segments()).toEqual([expect.objectContaining({ baseOffset: 9, sizeBytes: 0 })]);
    expect(c.log.endOffset).toBe(9);
    c.reopen();
    expect([c.log.startOffset, c.log.endOffset]).toEqual([9, 9]);
    c.log.close();
  });

  it('a later retention pass deletes the segment the start offset has passed', () => {
    const c = new ClockedLog(partitionDir());
    segmentsWithTimestamps(c, [1, 2]);
    expect(c.log.deleteRecordsBefore(5)).toBe(5);
    expect(c.log.segments().map((s) => s.baseOffset)).toEqual([3, 6]);
    appendBatch(c.log, 1, 3);
    expect(c.log.applyRetention()).toBe(0);
    c.log.close();
  });
});

describe('bad input', () => {
  it('throws typed errors and changes nothing', () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir);
    segmentsWithTimestamps(c, [1, 2]);
    appendBatch(c.log, 3, 3);
    c.log.deleteRecordsBefore(2);
    const snapshot = (): unknown => ({
      start: c.log.startOffset,
      end: c.log.endOffset,
      segments: c.log.segments(),
      records: readAll(c.log),
      files: segmentFiles(dir),
      checkpoint: startCheckpoint(dir),
    });
    const before = snapshot();
    const bad: unknown[] = [-1, 1.5, NaN, Infinity, '3', null, undefined, 2 ** 53, {}];
    for (const offset of bad) {
      expect(() => c.log.deleteRecordsBefore(offset as number), String(offset)).toThrow(InvalidArgumentError);
      expect(() => c.log.truncateTo(offset as number), String(offset)).toThrow(InvalidArgumentError);
    }
    expect(() => c.log.applyRetention(1.5)).toThrow(InvalidArgumentError);
    expect(() => c.log.applyRetention('now' as unknown as number)).toThrow(InvalidArgumentError);
    expect(() => c.log.deleteRecordsBefore(10)).toThrow(OffsetOutOfRangeError);
    expect(() => c.log.truncateTo(1)).toThrow(OffsetOutOfRangeError);
    expect(() => c.log.truncateTo(0)).toThrow(OffsetOutOfRangeError);
    expect(snapshot()).toEqual(before);
    // At or after endOffset, truncateTo is a no-op.
    c.log.truncateTo(9);
    c.log.truncateTo(1000);
    expect(snapshot()).toEqual(before);
    c.log.close();
    const reader = Log.open(dir, { readOnly: true });
    expect(() => reader.applyRetention()).toThrow(ReadOnlyLogError);
    expect(() => reader.deleteRecordsBefore(3)).toThrow(ReadOnlyLogError);
    expect(() => reader.truncateTo(3)).toThrow(ReadOnlyLogError);
    reader.close();
  });
});

describe('two-step deletion', () => {
  it('deletes the renamed files after fileDeleteDelayMs of wall time', async () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir, { retentionMs: 10, fileDeleteDelayMs: 80 });
    segmentsWithTimestamps(c, [0, 0]);
    expect(c.log.applyRetention()).toBe(2);
    expect(segmentFiles(dir)).toEqual([...deletedFiles(0), ...deletedFiles(3), ...liveFiles(6)].sort());
    await sleep(20);
    expect(segmentFiles(dir)).toEqual([...deletedFiles(0), ...deletedFiles(3), ...liveFiles(6)].sort());
    expect(await waitFor(() => segmentFiles(dir).length === 3)).toBe(true);
    expect(segmentFiles(dir)).toEqual(liveFiles(6));
    c.log.close();
  });

  it('with no delay, deletes on the next turn of the event loop', async () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir, { retentionMs: 10, fileDeleteDelayMs: 0 });
    segmentsWithTimestamps(c, [0]);
    expect(c.log.applyRetention()).toBe(1);
    // The roll above started a background flush; the deletion waits for it to end.
    expect(await waitFor(() => segmentFiles(dir).length === 3)).toBe(true);
    expect(segmentFiles(dir)).toEqual(liveFiles(3));
    c.log.close();
  });

  it('close() deletes what is still pending; nothing comes back on open', () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir, { retentionMs: 10, fileDeleteDelayMs: 3_600_000 });
    segmentsWithTimestamps(c, [0, 0]);
    expect(c.log.applyRetention()).toBe(2);
    c.log.close();
    expect(segmentFiles(dir)).toEqual(liveFiles(6));
    const log = Log.open(dir, c.config);
    expect([log.startOffset, log.endOffset]).toEqual([6, 6]);
    log.close();
  });

  it('a crash after the rename never resurrects the segment', () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir, { retentionMs: 10, fileDeleteDelayMs: 3_600_000 });
    segmentsWithTimestamps(c, [0, 0]);
    appendBatch(c.log, 1, c.now);
    c.log.applyRetention();
    const copy = path.join(path.dirname(dir), 'copy-0');
    fs.cpSync(dir, copy, { recursive: true });
    c.log.close();
    const log = Log.open(copy, c.config);
    expect(log.recovery.cleanShutdown).toBe(false);
    expect([log.startOffset, log.endOffset]).toEqual([6, 7]);
    expect(segmentFiles(copy)).toEqual(liveFiles(6));
    log.close();
  });
});

describe('background retention', () => {
  it('runs every retentionCheckIntervalMs and stops at close', async () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir, { retentionMs: 10, retentionCheckIntervalMs: 20 });
    segmentsWithTimestamps(c, [0, 0]);
    appendBatch(c.log, 1, c.now);
    for (let i = 0; i < 50 && c.log.startOffset === 0; i++) await sleep(10);
    expect(c.log.startOffset).toBe(6);
    c.log.close();
    await sleep(60);
    expect(() => c.log.startOffset).toThrow();
  });
});
