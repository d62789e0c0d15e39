/**
 * Byte layout of a Kafka record batch, magic v2, and accessors that read header fields straight
 * from a buffer without decoding any record.
 *
 * ```
 * RecordBatch (all integers big-endian; offsets from the start of the batch)
 *    0  baseOffset            int64   offset of the first record of the batch
 *    8  length                int32   bytes after this field (batch size - 12)
 *   12  partitionLeaderEpoch  int32   -1 = none; NOT covered by the CRC
 *   16  magic                 int8    2
 *   17  crc                   uint32  CRC-32C of bytes [21, end)
 *   21  attributes            int16   see below
 *   23  lastOffsetDelta       int32   lastOffset = baseOffset + lastOffsetDelta
 *   27  baseTimestamp         int64   timestamp of the first record; record deltas are relative to it
 *   35  maxTimestamp          int64   CreateTime: max record timestamp; LogAppendTime: the append time
 *   43  producerId            int64   -1 = none
 *   51  producerEpoch         int16   -1 = none
 *   53  baseSequence          int32   -1 = none
 *   57  recordsCount          int32   number of records
 *   61  records               bytes   the records, or one compressed stream of all of them
 *
 * attributes (only the low byte is used):
 *   bit 0-2  compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
 *   bit 3    timestamp type: 0 CreateTime, 1 LogAppendTime
 *   bit 4    transactional
 *   bit 5    control batch
 *   bit 6    has delete horizon (set by the log cleaner; baseTimestamp is then the horizon)
 * ```
 *
 * The CRC starts at `attributes`: the leader rewrites `baseOffset` and `partitionLeaderEpoch` on
 * append without recomputing it. A batch is `LOG_OVERHEAD + length` bytes and never less than
 * `RECORD_BATCH_OVERHEAD` (61).
 *
 * The `read*` accessors do no bounds check: callers make sure the 61 header bytes are in the buffer.
 * int64 fields are read as two 32-bit halves into a JS number (about 7x faster than
 * `readBigInt64BE`); values beyond 2^53 lose precision, which offsets and timestamps never reach.
 */
import { CorruptRecordError, type ErrorContext } from '../errors.js';
import type { CompressionType, TimestampType } from './types.js';

export const BASE_OFFSET_OFFSET = 0;
export const BASE_OFFSET_LENGTH = 8;
export const LENGTH_OFFSET = BASE_OFFSET_OFFSET + BASE_OFFSET_LENGTH;
export const LENGTH_LENGTH = 4;
export const PARTITION_LEADER_EPOCH_OFFSET = LENGTH_OFFSET + LENGTH_LENGTH;
export const PARTITION_LEADER_EPOCH_LENGTH = 4;
export const MAGIC_OFFSET = PARTITION_LEADER_EPOCH_OFFSET + PARTITION_LEADER_EPOCH_LENGTH;
export const MAGIC_LENGTH = 1;
export const CRC_OFFSET = MAGIC_OFFSET + MAGIC_LENGTH;
export const CRC_LENGTH = 4;
export const ATTRIBUTES_OFFSET = CRC_OFFSET + CRC_LENGTH;
export const ATTRIBUTES_LENGTH = 2;
export const LAST_OFFSET_DELTA_OFFSET = ATTRIBUTES_OFFSET + ATTRIBUTES_LENGTH;
export const LAST_OFFSET_DELTA_LENGTH = 4;
export const BASE_TIMESTAMP_OFFSET = LAST_OFFSET_DELTA_OFFSET + LAST_OFFSET_DELTA_LENGTH;
export const BASE_TIMESTAMP_LENGTH = 8;
export const MAX_TIMESTAMP_OFFSET = BASE_TIMESTAMP_OFFSET + BASE_TIMESTAMP_LENGTH;
export const MAX_TIMESTAMP_LENGTH = 8;
export const PRODUCER_ID_OFFSET = MAX_TIMESTAMP_OFFSET + MAX_TIMESTAMP_LENGTH;
export const PRODUCER_ID_LENGTH = 8;
export const PRODUCER_EPOCH_OFFSET = PRODUCER_ID_OFFSET + PRODUCER_ID_LENGTH;
export const PRODUCER_EPOCH_LENGTH = 2;
export const BASE_SEQUENCE_OFFSET = PRODUCER_EPOCH_OFFSET + PRODUCER_EPOCH_LENGTH;
export const BASE_SEQUENCE_LENGTH = 4;
export const RECORDS_COUNT_OFFSET = BASE_SEQUENCE_OFFSET + BASE_SEQUENCE_LENGTH;
export const RECORDS_COUNT_LENGTH = 4;
export const RECORDS_OFFSET = RECORDS_COUNT_OFFSET + RECORDS_COUNT_LENGTH;

