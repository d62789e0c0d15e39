import { describe, expect, it } from 'vitest';

import { InvalidArgumentError, InvalidRecordError } from '../../src/errors.js';
import { encodeBatch, type EncodeOptions } from '../../src/record/batch-builder.js';
import type { RecordInput } from '../../src/record/types.js';

const options: EncodeOptions = { compression: 'none', timestampType: 'CreateTime', now: 1_700_000_000_000 };

/** Encodes `bad` as the third record of a batch and returns the InvalidRecordError message. */
function messageFor(bad: unknown): string {
  const records = [{ value: 'ok' }, { value: 'ok' }, bad] as RecordInput[];
  try {
    encodeBatch(records, 0, options);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRecordError);
    expect((err as InvalidRecordError).code).toBe('SEGLOG_INVALID_RECORD');
    return (err as Error).message;
  }
  throw new Error('expected InvalidRecordError');
}

describe('encodeBatch input validation', () => {
  it.each([
    ['null', null, /Record 2: must be an object/],
    ['a number', 42, /Record 2: must be an object/],
    ['a string', 'value', /Record 2: must be an object/],
    ['an array', [{ value: 'x' }], /Record 2: must be an object.*an array/],
    ['a Buffer', Buffer.from('x'), /Record 2: must be an object/],
  ])('rejects a record that is %s', (_name, bad, pattern) => {
    expect(messageFor(bad)).toMatch(pattern);
  });

  it.each([
    ['key', { key: 12 }, /Record 2: key must be a Buffer, Uint8Array, string or null, got number/],
    ['key', { key: { a: 1 } }, /Record 2: key must be .*got an object \(Object\)/],
    ['value', { value: true }, /Record 2: value must be .*got boolean/],
    ['value', { value: new Uint16Array(2) }, /Record 2: value must be .*Uint16Array/],
    ['value', { value: new ArrayBuffer(4) }, /Record 2: value must be .*ArrayBuffer/],
    ['value', { value: [1, 2] }, /Record 2: value must be .*an array/],
  ])('rejects a %s of a wrong type', (_field, bad, pattern) => {
    expect(messageFor(bad)).toMatch(pattern);
  });

  it.each([
    [-1],
    [1.5],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [2 ** 53],
    ['1700000000000'],
    [null],
    [BigInt(5)],
  ])('rejects timestamp %s', (timestamp) => {
    expect(messageFor({ value: 'x', timestamp })).toMatch(/Record 2: timestamp must be a non-negative safe integer/);
  });

  it('accepts timestamps 0 and 2^53 - 1', () => {
    expect(() => encodeBatch([{ timestamp: 0 }, { timestamp: Number.MAX_SAFE_INTEGER }], 0, options)).not.toThrow();
  });

  it.each([
    ['headers that are a string', { headers: 'h' }, /Record 2: headers must be an array of \{ key, value \} or a plain object/],
    ['headers that are a number', { headers: 3 }, /Record 2: headers must be/],
    ['a header that is not an object', { headers: ['h'] }, /Record 2: header 0 must be an object/],
    ['a header key that is not a string', { headers: [{ key: 1, value: 'x' }] }, /Record 2: header 0 key must be a string, got number/],
    ['a missing header key', { headers: [{ value: 'x' }] }, /Record 2: header 0 key must be a string, got undefined/],
    ['a header value of a wrong type', { headers: [{ key: 'a', value: 5 }] }, /Record 2: header 0 value must be a Buffer/],
    ['an object header value of a wrong type', { headers: { trace: {} } }, /Record 2: header 'trace' value must be a Buffer/],
  ])('rejects %s', (_name, bad, pattern) => {
    expect(messageFor({ value: 'x', ...bad })).toMatch(pattern);
  });

  it('rejects an empty record list', () => {
    expect(() => encodeBatch([], 0, options)).toThrow(InvalidRecordError);
    expect(() => encodeBatch([], 0, options)).toThrow(/at least one record/);
  });

  it('rejects bad arguments with InvalidArgumentError', () => {
    const one = [{ value: 'x' }];
    expect(() => encodeBatch('x' as unknown as RecordInput[], 0, options)).toThrow(InvalidArgumentError);
    expect(() => encodeBatch(one, -1, options)).toThrow(InvalidArgumentError);
    expect(() => encodeBatch(one, 0.5, options)).toThrow(/Base offset/);
    expect(() => encodeBatch([{}, {}], Number.MAX_SAFE_INTEGER, options)).toThrow(InvalidArgumentError);
    expect(() => encodeBatch(one, 0, { ...options, now: -5 })).toThrow(/now must be/);
    expect(() => encodeBatch(one, 0, { ...options, compression: 'brotli' as 'none' })).toThrow(/Unknown compression type brotli/);
    expect(() => encodeBatch(one, 0, { ...options, timestampType: 'Other' as 'CreateTime' })).toThrow(/Unknown timestamp type/);
    expect(() => encodeBatch(one, 0, { ...options, partitionLeaderEpoch: -2 })).toThrow(/partitionLeaderEpoch/);
  });

  it('leaves no trace of a failed call in the next batch', () => {
    expect(() => encodeBatch([{ value: 'secret', headers: { a: 'b' } }, { value: 7 as unknown as string }], 0, options)).toThrow(InvalidRecordError);
    const encoded = encodeBatch([{ value: 'fine' }], 0, options);
    expect(encoded.buffer.includes('secret')).toBe(false);
    expect(encoded.recordCount).toBe(1);
  });
});
