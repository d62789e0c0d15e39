import { describe, expect, it } from 'vitest';

import { encodeBatch } from '../../src/record/batch-builder.js';
import * as layout from '../../src/record/batch-layout.js';
import { validateBatch } from '../../src/record/batch-reader.js';

/** kafka-format.md §1.9: null key, value "a", ts 1700000000000, CreateTime, none, epoch 0. */
const WORKED_EXAMPLE = Buffer.from(
  [
    '0000000000000000', '00000039', '00000000', '02', '965a94b1', '0000', '00000000',
    '0000018bcfe56800', '0000018bcfe56800', 'ffffffffffffffff', 'ffff', 'ffffffff', '00000001',
    '0e', '00', '00', '00', '01', '02', '61', '00',
  ].join(''),
  'hex',
);

describe('batch layout constants', () => {
  it('chain to Kafka’s v2 field positions', () => {
    expect([
      layout.BASE_OFFSET_OFFSET,
      layout.LENGTH_OFFSET,
      layout.PARTITION_LEADER_EPOCH_OFFSET,
      layout.MAGIC_OFFSET,
      layout.CRC_OFFSET,
      layout.ATTRIBUTES_OFFSET,
      layout.LAST_OFFSET_DELTA_OFFSET,
      layout.BASE_TIMESTAMP_OFFSET,
      layout.MAX_TIMESTAMP_OFFSET,
      layout.PRODUCER_ID_OFFSET,
      layout.PRODUCER_EPOCH_OFFSET,
      layout.BASE_SEQUENCE_OFFSET,
      layout.RECORDS_COUNT_OFFSET,
      layout.RECORDS_OFFSET,
    ]).toEqual([0, 8, 12, 16, 17, 21, 23, 27, 35, 43, 51, 53, 57, 61]);
    expect(layout.LOG_OVERHEAD).toBe(12);
    expect(layout.RECORD_BATCH_OVERHEAD).toBe(61);
    expect(layout.HEADER_SIZE_UP_TO_MAGIC).toBe(17);
  });
});

describe('the worked example of kafka-format.md §1.9', () => {
  it('is what encodeBatch writes, byte for byte', () => {
    const encoded = encodeBatch([{ key: null, value: 'a', timestamp: 1_700_000_000_000 }], 0, {
      compression: 'none',
      timestampType: 'CreateTime',
      now: 1,
      partitionLeaderEpoch: 0,
    });
    expect(encoded.buffer.length).toBe(69);
    expect(encoded.buffer.toString('hex')).toBe(WORKED_EXAMPLE.toString('hex'));
    expect(encoded).toMatchObject({
      recordCount: 1,
      lastOffsetDelta: 0,
      baseTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_000,
      offsetOfMaxTimestampDelta: 0,
    });
  });

  it('defaults partitionLeaderEpoch to 0', () => {
    const encoded = encodeBatch([{ value: 'a', timestamp: 1_700_000_000_000 }], 0, { compression: 'none', timestampType: 'CreateTime', now: 1 });
    expect(encoded.buffer.equals(WORKED_EXAMPLE)).toBe(true);
  });

  it('is read back by every header accessor', () => {
    const b = WORKED_EXAMPLE;
    expect(layout.readBaseOffset(b, 0)).toBe(0);
    expect(layout.readLength(b, 0)).toBe(57);
    expect(layout.readBatchSize(b, 0)).toBe(69);
    expect(layout.readPartitionLeaderEpoch(b, 0)).toBe(0);
    expect(layout.readMagic(b, 0)).toBe(2);
    expect(layout.readCrc(b, 0)).toBe(0x965a94b1);
    expect(layout.readAttributes(b, 0)).toBe(0);
    expect(layout.readLastOffsetDelta(b, 0)).toBe(0);
    expect(layout.readLastOffset(b, 0)).toBe(0);
    expect(layout.readBaseTimestamp(b, 0)).toBe(1_700_000_000_000);
    expect(layout.readMaxTimestamp(b, 0)).toBe(1_700_000_000_000);
    expect(layout.readProducerId(b, 0)).toBe(-1);
    expect(layout.readProducerEpoch(b, 0)).toBe(-1);
    expect(layout.readBaseSequence(b, 0)).toBe(-1);
    expect(layout.readRecordCount(b, 0)).toBe(1);
    expect(layout.readCompressionId(b, 0)).toBe(0);
    expect(layout.readTimestampType(b, 0)).toBe('CreateTime');
    expect(layout.readIsControl(b, 0)).toBe(false);
    expect(layout.readIsTransactional(b, 0)).toBe(false);
  });

  it('parses into a BatchHeader', () => {
    expect(layout.parseBatchHeader(WORKED_EXAMPLE, 0)).toEqual({
      baseOffset: 0,
      length: 57,
      sizeInBytes: 69,
      partitionLeaderEpoch: 0,
      magic: 2,
      crc: 0x965a94b1,
      attributes: 0,
      compression: 'none',
      timestampType: 'CreateTime',
      isTransactional: false,
      isControl: false,
      hasDeleteHorizon: false,
      lastOffsetDelta: 0,
      lastOffset: 0,
      nextOffset: 1,
      baseTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_000,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 1,
    });
  });
});

