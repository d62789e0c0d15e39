import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { encodeBatch, type EncodeOptions } from '../../src/record/batch-builder.js';
import { parseBatchHeader } from '../../src/record/batch-layout.js';
import { decodeBatch, decodeRecords, validateBatch } from '../../src/record/batch-reader.js';
import { isCompressionSupported } from '../../src/record/compression.js';
import type { BytesInput, LogRecord, RecordInput, TimestampType } from '../../src/record/types.js';

const CODECS = (['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const).filter((c) => isCompressionSupported(c));
const NOW = 1_700_000_123_456;

const bytes = (maxLength: number): fc.Arbitrary<BytesInput> =>
  fc.oneof(
    fc.constant(null),
    fc.string({ unit: 'binary', maxLength: Math.min(maxLength, 200) }),
    fc.uint8Array({ maxLength }).map((a) => Buffer.from(a)),
    fc.uint8Array({ maxLength: 50 }), // a plain Uint8Array
  );

const timestamp = fc.oneof(
  fc.constant(undefined),
  fc.constant(0),
  fc.integer({ min: 0, max: 4_000_000_000_000 }),
  fc.integer({ min: Number.MAX_SAFE_INTEGER - 1000, max: Number.MAX_SAFE_INTEGER }),
);

const headerValue = fc.oneof(fc.constant(null), fc.string({ unit: 'binary', maxLength: 20 }), fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)));

const headers = fc.oneof(
  fc.constant(undefined),
  fc.array(fc.record({ key: fc.string({ unit: 'binary', maxLength: 12 }), value: headerValue }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), headerValue, { maxKeys: 4 }),
);

const record: fc.Arbitrary<RecordInput> = fc.record(
  {
    key: fc.oneof(fc.constant(undefined), bytes(64)),
    value: fc.oneof(fc.constant(undefined), bytes(10 * 1024)),
    timestamp,
    headers,
  },
  { requiredKeys: [] },
);

function asBuffer(value: BytesInput | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

function expectedHeaders(input: RecordInput['headers']): { key: string; value: Buffer | null }[] {
  if (input === undefined) return [];
  const pairs = Array.isArray(input)
    ? (input as { key: string; value: BytesInput }[]).map((h) => [h.key, h.value] as const)
    : Object.keys(input).map((k) => [k, (input as Record<string, BytesInput>)[k]!] as const);
  return pairs.map(([key, value]) => ({ key: Buffer.from(key, 'utf8').toString('utf8'), value: asBuffer(value) }));
}

function checkRoundTrip(records: RecordInput[], baseOffset: number, options: EncodeOptions): void {
  const encoded = encodeBatch(records, baseOffset, options);
  const buffer = Buffer.from(encoded.buffer); // the encoder's buffer is reused by the next call
  validateBatch(buffer, 0, { file: 'roundtrip' });
  const { header, records: decoded } = decodeBatch(buffer);

  const timestamps = records.map((r) => r.timestamp ?? options.now);
  const createMax = Math.max(...timestamps);
  const logAppend = options.timestampType === 'LogAppendTime';
  expect(header).toMatchObject({
    baseOffset,
    lastOffset: baseOffset + records.length - 1,
    recordCount: records.length,
    sizeInBytes: buffer.length,
    compression: options.compression,
    timestampType: options.timestampType,
    baseTimestamp: timestamps[0],
    maxTimestamp: logAppend ? options.now : createMax,
    producerId: -1,
    producerEpoch: -1,
    baseSequence: -1,
    partitionLeaderEpoch: options.partitionLeaderEpoch ?? 0,
    isControl: false,
    isTransactional: false,
  });
  expect(encoded).toMatchObject({
    recordCount: records.length,
    lastOffsetDelta: records.length - 1,
    baseTimestamp: timestamps[0],
    maxTimestamp: header.maxTimestamp,
    offsetOfMaxTimestampDelta: logAppend ? 0 : timestamps.indexOf(createMax),
  });
  const expected: LogRecord[] = records.map((r, i) => ({
    offset: baseOffset + i,
    timestamp: logAppend ? options.now : timestamps[i]!,
    key: asBuffer(r.key),
    value: asBuffer(r.value),
    headers: expectedHeaders(r.headers),
  }));
  expect(decoded.map(comparable)).toEqual(expected.map(comparable));
}

/** A record with its bytes as hex strings: deep equality on large Buffers is slow. */
function comparable(r: LogRecord): unknown {
  const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));
  return { ...r, key: hex(r.key), value: hex(r.value), headers: r.headers.map((h) => ({ key: h.key, value: hex(h.value) })) };
}

