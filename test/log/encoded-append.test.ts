import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidRecordError, Log, RecordTooLargeError } from '../../src/index.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { readBaseOffset, readCrc, readMaxTimestamp, readPartitionLeaderEpoch, readTimestampType } from '../../src/record/batch-layout.js';
import { validateBatch } from '../../src/record/batch-reader.js';
import { tmpDir } from '../support/tmp.js';

/** A producer's batch: encoded at base offset 0, leader epoch -1, as a client sends it. */
function clientBatch(keys: string[], compression: 'none' | 'gzip' = 'none', now = 1000): Buffer {
  const records = keys.map((k, i) => ({ key: k, value: `v-${k}`, timestamp: now + i }));
  return Buffer.from(encodeBatch(records, 0, { compression, timestampType: 'CreateTime', now, partitionLeaderEpoch: -1 }).buffer);
}

describe('Log.appendEncoded', () => {
  it('appends client batches as they are, with offsets and leader epoch written in place and the CRC still valid', () => {
    const log = Log.open(path.join(tmpDir(), 't-0'));
    log.append({ key: 'first', value: 'x' });
    const one = clientBatch(['a', 'b', 'c']);
    const two = clientBatch(['d', 'e'], 'gzip');
    const result = log.appendEncoded(Buffer.concat([one, two]));
    expect(result).toEqual({ baseOffset: 1, lastOffset: 5, logAppendTime: -1 });
    const records = log.read(1);
    expect(records.map((r) => [r.offset, r.key!.toString()])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
      [5, 'e'],
    ]);
    const raw = log.readBatches(1);
    expect(readBaseOffset(raw, 0)).toBe(1);
    expect(readPartitionLeaderEpoch(raw, 0)).toBe(0);
    validateBatch(raw, 0);
    log.close();
    const again = Log.open(log.dir);
    expect(again.endOffset).toBe(6);
    again.close();
  });

  it('stamps a LogAppendTime log\'s batches with the append time and a new CRC', () => {
    const log = Log.open(path.join(tmpDir(), 't-0'), { timestampType: 'LogAppendTime', clock: () => 777_000 });
    const batch = clientBatch(['a', 'b']);
    const crcBefore = readCrc(batch, 0);
    expect(log.appendEncoded(batch).logAppendTime).toBe(777_000);
    const raw = log.readBatches(0);
    expect(readMaxTimestamp(raw, 0)).toBe(777_000);
    expect(readCrc(raw, 0)).not.toBe(crcBefore);
    validateBatch(raw, 0);
    expect(readTimestampType(raw, 0)).toBe('LogAppendTime');
    expect(log.read(0).map((r) => r.timestamp)).toEqual([777_000, 777_000]);
    log.close();
  });

  it('refuses a bad CRC, a wrong record count, a torn batch and an oversized one, writing nothing', () => {
    const log = Log.open(path.join(tmpDir(), 't-0'), { maxMessageBytes: 200 });
    const good = clientBatch(['a']);
    const badCrc = Buffer.from(good);
    badCrc[badCrc.length - 1] ^= 1;
    expect(() => log.appendEncoded(badCrc)).toThrow(InvalidRecordError);
    const badCount = Buffer.from(good);
    badCount.writeInt32BE(2, 57);
    expect(() => log.appendEncoded(badCount)).toThrow(InvalidRecordError);
    expect(() => log.appendEncoded(good.subarray(0, good.length - 1))).toThrow(InvalidRecordError);
    expect(() => log.appendEncoded(Buffer.concat([good, badCrc]))).toThrow(InvalidRecordError);
    expect(() => log.appendEncoded(clientBatch(Array.from({ length: 40 }, (_, i) => `key-${i}`)))).toThrow(RecordTooLargeError);
    expect(log.endOffset).toBe(0);
    expect(log.appendEncoded(good).baseOffset).toBe(0);
    log.close();
  });
});
