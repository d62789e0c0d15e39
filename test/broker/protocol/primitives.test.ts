import { describe, expect, test } from 'vitest';
import { ApiKey, ProtocolError, decodeResponse, encodeResponse } from '../../../src/broker/protocol/index.js';
import { LengthKind, Reader } from '../../../src/broker/protocol/reader.js';
import { Writer } from '../../../src/broker/protocol/writer.js';
import { frameOf } from './helpers.js';

describe('unsigned varints', () => {
  // Kafka's unsigned varint: 7 bits per byte, low bits first, high bit = more bytes follow.
  const cases: [number, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16383, 'ff7f'],
    [16384, '808001'],
    [2 ** 21, '80808001'],
    [2 ** 28, '8080808001'],
    [2 ** 31 - 1, 'ffffffff07'],
    [2 ** 32 - 1, 'ffffffff0f'],
  ];
  test.each(cases)('%i is %s', (value, hex) => {
    const w = new Writer(2); // a tiny first block, so writes cross blocks
    w.uvarint(value);
    expect(w.concat().toString('hex')).toBe(hex);
    const r = new Reader(Buffer.from(hex, 'hex'), 0);
    expect(r.uvarint()).toBe(value);
    expect(r.remaining).toBe(0);
  });

  test('values that are not a uint32 cannot be written', () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) expect(() => new Writer().uvarint(bad)).toThrow(ProtocolError);
  });
});

describe('Reader', () => {
  test('fixed-width reads at the ends of their ranges', () => {
    const w = new Writer(3);
    w.int8(-128);
    w.int16(-32768);
    w.uint16(65535);
    w.int32(-(2 ** 31));
    w.int64(-(2n ** 63n));
    w.int64(2n ** 63n - 1n);
    w.float64(-0.5);
    w.bool(true);
    const r = new Reader(w.concat(), 0);
    expect([r.int8(), r.int16(), r.uint16(), r.int32(), r.int64(), r.int64(), r.float64(), r.bool()]).toEqual([
      -128,
      -32768,
      65535,
      -(2 ** 31),
      -(2n ** 63n),
      2n ** 63n - 1n,
      -0.5,
      true,
    ]);
  });

  test('a reader never reads past its end, even inside a larger buffer', () => {
    const r = new Reader(Buffer.alloc(16), 4, 6);
    expect(r.int16()).toBe(0);
    expect(() => r.int8()).toThrow(ProtocolError);
  });

  test('lengths: -1 is null, below -1 or beyond the bytes left is a ProtocolError', () => {
    expect(new Reader(Buffer.from('ffff', 'hex'), 0).length(LengthKind.Int16, 1, 's')).toBe(-1);
    expect(new Reader(Buffer.from('00', 'hex'), 0).length(LengthKind.Compact, 1, 's')).toBe(-1);
    expect(() => new Reader(Buffer.from('fffffffe', 'hex'), 0).length(LengthKind.Int32, 1, 'a')).toThrow(/negative a length -2/);
    // 3 elements of at least 4 bytes need 12 bytes; 11 are left.
    expect(() => new Reader(Buffer.concat([Buffer.from('04', 'hex'), Buffer.alloc(11)]), 0).length(LengthKind.Compact, 4, 'a')).toThrow(/past the end/);
    expect(new Reader(Buffer.concat([Buffer.from('04', 'hex'), Buffer.alloc(12)]), 0).length(LengthKind.Compact, 4, 'a')).toBe(3);
  });

  test('errors carry the position where decoding stopped', () => {
    const r = new Reader(Buffer.alloc(5), 0);
    r.int32();
    try {
      r.int32();
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).position).toBe(4);
    }
  });
});

describe('Writer', () => {
  test('slices stay chunks of their own, between the pieces of the block', () => {
    const slice = Buffer.from('records');
    const w = new Writer(64);
    w.int32(1);
    w.slices([slice, Buffer.alloc(0)]);
    w.int16(2);
    const chunks = w.finish();
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe(slice);
    expect(Buffer.concat(chunks).toString('hex')).toBe('00000001' + slice.toString('hex') + '0002');
  });

  test('a large message crosses many blocks and reads back whole', () => {
    // A Metadata response of 3000 topics is hundreds of KiB: several 64 KiB blocks.
    const topics = Array.from({ length: 3000 }, (_, i) => ({
      errorCode: 0,
      name: `topic-${i}-${'x'.repeat(i % 50)}`,
      topicId: Buffer.alloc(16, i & 0xff),
      isInternal: false,
      partitions: Array.from({ length: 1 + (i % 4) }, (_, p) => ({
        errorCode: 0,
        partitionIndex: p,
        leaderId: 0,
        leaderEpoch: 0,
        replicaNodes: [0],
        isrNodes: [0],
        offlineReplicas: [],
      })),
      topicAuthorizedOperations: -2147483648,
    }));
    const body = { throttleTimeMs: 0, brokers: [{ nodeId: 0, host: 'localhost', port: 9092, rack: null }], clusterId: 'c', controllerId: 0, topics };
    const chunks = encodeResponse(ApiKey.Metadata, 12, 3, body);
    expect(chunks.length).toBeGreaterThan(3);
    expect(decodeResponse(ApiKey.Metadata, 12, frameOf(chunks))).toEqual({ correlationId: 3, body });
  });
});
