import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { PartitionProducers, ProducerStates, lastSequence } from '../../src/broker/producer-state.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, BASE_SEQUENCE_OFFSET, CRC_COVERAGE_START, CRC_OFFSET, writeInt16, writeInt32, writeInt64 } from '../../src/record/batch-layout.js';
import { crc32c } from '../../src/record/crc32c.js';
import { fixturesDir, tmpDir } from '../support/tmp.js';
import { readTopicId, writeTopicId, newTopicId } from '../../src/broker/partition-metadata.js';
import fs from 'node:fs';

/** A producer's batch of `n` records with producer id, epoch and base sequence set (and the CRC redone). */
function producerBatch(producerId: number, epoch: number, baseSequence: number, n: number): Buffer {
  const records = Array.from({ length: n }, (_, i) => ({ value: `v${baseSequence + i}` }));
  const buf = Buffer.from(encodeBatch(records, 0, { compression: 'none', timestampType: 'CreateTime', now: 1000, partitionLeaderEpoch: -1 }).buffer);
  writeInt64(buf, PRODUCER_ID_OFFSET, producerId);
  writeInt16(buf, PRODUCER_EPOCH_OFFSET, epoch);
  writeInt32(buf, BASE_SEQUENCE_OFFSET, baseSequence);
  writeInt32(buf, CRC_OFFSET, crc32c(buf, CRC_COVERAGE_START, buf.length));
  return buf;
}

describe('PartitionProducers', () => {
  it('recognises a retry of any of the last five batches, and refuses gaps and older epochs', () => {
    const state = new PartitionProducers();
    expect(state.check(7, 0, 0, 2)).toEqual({ kind: 'append' });
    state.record(7, 0, 0, 2, 100, 102);
    state.record(7, 0, 3, 3, 103, 103);
    expect(state.check(7, 0, 0, 2)).toEqual({ kind: 'duplicate', firstOffset: 100, lastOffset: 102 });
    expect(state.check(7, 0, 4, 5)).toEqual({ kind: 'append' });
    expect(state.check(7, 0, 6, 6)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    for (let s = 4; s < 9; s++) state.record(7, 0, s, s, 100 + s, 100 + s);
    // The first batch fell out of the last five: no longer a duplicate, and out of order.
    expect(state.check(7, 0, 0, 2).kind).toBe('error');
    expect(state.check(7, 1, 0, 0)).toEqual({ kind: 'append' });
    state.record(7, 1, 0, 0, 200, 200);
    expect(state.check(7, 0, 9, 9)).toEqual({ kind: 'error', error: 'INVALID_PRODUCER_EPOCH' });
    expect(state.check(7, 2, 5, 5)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(lastSequence(0x7ffffffe, 3)).toBe(1);
  });

  it('rebuilds from the batch headers in the log, so a retry after a restart is still recognised', () => {
    const dir = path.join(tmpDir(), 't-0');
    const log = Log.open(dir);
    log.appendEncoded(producerBatch(42, 3, 0, 2));
    log.append({ value: 'plain' });
    log.appendEncoded(producerBatch(42, 3, 2, 3));
    log.close();
    const reopened = Log.open(dir);
    try {
      const state = new ProducerStates().of(reopened);
      expect(state.check(42, 3, 2, 4)).toEqual({ kind: 'duplicate', firstOffset: 3, lastOffset: 5 });
      expect(state.check(42, 3, 0, 1)).toEqual({ kind: 'duplicate', firstOffset: 0, lastOffset: 1 });
      expect(state.check(42, 3, 5, 5)).toEqual({ kind: 'append' });
    } finally {
      reopened.close();
    }
  });

  it('hands out producer ids that grow, also across restarts', async () => {
    const a = new ProducerStates();
    const first = a.newProducerId().producerId;
    expect(a.newProducerId().producerId).toBeGreaterThan(first);
    await new Promise((r) => setTimeout(r, 5)); // a restart takes at least that long
    expect(new ProducerStates().newProducerId().producerId).toBeGreaterThan(first + 1);
  });
});

describe('partition.metadata', () => {
  it('reads the topic id Kafka wrote', () => {
    const id = readTopicId(path.join(fixturesDir, 'kafka-tester/510714e/kraft-combined-logs/foo-0'));
    expect(id?.toString('base64url')).toBe('v9meXjI1RVKB-NSvF0GXDA');
  });

  it('writes what Kafka writes and reads it back', () => {
    const dir = tmpDir();
    const id = newTopicId();
    writeTopicId(dir, id);
    expect(fs.readFileSync(path.join(dir, 'partition.metadata'), 'utf8')).toBe(`version: 0\ntopic_id: ${id.toString('base64url')}`);
    expect(readTopicId(dir)).toEqual(id);
  });
});