/** Bytes before the `length` field's payload: baseOffset + length (every log entry, any magic). */
export const LOG_OVERHEAD = LENGTH_OFFSET + LENGTH_LENGTH;
/** Size of a v2 batch with no records: the whole header. */
export const RECORD_BATCH_OVERHEAD = RECORDS_OFFSET;
/** Bytes needed to read the magic byte of any log entry (it is at byte 16 for every magic). */
export const HEADER_SIZE_UP_TO_MAGIC = MAGIC_OFFSET + MAGIC_LENGTH;
/** The CRC covers [CRC_COVERAGE_START, end of batch). */
export const CRC_COVERAGE_START = ATTRIBUTES_OFFSET;

/** The only magic seglog reads and writes. */
export const CURRENT_MAGIC = 2;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_FLAG_MASK = 0x10;
export const CONTROL_FLAG_MASK = 0x20;
export const DELETE_HORIZON_FLAG_MASK = 0x40;

export const COMPRESSION_ID_NONE = 0;
export const COMPRESSION_ID_GZIP = 1;
export const COMPRESSION_ID_SNAPPY = 2;
export const COMPRESSION_ID_LZ4 = 3;
export const COMPRESSION_ID_ZSTD = 4;

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;
export const NO_TIMESTAMP = -1;

/** Kafka's codecs, indexed by their attributes id. */
export const COMPRESSION_TYPES: readonly CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** The largest int32: the format's limit on sizes, lengths and offsets relative to a segment. */
export const INT32_MAX = 0x7fffffff;

/** 2^32: the weight of an int64's high half when it is read or written as a number. */
export const TWO_POW_32 = 4294967296;

/** The attributes codec id of a compression type (0-4). */
export function compressionId(type: CompressionType): number {
  switch (type) {
    case 'none':
      return COMPRESSION_ID_NONE;
    case 'gzip':
      return COMPRESSION_ID_GZIP;
    case 'snappy':
      return COMPRESSION_ID_SNAPPY;
    case 'lz4':
      return COMPRESSION_ID_LZ4;
    case 'zstd':
      return COMPRESSION_ID_ZSTD;
    default:
      throw new TypeError(`Unknown compression type ${String(type)}`);
  }
}

/** The compression type of a codec id, or undefined for the ids 5-7 that Kafka does not define. */
export function compressionTypeOf(id: number): CompressionType | undefined {
  return COMPRESSION_TYPES[id];
}

/** True if `type` is one of Kafka's codecs. */
export function isCompressionType(type: unknown): type is CompressionType {
  return typeof type === 'string' && (COMPRESSION_TYPES as readonly string[]).includes(type);
}

// ---------------------------------------------------------------------------------------------
// Big-endian primitives (no bounds checks; see the module comment).

/** Signed int32 at `pos`. */
export function readInt32(buf: Uint8Array, pos: number): number {
  return (buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3];
}

/** Unsigned int32 at `pos`. */
export function readUInt32(buf: Uint8Array, pos: number): number {
  return readInt32(buf, pos) >>> 0;
}

/** Signed int16 at `pos`. */
export function readInt16(buf: Uint8Array, pos: number): number {
  return (((buf[pos] << 8) | buf[pos + 1]) << 16) >> 16;
}

/** Signed int64 at `pos` as a number (exact within +-2^53). */
export function readInt64(buf: Uint8Array, pos: number): number {
  return readInt32(buf, pos) * TWO_POW_32 + readUInt32(buf, pos + 4);
}

/** Writes a signed or unsigned int32 (the low 32 bits of `value`); returns the next position. */
export function writeInt32(buf: Uint8Array, pos: number, value: number): number {
  buf[pos] = value >>> 24;
  buf[pos + 1] = value >>> 16;
  buf[pos + 2] = value >>> 8;
  buf[pos + 3] = value;
  return pos + 4;
}

