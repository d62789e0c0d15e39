/** The record-batch codec: Kafka v2 batch layout, encoder, decoder, codecs and checksums. */
export * from './batch-layout.js';
export { encodeBatch, type EncodeOptions, type EncodedBatch } from './batch-builder.js';
export { decodeBatch, decodeRecords, validateBatch, type DecodedBatch } from './batch-reader.js';
export { compress, decompress, isCompressionSupported } from './compression.js';
export { crc32c, crc32cJs, crc32cNative, NATIVE_CRC32C_MIN_BYTES } from './crc32c.js';
export * from './varint.js';
export type * from './types.js';
