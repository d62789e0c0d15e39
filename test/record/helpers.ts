/**
 * Shared test helpers for the record codec: independent third-party codecs (kafkajs's record-batch
 * encoder/decoder, lz4js, kafkajs-snappy over snappyjs), and a builder of hand-made batches.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { writeInt16, writeInt32, writeInt64 } from '../../src/record/batch-layout.js';
import { crc32cJs } from '../../src/record/crc32c.js';

const require = createRequire(import.meta.url);

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface KafkaJsRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
}

export interface KafkaJsBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  lastOffsetDelta: number;
  partitionLeaderEpoch: number;
  producerId: string;
  timestampType: number;
  records: KafkaJsRecord[];
}

/** kafkajs (CommonJS) internals used as an independent implementation. */
export const kafkajs = {
  Decoder: require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown,
  decodeBatch: require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: unknown) => Promise<KafkaJsBatch>,
  RecordBatch: (require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (args: Record<string, unknown>) => Promise<{ buffer: Buffer }> })
    .RecordBatch,
  Record: require('kafkajs/src/protocol/recordBatch/record/v0') as (args: Record<string, unknown>) => unknown,
  Long: require('kafkajs/src/utils/long') as { fromValue(v: number | string | bigint): unknown },
  crc32C: require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number,
  compression: require('kafkajs/src/protocol/message/compression') as {
    Types: Record<'None' | 'GZIP' | 'Snappy' | 'LZ4' | 'ZSTD', number>;
    Codecs: Record<number, () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }>;
  },
};

/** lz4js: a pure-JS LZ4 frame implementation nobody here wrote. */
export const lz4js = require('lz4js') as {
  compress(src: Uint8Array): Uint8Array;
  decompress(src: Uint8Array): Uint8Array;
};

/** lz4js's XXH32, for building frame headers by hand. */
export const xxh32 = require('lz4js/xxh32.js') as { hash(seed: number, src: Uint8Array, index: number, length: number): number };

/** kafkajs-snappy: xerial framing over snappyjs (pure JS). */
export const kafkajsSnappy = (require('kafkajs-snappy') as () => {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(b: Buffer): Promise<Buffer>;
})();

let codecsRegistered = false;

/** Registers lz4js and kafkajs-snappy as kafkajs's LZ4 and Snappy codecs. */
export function registerKafkaJsCodecs(): void {
  if (codecsRegistered) return;
  const { Codecs, Types } = kafkajs.compression;
  Codecs[Types.LZ4] = () => ({
    compress: async (encoder) => Buffer.from(lz4js.compress(encoder.buffer)),
    decompress: async (buffer) => Buffer.from(lz4js.decompress(buffer)),
  });
  Codecs[Types.Snappy] = () => kafkajsSnappy;
  codecsRegistered = true;
}

/** Decodes one batch with kafkajs's decoder. */
export async function decodeWithKafkaJs(batch: Buffer): Promise<KafkaJsBatch> {
  registerKafkaJsCodecs();
  return kafkajs.decodeBatch(new kafkajs.Decoder(batch));
}

/** Fields of a hand-made batch header; unspecified ones get a plain producer's values. */
export interface RawBatchFields {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  magic?: number;
  attributes?: number;
  lastOffsetDelta?: number;
  baseTimestamp?: number;
  maxTimestamp?: number;
  recordCount: number;
}

/** A v2 batch around a hand-made records section, with a correct CRC. */
export function rawBatch(records: Buffer, fields: RawBatchFields): Buffer {
  const buf = Buffer.alloc(61 + records.length);
  writeInt64(buf, 0, fields.baseOffset ?? 0);
  writeInt32(buf, 8, buf.length - 12);
  writeInt32(buf, 12, fields.partitionLeaderEpoch ?? 0);
  buf[16] = fields.magic ?? 2;
  writeInt16(buf, 21, fields.attributes ?? 0);
  writeInt32(buf, 23, fields.lastOffsetDelta ?? Math.max(0, fields.recordCount - 1));
  writeInt64(buf, 27, fields.baseTimestamp ?? 1_700_000_000_000);
  writeInt64(buf, 35, fields.maxTimestamp ?? 1_700_000_000_000);
  writeInt64(buf, 43, -1);
  writeInt16(buf, 51, -1);
  writeInt32(buf, 53, -1);
  writeInt32(buf, 57, fields.recordCount);
  records.copy(buf, 61);
  writeInt32(buf, 17, crc32cJs(buf, 21, buf.length));
  return buf;
}

/** Reference zigzag varint/varlong encoder using BigInt (independent of src/record/varint.ts). */
export function referenceVarlong(value: bigint): Buffer {
  let z = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const bytes: number[] = [];
  while (z >= 0x80n) {
    bytes.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  bytes.push(Number(z));
  return Buffer.from(bytes);
}