describe('encodeBatch / decodeBatch round trip', () => {
  for (const compression of CODECS) {
    for (const timestampType of ['CreateTime', 'LogAppendTime'] as TimestampType[]) {
      it(`keeps every field with ${compression} and ${timestampType}`, () => {
        fc.assert(
          fc.property(
            fc.array(record, { minLength: 1, maxLength: 12 }),
            fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 40 })),
            fc.option(fc.integer({ min: -1, max: 1000 }), { nil: undefined }),
            (records, baseOffset, partitionLeaderEpoch) => {
              checkRoundTrip(records, baseOffset, { compression, timestampType, now: NOW, partitionLeaderEpoch });
            },
          ),
          { numRuns: compression === 'none' ? 150 : 60 },
        );
      });
    }
  }

  it('handles batches larger than one LZ4 block and one snappy chunk', () => {
    const big = Buffer.alloc(100_000, 7);
    const records = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: big, timestamp: 1000 - i }));
    for (const compression of CODECS) checkRoundTrip(records, 42, { compression, timestampType: 'CreateTime', now: NOW });
  });

  it('encodes out-of-order timestamps as negative deltas from the first record', () => {
    const records = [{ timestamp: 5000 }, { timestamp: 0 }, { timestamp: Number.MAX_SAFE_INTEGER }, { timestamp: 4999 }];
    checkRoundTrip(records, 0, { compression: 'none', timestampType: 'CreateTime', now: NOW });
  });

  it('keeps the producer’s timestamps as deltas in a LogAppendTime batch, as Kafka does', () => {
    const encoded = encodeBatch([{ timestamp: 100 }, { timestamp: 250 }], 0, { compression: 'none', timestampType: 'LogAppendTime', now: NOW });
    const buf = encoded.buffer;
    expect(parseBatchHeader(buf, 0)).toMatchObject({ baseTimestamp: 100, maxTimestamp: NOW, attributes: 0x08 });
    // second record: length, attributes 0, timestampDelta 150 (zigzag 300 = ac 02), offsetDelta 1
    const second = buf.subarray(61 + 7); // the first record takes 7 bytes
    expect(second.subarray(1, 5).toString('hex')).toBe('00ac0202');
  });

  it('writes plain-object headers in own-key order and array headers with duplicates kept', () => {
    const encoded = encodeBatch(
      [
        { value: 'x', headers: { b: '1', a: null, c: Buffer.from([0xff]) } },
        { value: 'y', headers: [{ key: 'dup', value: '1' }, { key: 'dup', value: '2' }] },
      ],
      0,
      { compression: 'none', timestampType: 'CreateTime', now: NOW },
    );
    const { records } = decodeBatch(Buffer.from(encoded.buffer));
    expect(records[0]!.headers).toEqual([
      { key: 'b', value: Buffer.from('1') },
      { key: 'a', value: null },
      { key: 'c', value: Buffer.from([0xff]) },
    ]);
    expect(records[1]!.headers.map((h) => h.value?.toString())).toEqual(['1', '2']);
  });

  it('treats an empty record as null key and value, and empty strings as empty bytes', () => {
    const encoded = encodeBatch([{}, { key: '', value: '' }], 0, { compression: 'none', timestampType: 'CreateTime', now: NOW });
    const { records } = decodeBatch(Buffer.from(encoded.buffer));
    expect(records.map((r) => [r.key, r.value])).toEqual([
      [null, null],
      [Buffer.alloc(0), Buffer.alloc(0)],
    ]);
  });

  it('encodes a string field as exactly its UTF-8 bytes, short ASCII or not', () => {
    // Short ASCII strings are measured and copied by JS loops, others natively: both must give
    // the bytes of the same record with every string passed as its UTF-8 Buffer.
    const ascii48 = 'k'.repeat(48);
    const strings = ['', 'a', 'sensor-42', ascii48, `${ascii48}x`, 'é', 'key-é', 'ключ', '€uro', 'a\u{1F600}b', 'x\uD800y', `${ascii48.slice(1)}é`, 'z'.repeat(300)];
    const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
    const at = (i: number): string => strings[i % strings.length]!;
    const asStrings: RecordInput[] = strings.map((s, i) => ({ key: s, value: at(i + 1), timestamp: NOW + i, headers: [{ key: s, value: at(i + 2) }] }));
    const asBytes: RecordInput[] = strings.map((s, i) => ({
      key: utf8(s),
      value: utf8(at(i + 1)),
      timestamp: NOW + i,
      headers: [{ key: s, value: utf8(at(i + 2)) }],
    }));
    const options: EncodeOptions = { compression: 'none', timestampType: 'CreateTime', now: NOW };
    const fromStrings = Buffer.from(encodeBatch(asStrings, 7, options).buffer);
    const fromBytes = Buffer.from(encodeBatch(asBytes, 7, options).buffer);
    expect(fromStrings.equals(fromBytes)).toBe(true);
    const { records } = decodeBatch(fromStrings);
    expect(records.map((r) => r.key!.toString('utf8'))).toEqual(strings.map((s) => utf8(s).toString('utf8')));
    expect(records.map((r) => r.headers[0]!.key)).toEqual(strings.map((s) => utf8(s).toString('utf8')));
  });

  it('returns a view of a scratch buffer that the next call reuses', () => {
    const options: EncodeOptions = { compression: 'none', timestampType: 'CreateTime', now: NOW };
    const first = encodeBatch([{ value: 'first' }], 0, options).buffer;
    const copy = Buffer.from(first);
    encodeBatch([{ value: 'other' }], 0, options);
    expect(first.equals(copy)).toBe(false);
  });
});