/** Writes an int16 (the low 16 bits of `value`); returns the next position. */
export function writeInt16(buf: Uint8Array, pos: number, value: number): number {
  buf[pos] = value >>> 8;
  buf[pos + 1] = value;
  return pos + 2;
}

/** Writes a safe integer as an int64; returns the next position. */
export function writeInt64(buf: Uint8Array, pos: number, value: number): number {
  writeInt32(buf, pos, Math.floor(value / TWO_POW_32));
  return writeInt32(buf, pos + 4, value >>> 0);
}

// ---------------------------------------------------------------------------------------------
// Header accessors. `pos` is where the batch starts in `buf`.

export function readBaseOffset(buf: Uint8Array, pos: number): number {
  return readInt64(buf, pos + BASE_OFFSET_OFFSET);
}

/** The `length` field: bytes that follow it. */
export function readLength(buf: Uint8Array, pos: number): number {
  return readInt32(buf, pos + LENGTH_OFFSET);
}

/** Total size of the batch in bytes, `LOG_OVERHEAD + length`. */
export function readBatchSize(buf: Uint8Array, pos: number): number {
  return LOG_OVERHEAD + readLength(buf, pos);
}

export function readPartitionLeaderEpoch(buf: Uint8Array, pos: number): number {
  return readInt32(buf, pos + PARTITION_LEADER_EPOCH_OFFSET);
}

export function readMagic(buf: Uint8Array, pos: number): number {
  return (buf[pos + MAGIC_OFFSET] << 24) >> 24;
}

/** The stored CRC, unsigned. */
export function readCrc(buf: Uint8Array, pos: number): number {
  return readUInt32(buf, pos + CRC_OFFSET);
}

/** The attributes field (its low byte is all Kafka interprets). */
export function readAttributes(buf: Uint8Array, pos: number): number {
  return readInt16(buf, pos + ATTRIBUTES_OFFSET);
}

export function readLastOffsetDelta(buf: Uint8Array, pos: number): number {
  return readInt32(buf, pos + LAST_OFFSET_DELTA_OFFSET);
}

/** baseOffset + lastOffsetDelta: the last offset the batch covers, even if compaction removed it. */
export function readLastOffset(buf: Uint8Array, pos: number): number {
  return readBaseOffset(buf, pos) + readLastOffsetDelta(buf, pos);
}

export function readBaseTimestamp(buf: Uint8Array, pos: number): number {
  return readInt64(buf, pos + BASE_TIMESTAMP_OFFSET);
}

export function readMaxTimestamp(buf: Uint8Array, pos: number): number {
  return readInt64(buf, pos + MAX_TIMESTAMP_OFFSET);
}

export function readProducerId(buf: Uint8Array, pos: number): number {
  return readInt64(buf, pos + PRODUCER_ID_OFFSET);
}

export function readProducerEpoch(buf: Uint8Array, pos: number): number {
  return readInt16(buf, pos + PRODUCER_EPOCH_OFFSET);
}

export function readBaseSequence(buf: Uint8Array, pos: number): number {
  return readInt32(buf, pos + BASE_SEQUENCE_OFFSET);
}

export function readRecordCount(buf: Uint8Array, pos: number): number {
  return readInt32(buf, pos + RECORDS_COUNT_OFFSET);
}

/** Codec id from the attributes (0-4 for Kafka's codecs; 5-7 are invalid). */
export function readCompressionId(buf: Uint8Array, pos: number): number {
  return buf[pos + ATTRIBUTES_OFFSET + 1] & COMPRESSION_CODEC_MASK;
}

export function readTimestampType(buf: Uint8Array, pos: number): TimestampType {
  return (buf[pos + ATTRIBUTES_OFFSET + 1] & TIMESTAMP_TYPE_MASK) !== 0 ? 'LogAppendTime' : 'CreateTime';
}

export function readIsControl(buf: Uint8Array, pos: number): boolean {
  return (buf[pos + ATTRIBUTES_OFFSET + 1] & CONTROL_FLAG_MASK) !== 0;
}

export function readIsTransactional(buf: Uint8Array, pos: number): boolean {
  return (buf[pos + ATTRIBUTES_OFFSET + 1] & TRANSACTIONAL_FLAG_MASK) !== 0;
}

/** Rewrites baseOffset in place; outside the CRC, so the batch stays valid. */
export function writeBaseOffset(buf: Uint8Array, pos: number, baseOffset: number): void {
  writeInt64(buf, pos + BASE_OFFSET_OFFSET, baseOffset);
}