describe('header accessors', () => {
  it('read a batch at a non-zero position', () => {
    const buf = Buffer.concat([Buffer.alloc(13, 0xaa), WORKED_EXAMPLE, Buffer.alloc(5)]);
    expect(layout.readBatchSize(buf, 13)).toBe(69);
    expect(layout.readMaxTimestamp(buf, 13)).toBe(1_700_000_000_000);
    expect(layout.parseBatchHeader(buf, 13).crc).toBe(0x965a94b1);
  });

  it('read int64 fields exactly over the safe range, negative values included', () => {
    const buf = Buffer.alloc(8);
    for (const value of [0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_700_000_000_123]) {
      buf.writeBigInt64BE(BigInt(value));
      expect(layout.readInt64(buf, 0)).toBe(value);
      buf.fill(0);
      layout.writeInt64(buf, 0, value);
      expect(buf.readBigInt64BE(0)).toBe(BigInt(value));
    }
  });

  it('report the attribute flags and codec', () => {
    const b = Buffer.from(WORKED_EXAMPLE);
    b.writeInt16BE(0x3b, layout.ATTRIBUTES_OFFSET); // lz4 | LogAppendTime | transactional | control
    const header = layout.parseBatchHeader(b, 0);
    expect(header).toMatchObject({ compression: 'lz4', timestampType: 'LogAppendTime', isTransactional: true, isControl: true, hasDeleteHorizon: false });
    expect(layout.readTimestampType(b, 0)).toBe('LogAppendTime');
    expect(layout.readIsControl(b, 0)).toBe(true);
    expect(layout.readIsTransactional(b, 0)).toBe(true);
  });

  it('rewrite baseOffset and partitionLeaderEpoch without invalidating the CRC', () => {
    const b = Buffer.from(WORKED_EXAMPLE);
    layout.writeBaseOffset(b, 0, 123_456_789_012);
    layout.writePartitionLeaderEpoch(b, 0, 7);
    expect(layout.readBaseOffset(b, 0)).toBe(123_456_789_012);
    expect(layout.readLastOffset(b, 0)).toBe(123_456_789_012);
    expect(layout.readPartitionLeaderEpoch(b, 0)).toBe(7);
    expect(() => validateBatch(b, 0)).not.toThrow();
  });

  it('map compression types to ids and back', () => {
    const types = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
    types.forEach((type, id) => {
      expect(layout.compressionId(type)).toBe(id);
      expect(layout.compressionTypeOf(id)).toBe(type);
      expect(layout.isCompressionType(type)).toBe(true);
    });
    expect(layout.compressionTypeOf(5)).toBeUndefined();
    expect(layout.isCompressionType('brotli')).toBe(false);
  });
});