describe('decodeRecords', () => {
  const options: EncodeOptions = { compression: 'none', timestampType: 'CreateTime', now: NOW };
  const records = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: 1000 + i }));

  for (const compression of CODECS) {
    it(`appends records from minOffset on, at most maxRecords (${compression})`, () => {
      const batch = Buffer.concat([Buffer.alloc(7), encodeBatch(records, 100, { ...options, compression }).buffer]);
      const out: LogRecord[] = [];
      expect(decodeRecords(batch, 7, out, 103, 4)).toBe(4);
      expect(out.map((r) => r.offset)).toEqual([103, 104, 105, 106]);
      expect(decodeRecords(batch, 7, out, 0, 1000)).toBe(10);
      expect(out).toHaveLength(14);
      expect(decodeRecords(batch, 7, out, 110, 1000)).toBe(0);
      expect(decodeRecords(batch, 7, out, 0, 0)).toBe(0);
      expect(out[4]!.key!.toString()).toBe('k0');
    });
  }

  it('returns zero-copy views of an uncompressed batch', () => {
    const batch = Buffer.from(encodeBatch([{ value: 'abc' }], 0, options).buffer);
    const out: LogRecord[] = [];
    decodeRecords(batch, 0, out, 0, 1);
    expect(out[0]!.value!.buffer).toBe(batch.buffer);
  });

  it('reports LogAppendTime records with the batch maxTimestamp', () => {
    const batch = Buffer.from(encodeBatch([{ timestamp: 1 }, { timestamp: 2 }], 0, { ...options, timestampType: 'LogAppendTime' }).buffer);
    const out: LogRecord[] = [];
    decodeRecords(batch, 0, out, 0, 10);
    expect(out.map((r) => r.timestamp)).toEqual([NOW, NOW]);
  });
});
