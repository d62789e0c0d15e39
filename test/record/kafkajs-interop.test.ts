/**
 * Cross-checks with code nobody here wrote: kafkajs's record-batch decoder and encoder, with lz4js
 * and kafkajs-snappy (snappyjs) registered as kafkajs's LZ4 and Snappy codecs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { encodeBatch } from '../../src/record/batch-builder.js';
import { readCrc } from '../../src/record/batch-layout.js';
import { decodeBatch, validateBatch } from '../../src/record/batch-reader.js';
import type { BytesInput, CompressionType, RecordInput, TimestampType } from '../../src/record/types.js';
import { decodeWithKafkaJs, kafkajs, registerKafkaJsCodecs } from './helpers.js';

const NOW = 1_732_000_000_000;
const CODECS: readonly Exclude<CompressionType, 'zstd'>[] = ['none', 'gzip', 'lz4', 'snappy'];
const KAFKAJS_CODEC = { none: 'None', gzip: 'GZIP', lz4: 'LZ4', snappy: 'Snappy' } as const;

const bytesOrNull = (maxLength: number): fc.Arbitrary<Buffer | string | null> =>
  fc.oneof(fc.constant(null), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength }).map((a) => Buffer.from(a)));

/**
 * Records whose header keys are unique and not Object.prototype names (kafkajs folds headers into
 * an object literal).
 */
const records: fc.Arbitrary<RecordInput[]> = fc.array(
  fc.record({
    key: bytesOrNull(32),
    value: bytesOrNull(4096),
    timestamp: fc.integer({ min: 0, max: 2 * NOW }),
    headers: fc.uniqueArray(fc.record({ key: fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !(k in {})), value: bytesOrNull(16) }), {
      selector: (h) => h.key,
      maxLength: 3,
    }),
  }),
  { minLength: 1, maxLength: 8 },
);

const bytes = (v: BytesInput | undefined): Buffer | null => (v === null || v === undefined ? null : Buffer.from(v as Buffer | string));

describe('our batches, decoded by kafkajs', () => {
  for (const compression of CODECS) {
    for (const timestampType of ['CreateTime', 'LogAppendTime'] as TimestampType[]) {
      it(`agree on every field (${compression}, ${timestampType})`, async () => {
        await fc.assert(
          fc.asyncProperty(records, fc.integer({ min: 0, max: 2 ** 40 }), async (input, baseOffset) => {
            const encoded = encodeBatch(input, baseOffset, { compression, timestampType, now: NOW, partitionLeaderEpoch: 3 });
            const buffer = Buffer.from(encoded.buffer);
            expect(kafkajs.crc32C(buffer.subarray(21))).toBe(readCrc(buffer, 0));

            const batch = await decodeWithKafkaJs(buffer);
            const logAppend = timestampType === 'LogAppendTime';
            expect(batch).toMatchObject({
              firstOffset: String(baseOffset),
              lastOffsetDelta: input.length - 1,
              firstTimestamp: String(input[0]!.timestamp),
              maxTimestamp: String(logAppend ? NOW : Math.max(...input.map((r) => r.timestamp!))),
              partitionLeaderEpoch: 3,
              producerId: '-1',
              timestampType: logAppend ? 1 : 0,
            });
            expect(batch.records).toHaveLength(input.length);
            batch.records.forEach((record, i) => {
              const source = input[i]!;
              expect(record.offset).toBe(String(baseOffset + i));
              expect(record.timestamp).toBe(String(logAppend ? NOW : source.timestamp));
              expect(record.key).toEqual(bytes(source.key));
              expect(record.value).toEqual(bytes(source.value));
              const headers = source.headers as { key: string; value: Buffer | string | null }[];
              expect(record.headers).toEqual(Object.fromEntries(headers.map((h) => [h.key, bytes(h.value)])));
            });
          }),
          { numRuns: 40 },
        );
      });
    }
  }
});

/** kafkajs's record encoder cannot write a null header value: use empty ones there. */
const withoutNullHeaderValues = (input: RecordInput[]): RecordInput[] =>
  input.map((r) => ({ ...r, headers: (r.headers as { key: string; value: BytesInput }[]).map((h) => ({ key: h.key, value: h.value ?? '' })) }));

const headerObject = (r: RecordInput): Record<string, unknown> =>
  Object.fromEntries((r.headers as { key: string; value: unknown }[]).map((h) => [h.key, h.value]));

describe('kafkajs batches, decoded by us', () => {
  for (const compression of CODECS) {
    it(`agree on every field (${compression})`, async () => {
      registerKafkaJsCodecs();
      await fc.assert(
        fc.asyncProperty(records.map(withoutNullHeaderValues), fc.integer({ min: 0, max: 2 ** 40 }), async (input, baseOffset) => {
          const first = input[0]!.timestamp!;
          const max = Math.max(...input.map((r) => r.timestamp!));
          const encoder = await kafkajs.RecordBatch({
            compression: kafkajs.compression.Types[KAFKAJS_CODEC[compression]],
            firstOffset: kafkajs.Long.fromValue(baseOffset),
            firstTimestamp: first,
            maxTimestamp: max,
            partitionLeaderEpoch: 5,
            lastOffsetDelta: input.length - 1,
            records: input.map((r, i) =>
              kafkajs.Record({
                offsetDelta: i,
                timestampDelta: r.timestamp! - first,
                key: r.key,
                value: r.value,
                headers: headerObject(r),
              }),
            ),
          });
          const buffer = encoder.buffer;
          validateBatch(buffer, 0, { file: 'kafkajs' });
          const { header, records: decoded } = decodeBatch(buffer);
          expect(header).toMatchObject({
            baseOffset,
            lastOffset: baseOffset + input.length - 1,
            compression,
            timestampType: 'CreateTime',
            baseTimestamp: first,
            maxTimestamp: max,
            partitionLeaderEpoch: 5,
            recordCount: input.length,
          });
          expect(decoded.map((r) => r.offset)).toEqual(input.map((_, i) => baseOffset + i));
          expect(decoded.map((r) => r.timestamp)).toEqual(input.map((r) => r.timestamp));
          decoded.forEach((record, i) => {
            const source = input[i]!;
            expect(record.key).toEqual(bytes(source.key));
            expect(record.value).toEqual(bytes(source.value));
            // kafkajs writes headers in Object.keys order of the object it is given.
            const headers = Object.entries(headerObject(source));
            expect(record.headers).toEqual(headers.map(([key, value]) => ({ key, value: bytes(value as Buffer | string) })));
          });
        }),
        { numRuns: 40 },
      );
    });
  }
});