/** Rewrites partitionLeaderEpoch in place; outside the CRC, so the batch stays valid. */
export function writePartitionLeaderEpoch(buf: Uint8Array, pos: number, epoch: number): void {
  writeInt32(buf, pos + PARTITION_LEADER_EPOCH_OFFSET, epoch);
}

// ---------------------------------------------------------------------------------------------

/** Every header field of a v2 batch, decoded. */
export interface BatchHeader {
  baseOffset: number;
  /** The `length` field: `sizeInBytes - LOG_OVERHEAD`. */
  length: number;
  /** Total bytes of the batch, header included. */
  sizeInBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** Stored CRC-32C, unsigned. */
  crc: number;
  attributes: number;
  compression: CompressionType;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  /** baseOffset + lastOffsetDelta. */
  lastOffset: number;
  /** lastOffset + 1. */
  nextOffset: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** Context naming where a batch came from, for error messages. */
export interface BatchContext {
  /** File the bytes were read from. */
  file?: string | undefined;
  /** Position of the batch in that file (defaults to the position in the buffer). */
  position?: number | undefined;
  /** Largest records section a compressed batch may inflate to (`maxDecompressedBytes`); default: the codecs' own limit. */
  maxDecompressedBytes?: number | undefined;
}

/** "batch at position P in FILE": the prefix of every corruption message. */
export function describeBatch(pos: number, context: BatchContext | undefined): string {
  const position = context?.position ?? pos;
  const file = context?.file;
  return file === undefined ? `record batch at position ${position}` : `record batch at position ${position} in ${file}`;
}

/** Builds a CorruptRecordError for the batch at `pos` carrying file, position and cause. */
export function corruptBatch(
  pos: number,
  context: BatchContext | undefined,
  detail: string,
  extra: Pick<ErrorContext, 'offset' | 'cause'> = {},
): CorruptRecordError {
  const errorContext: ErrorContext = { position: context?.position ?? pos, ...extra };
  if (context?.file !== undefined) errorContext.file = context.file;
  return new CorruptRecordError(`Corrupt ${describeBatch(pos, context)}: ${detail}`, errorContext);
}

/**
 * Decodes the 61-byte header at `pos`. Checks only that the header bytes are present and the codec
 * id is known (CorruptRecordError otherwise); magic, size and CRC are `validateBatch`'s job.
 */
export function parseBatchHeader(buf: Uint8Array, pos: number, context?: BatchContext): BatchHeader {
  if (pos < 0 || buf.length - pos < RECORD_BATCH_OVERHEAD) {
    throw corruptBatch(pos, context, `header needs ${RECORD_BATCH_OVERHEAD} bytes, ${Math.max(0, buf.length - pos)} available`);
  }
  const attributes = readAttributes(buf, pos);
  const compression = compressionTypeOf(attributes & COMPRESSION_CODEC_MASK);
  if (compression === undefined) {
    throw corruptBatch(pos, context, `unknown compression codec id ${attributes & COMPRESSION_CODEC_MASK}`);
  }
  const baseOffset = readBaseOffset(buf, pos);
  const length = readLength(buf, pos);
  const lastOffsetDelta = readLastOffsetDelta(buf, pos);
  return {
    baseOffset,
    length,
    sizeInBytes: LOG_OVERHEAD + length,
    partitionLeaderEpoch: readPartitionLeaderEpoch(buf, pos),
    magic: readMagic(buf, pos),
    crc: readCrc(buf, pos),
    attributes,
    compression,
    timestampType: (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? 'LogAppendTime' : 'CreateTime',
    isTransactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    isControl: (attributes & CONTROL_FLAG_MASK) !== 0,
    hasDeleteHorizon: (attributes & DELETE_HORIZON_FLAG_MASK) !== 0,
    lastOffsetDelta,
    lastOffset: baseOffset + lastOffsetDelta,
    nextOffset: baseOffset + lastOffsetDelta + 1,
    baseTimestamp: readBaseTimestamp(buf, pos),
    maxTimestamp: readMaxTimestamp(buf, pos),
    producerId: readProducerId(buf, pos),
    producerEpoch: readProducerEpoch(buf, pos),
    baseSequence: readBaseSequence(buf, pos),
    recordCount: readRecordCount(buf, pos),
  };
}
