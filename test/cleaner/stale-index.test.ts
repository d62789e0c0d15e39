import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { BatchCursor } from '../../src/segment/batch-cursor.js';
import { LogSegment, type SegmentOptions } from '../../src/segment/log-segment.js';
import { tmpDir } from '../support/tmp.js';

/**
 * A read-only segment whose `.log` the writer renamed away (a cleaner swap) before the reader
 * opened its indexes: the index files now under those names belong to the new segment with the
 * same base offset, and must not be used to find batches in the old file.
 */

const options = (writable: boolean): SegmentOptions => ({ indexIntervalBytes: 0, maxIndexSize: 4096, rollJitterMs: 0, writable, now: 0, reserveLimit: 0 });

function fill(segment: LogSegment, offsets: number[], valueBytes: number): void {
  for (const o of offsets) {
    const batch = encodeBatch([{ key: `k${o}`, value: 'v'.repeat(valueBytes), timestamp: 1000 + o }], o, { compression: 'none', timestampType: 'CreateTime', now: 0 });
    segment.append(o, 1000 + o, o, batch.buffer);
  }
}

describe('a read-only segment after a swap', () => {
  it('finds every batch of its own file, not where the new generation index points', () => {
    const dir = tmpDir('seglog-stale-');
    const old = LogSegment.create(dir, 0, options(true));
    fill(old, [...Array(40).keys()], 50);
    old.onBecomeInactiveSegment();
    old.flush();
    const reader = LogSegment.open(dir, 0, options(false));
    // The reader has read from the segment (its `.log` is open) before the swap.
    expect(reader.log.readInto(Buffer.alloc(12), 0, 12, 0)).toBe(12);
    // The writer's swap: the old files go `.deleted`, a cleaned segment with the same base takes the names.
    old.changeFileSuffixes('', '.deleted');
    const cleaned = LogSegment.create(dir, 0, options(true));
    fill(cleaned, [5, 17, 30, 39], 400);
    cleaned.onBecomeInactiveSegment();
    cleaned.close();
    const cursor = new BatchCursor(reader.log);
    for (const offset of [0, 7, 20, 33, 39]) {
      expect(reader.locate(offset, cursor), `locate(${offset})`).toBe(true);
      expect(cursor.baseOffset).toBe(offset);
    }
    expect(reader.maxTimestamp).toBe(1039);
    expect(reader.findOffsetByTimestamp(1021, 0, cursor)).toBe(21);
    reader.closeHandlers();
    old.closeHandlers();
  });
});
