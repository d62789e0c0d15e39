import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkEncodedBatches } from '../../src/log/encoded-batches.js';
import { LocalLog, type LocalLogEvents } from '../../src/log/local-log.js';
import { LogLoader } from '../../src/log/log-loader.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { LogSegment, type SegmentOptions } from '../../src/segment/log-segment.js';
import { rawBatches } from '../support/raw-log.js';
import { tmpDir } from '../support/tmp.js';

const T0 = 1_700_000_000_000;
const OPTIONS: SegmentOptions = { indexIntervalBytes: 4096, maxIndexSize: 1200, rollJitterMs: 0, writable: true, now: T0, reserveLimit: 0 };

function open(segmentBytes = 1024 * 1024): { log: LocalLog; events: string[] } {
  const dir = path.join(tmpDir(), 'state-0');
  fs.mkdirSync(dir);
  const loaded = new LogLoader({ dir, writable: true, cleanShutdown: true, recoveryPoint: 0, logStartOffset: 0, segmentOptions: () => OPTIONS }).load();
  const events: string[] = [];
  const listener: LocalLogEvents = {
    rolled: (s) => events.push(`rolled ${s.baseOffset}`),
    recoveryPointLowered: (o) => events.push(`lowered ${o}`),
    truncated: (o) => events.push(`truncated ${o}`),
  };
  const log = new LocalLog({ dir, config: { segmentBytes, segmentMs: 7 * 24 * 3600 * 1000, maxDecompressedBytes: 64 * 1024 * 1024 }, writable: true, segmentOptions: () => OPTIONS, events: listener }, loaded);
  return { log, events };
}

/** Appends a producer's record set (checked as the broker checks it) with offsets assigned. */
function appendProduced(log: LocalLog, records: Buffer): { baseOffset: number; lastOffset: number } {
  return log.appendEncodedBatches(records, checkEncodedBatches(records, 1 << 20), 'CreateTime', T0);
}

/** A producer's batch of `count` records: base offset 0, as a client sends it. */
function producerBatch(count: number, tag: string): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ value: `${tag}-${i}`, timestamp: T0 + i }));
  return Buffer.from(encodeBatch(records, 0, { compression: 'none', timestampType: 'CreateTime', now: T0 }).buffer);
}

describe('LocalLog, the one state object', () => {
  it('appends producer batches with offsets assigned from the end offset, and wakes waiters', async () => {
    const { log } = open();
    const woken = log.waitForAppend();
    const first = appendProduced(log, Buffer.concat([producerBatch(3, 'a'), producerBatch(2, 'b')]));
    expect(first).toEqual({ baseOffset: 0, lastOffset: 4 });
    await expect(woken).resolves.toBeUndefined();
    expect(appendProduced(log, producerBatch(4, 'c'))).toEqual({ baseOffset: 5, lastOffset: 8 });
    expect(log.endOffset).toBe(9);
    const batches = rawBatches(log.activeSegment.log.file);
    expect(batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual([[0, 2], [3, 4], [5, 8]]);
    const records = log.reader.read(0, log.endOffset, 1 << 20, 100);
    expect(records.map((r) => [r.offset, r.value?.toString()])).toEqual([
      [0, 'a-0'], [1, 'a-1'], [2, 'a-2'], [3, 'b-0'], [4, 'b-1'], [5, 'c-0'], [6, 'c-1'], [7, 'c-2'], [8, 'c-3'],
    ]);
    log.closeHandlers();
  });

  it('rolls when the active segment is full, and tells its owner', () => {
    const { log, events } = open(400);
    for (let i = 0; i < 6; i++) appendProduced(log, producerBatch(2, `x${i}`));
    expect(log.segments.count).toBeGreaterThan(1);
    expect(events.filter((e) => e.startsWith('rolled'))).toEqual(log.segments.values().slice(1).map((s) => `rolled ${s.baseOffset}`));
    expect(log.roll()).toBe(log.activeSegment);
    expect(log.roll()).toBe(log.activeSegment);
    log.closeHandlers();
  });

  it('replaces segments by others in one step, and moves the start offset only up, checkpointed', () => {
    const { log } = open(400);
    for (let i = 0; i < 6; i++) appendProduced(log, producerBatch(2, `x${i}`));
    const [oldest, second] = log.segments.values();
    const replacement = LogSegment.create(path.join(log.dir), oldest!.baseOffset + 1000, OPTIONS);
    log.replaceSegments([replacement], [oldest!]);
    expect(log.segments.get(oldest!.baseOffset)).toBeUndefined();
    expect(log.segments.get(replacement.baseOffset)).toBe(replacement);
    log.removeSegments([replacement]);
    log.advanceStartOffset(second!.baseOffset);
    log.advanceStartOffset(0);
    expect(log.startOffset).toBe(second!.baseOffset);
    log.closeHandlers();
    oldest!.closeHandlers();
    replacement.closeHandlers();
  });

  it('keeps the recent truncations for late readers and reports them to its owner', () => {
    const { log, events } = open();
    appendProduced(log, producerBatch(5, 't'));
    log.noteTruncation(3);
    log.noteTruncation(1);
    expect(log.truncationCount).toBe(2);
    expect(log.truncationsSince(0)).toEqual({ count: 2, lowest: 1 });
    expect(log.truncationsSince(1)).toEqual({ count: 2, lowest: 1 });
    expect(log.truncationsSince(2)).toEqual({ count: 2, lowest: null });
    log.lowerRecoveryPoint(0);
    expect(events).toEqual(['truncated 3', 'truncated 1', 'lowered 0']);
    log.closeHandlers();
  });
});
