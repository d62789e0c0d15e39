import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CorruptRecordError } from '../../src/errors.js';
import {
  readVarint,
  readVarlong,
  sizeOfVarint,
  sizeOfVarlong,
  writeVarint,
  writeVarlong,
  type Cursor,
} from '../../src/record/varint.js';
import { referenceVarlong } from './helpers.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function encodeVarint(value: number): Buffer {
  const buf = Buffer.alloc(16, 0xee);
  return buf.subarray(0, writeVarint(buf, 0, value));
}

function encodeVarlong(value: number): Buffer {
  const buf = Buffer.alloc(16, 0xee);
  return buf.subarray(0, writeVarlong(buf, 0, value));
}

function decode(bytes: number[], read: (b: Uint8Array, c: Cursor, end: number) => number): { value: number; pos: number } {
  const cursor = { pos: 0 };
  const value = read(Uint8Array.from(bytes), cursor, bytes.length);
  return { value, pos: cursor.pos };
}

describe('zigzag varint', () => {
  it.each([
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-2, '03'],
    [63, '7e'],
    [-64, '7f'],
    [64, '8001'],
    [300, 'd804'],
    [INT32_MAX, 'feffffff0f'],
    [INT32_MIN, 'ffffffff0f'],
  ])('encodes %d as %s', (value, hex) => {
    expect(encodeVarint(value).toString('hex')).toBe(hex);
    expect(sizeOfVarint(value)).toBe(hex.length / 2);
    expect(decode([...Buffer.from(hex, 'hex')], readVarint)).toEqual({ value, pos: hex.length / 2 });
  });

  it('matches a BigInt reference encoder and round-trips for every int32', () => {
    fc.assert(
      fc.property(fc.integer({ min: INT32_MIN, max: INT32_MAX }), (value) => {
        const bytes = encodeVarint(value);
        expect(bytes.equals(referenceVarlong(BigInt(value)))).toBe(true);
        expect(sizeOfVarint(value)).toBe(bytes.length);
        expect(decode([...bytes], readVarint)).toEqual({ value, pos: bytes.length });
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects a 5th byte that still has the continuation bit', () => {
    expect(() => decode([0xff, 0xff, 0xff, 0xff, 0xff, 0x01], readVarint)).toThrow(CorruptRecordError);
    expect(() => decode([0x80, 0x80, 0x80, 0x80, 0x80, 0x00], readVarint)).toThrow(/illegal varint/);
  });

  it('drops the bits of a 5th byte past 32, like Kafka', () => {
    // 0xff ff ff ff 7f: the low 32 bits are all ones, i.e. zigzag(-2^31).
    expect(decode([0xff, 0xff, 0xff, 0xff, 0x7f], readVarint)).toEqual({ value: INT32_MIN, pos: 5 });
  });

  it('rejects a varint that runs past its end', () => {
    expect(() => decode([0x80], readVarint)).toThrow(/past the end/);
    expect(() => decode([], readVarint)).toThrow(CorruptRecordError);
    const cursor = { pos: 0 };
    expect(() => readVarint(Uint8Array.from([0x80, 0x01]), cursor, 1)).toThrow(CorruptRecordError);
  });
});

describe('zigzag varlong', () => {
  const SAFE = Number.MAX_SAFE_INTEGER;

  it.each([0, -1, 1, INT32_MAX, INT32_MIN, INT32_MAX + 1, INT32_MIN - 1, 2 ** 32, -(2 ** 32), 2 ** 35 + 17, 1_700_000_000_000, -1_700_000_000_000, SAFE, -SAFE, 2 ** 53, -(2 ** 53)])(
    'encodes %d like the BigInt reference and decodes it back',
    (value) => {
      const bytes = encodeVarlong(value);
      expect(bytes.toString('hex')).toBe(referenceVarlong(BigInt(value)).toString('hex'));
      expect(sizeOfVarlong(value)).toBe(bytes.length);
      expect(decode([...bytes], readVarlong)).toEqual({ value, pos: bytes.length });
    },
  );

  it('round-trips every safe integer without BigInt', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.integer(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })), (value) => {
        const bytes = encodeVarlong(value);
        expect(bytes.equals(referenceVarlong(BigInt(value)))).toBe(true);
        expect(sizeOfVarlong(value)).toBe(bytes.length);
        expect(decode([...bytes], readVarlong)).toEqual({ value, pos: bytes.length });
      }),
      { numRuns: 3000 },
    );
  });

  it('decodes 10-byte encodings and rejects an 11th byte', () => {
    const min64 = referenceVarlong(-(2n ** 63n)); // 10 bytes
    expect(min64.length).toBe(10);
    expect(decode([...min64], readVarlong).pos).toBe(10);
    expect(() => decode([...Array(10).fill(0xff), 0x01], readVarlong)).toThrow(/illegal varlong/);
  });

  it('rejects a varlong that runs past its end', () => {
    expect(() => decode([0xff, 0xff, 0xff, 0xff, 0xff], readVarlong)).toThrow(/past the end/);
  });
});
