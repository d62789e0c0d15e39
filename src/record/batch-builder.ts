/**
 * Encodes records into one Kafka v2 record batch (layout in `batch-layout.ts`).
 *
 * ```
 * Record (inside the records section; every varint/varlong is zigzag)
 *   length          varint   bytes after this field
 *   attributes      int8     0
 *   timestampDelta  varlong  timestamp - baseTimestamp
 *   offsetDelta     varint   offset - baseOffset
 *   keyLength       varint   -1 = null key
 *   key             bytes
 *   valueLength     varint   -1 = null value
 *   value           bytes
 *   headerCount     varint
 *   Header * headerCount:
 *     headerKeyLength    varint
 *     headerKey          UTF-8
 *     headerValueLength  varint   -1 = null value
 *     headerValue        bytes
 * ```
 *
 * Hot path, run once per append: one pass over the records validates each one, computes its
 * lengths (UTF-8 byte lengths included; each property is read once) and writes it in schema
 * order straight behind the previous one (strings straight from the string: short ASCII ones by
 * a JS loop, which is cheaper than a native call, others by `Buffer#write`), growing the buffer
 * when the next record would not fit; the header and last the CRC-32C of bytes [21, end)
 * complete it. One pass keeps no per-field state between a measuring and a writing pass. A
 * compressed batch encodes its records into a second scratch buffer first; lz4 then writes its
 * frame straight behind the header, other codecs' output is copied there.
 *
 * The batch itself is written into a reused scratch buffer that grows when too small (up to
 * 16 MiB; larger batches get their own buffer), and `EncodedBatch.buffer` is a view of it: valid
 * only until the next `encodeBatch` call. Fresh memory per batch would cost page faults on every
 * append; the log writes the batch out at once, so the reuse is safe there.
 */
import { InvalidArgumentError, InvalidRecordError, RecordTooLargeError } from '../errors.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  CRC_COVERAGE_START,
  CRC_OFFSET,
  CURRENT_MAGIC,
  INT32_MAX,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  compressionId,
  isCompressionType,
  writeInt16,
  writeInt32,
  writeInt64,
} from './batch-layout.js';
import { compress, lz4CompressFrameInto, lz4FrameBound } from './compression.js';
import { crc32c } from './crc32c.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';
import type { CompressionType, RecordInput, TimestampType } from './types.js';

/** How to encode a batch. */
export interface EncodeOptions {
  compression: CompressionType;
  timestampType: TimestampType;
  /** Clock reading (ms since the epoch): default record timestamp, and the LogAppendTime. */
  now: number;
  /** Written at byte 12; default 0, as a single Kafka leader at epoch 0 writes. */
  partitionLeaderEpoch?: number | undefined;
}

/** A batch ready to be written, and what the log needs to know about it. */
export interface EncodedBatch {
  /**
   * Exactly the batch's bytes. A view into a scratch buffer that the next `encodeBatch` call
   * overwrites: write it out (or copy it) before encoding again.
   */
  buffer: Buffer;
  recordCount: number;
  /** recordCount - 1: the batch covers [baseOffset, baseOffset + lastOffsetDelta]. */
  lastOffsetDelta: number;
  /** The first record's timestamp. */
  baseTimestamp: number;
  /** CreateTime: the largest record timestamp; LogAppendTime: `now`. */
  maxTimestamp: number;
  /**
   * Offset delta of the first record that reads back with `maxTimestamp` (0 for LogAppendTime,
   * where every record reads back with it). Kafka's own time index points at the batch's last
   * offset instead.
   */
  offsetOfMaxTimestampDelta: number;
}

/** Largest batch the int32 `length` field can describe. */
const MAX_BATCH_SIZE = INT32_MAX;
/** The scratch buffers grow up to this size; larger batches get a buffer of their own. */
const MAX_SCRATCH_BYTES = 16 * 1024 * 1024;
/** ASCII strings up to this many characters are copied by a JS loop (cheaper than a native call). */
const SHORT_STRING_CHARS = 48;

/**
 * Memory a batch is encoded into, reused from call to call (see the module comment). The encoder
 * has one of its own; a caller that must hold several encoded batches at once (a topic writes
 * its partitions' batches together) passes one per batch to `encodeBatch`.
 */
export class BatchScratch {
  buffer: Buffer<ArrayBuffer>;
  constructor(bytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafeSlow(bytes);
  }
}

/**
 * The encoder's reusable memory, and what a record pass learns besides the bytes. One instance
 * serves every call (encoding is synchronous and never re-entered); instance fields rather than
 * module-level variables keep the hot loop's state on one object of a fixed shape.
 */
class EncoderState {
  /** Header keys and values of the record being written, as read from the input. */
  readonly fields: unknown[] = [];
  /** Encoded length of `fields[j]` (-1 = null). */
  fieldLengths = new Int32Array(64);
  /** The encoder's own batch memory: reusing it spares the page faults of fresh memory. */
  readonly ownBatch = new BatchScratch();
  /** Holds the batch of the call running: `ownBatch`, or the caller's. */
  batch: BatchScratch = this.ownBatch;
  /** Holds the uncompressed records of a compressed batch. */
  recordsScratch = Buffer.allocUnsafeSlow(64 * 1024);
  /** The buffer the last record pass ended in (a scratch buffer, or a one-off one past the cap). */
  target: Buffer = this.ownBatch.buffer;
  baseTimestamp = 0;
  maxTimestamp = 0;
  offsetOfMaxTimestamp = 0;
}

const state = new EncoderState();

/**
 * Encodes `records` as one v2 batch with offsets from `baseOffset`. Producer id, epoch and base
 * sequence are -1 (no idempotent producer). A record without timestamp gets `options.now`.
 * The returned `buffer` is only valid until the next call (see the module comment), or, with a
 * `scratch` of the caller's, until the next call given the same `scratch`.
 * Throws `InvalidRecordError` naming the record index and field for a malformed record,
 * `InvalidArgumentError` for bad arguments, `RecordTooLargeError` past 2 GiB.
 */
export function encodeBatch(records: readonly RecordInput[], baseOffset: number, options: EncodeOptions, scratch?: BatchScratch): EncodedBatch {
  state.batch = scratch ?? state.ownBatch;
  try {
    return encode(records, baseOffset, options);
  } catch (err) {
    state.fields.fill(null); // a throw mid-record leaves references to the caller's headers behind
    throw err;
  }
}

function encode(records: readonly RecordInput[], baseOffset: number, options: EncodeOptions): EncodedBatch {
  const count = checkArguments(records, baseOffset, options);

  let buffer: Buffer;
  if (options.compression === 'none') {
    const end = writeRecords(records, count, options.now, RECORDS_OFFSET, true);
    buffer = state.target.subarray(0, end);
  } else {
    const end = writeRecords(records, count, options.now, 0, false);
    buffer = compressRecords(options.compression, state.target.subarray(0, end));
  }

  const logAppendTime = options.timestampType === 'LogAppendTime';
  const offsetOfMaxTimestampDelta = logAppendTime ? 0 : state.offsetOfMaxTimestamp;
  const maxTimestamp = logAppendTime ? options.now : state.maxTimestamp;
  const baseTimestamp = state.baseTimestamp;
  const attributes = compressionId(options.compression) | (logAppendTime ? TIMESTAMP_TYPE_MASK : 0);
  writeHeader(buffer, baseOffset, options.partitionLeaderEpoch ?? 0, attributes, count, baseTimestamp, maxTimestamp);
  return { buffer, recordCount: count, lastOffsetDelta: count - 1, baseTimestamp, maxTimestamp, offsetOfMaxTimestampDelta };
}

/** Writes the 61-byte header, in schema order, then the CRC over [21, end). */
function writeHeader(
  buffer: Buffer,
  baseOffset: number,
  partitionLeaderEpoch: number,
  attributes: number,
  count: number,
  baseTimestamp: number,
  maxTimestamp: number,
): void {
  writeInt64(buffer, BASE_OFFSET_OFFSET, baseOffset);
  writeInt32(buffer, LENGTH_OFFSET, buffer.length - LOG_OVERHEAD);
  writeInt32(buffer, PARTITION_LEADER_EPOCH_OFFSET, partitionLeaderEpoch);
  buffer[MAGIC_OFFSET] = CURRENT_MAGIC;
  writeInt16(buffer, ATTRIBUTES_OFFSET, attributes);
  writeInt32(buffer, LAST_OFFSET_DELTA_OFFSET, count - 1);
  writeInt64(buffer, BASE_TIMESTAMP_OFFSET, baseTimestamp);
  writeInt64(buffer, MAX_TIMESTAMP_OFFSET, maxTimestamp);
  writeInt64(buffer, PRODUCER_ID_OFFSET, NO_PRODUCER_ID);
  writeInt16(buffer, PRODUCER_EPOCH_OFFSET, NO_PRODUCER_EPOCH);
  writeInt32(buffer, BASE_SEQUENCE_OFFSET, NO_SEQUENCE);
  writeInt32(buffer, RECORDS_COUNT_OFFSET, count);
  writeInt32(buffer, CRC_OFFSET, crc32c(buffer, CRC_COVERAGE_START, buffer.length));
}

/** The batch buffer with the compressed records section written from byte 61. */
function compressRecords(type: CompressionType, records: Buffer): Buffer {
  if (type === 'lz4') {
    // Written straight into the batch buffer: no intermediate copy.
    const bound = RECORD_BATCH_OVERHEAD + lz4FrameBound(records.length);
    const scratch = scratchBuffer(bound, true);
    const size = checkBatchSize(lz4CompressFrameInto(records, scratch, RECORDS_OFFSET));
    return scratch.subarray(0, size);
  }
  const compressed = compress(type, records);
  const buffer = batchBuffer(checkBatchSize(RECORD_BATCH_OVERHEAD + compressed.length));
  compressed.copy(buffer, RECORDS_OFFSET);
  return buffer;
}

function checkArguments(records: readonly RecordInput[], baseOffset: number, options: EncodeOptions): number {
  if (!Array.isArray(records)) throw new InvalidArgumentError(`Records must be an array, got ${describe(records)}`);
  const count = records.length;
  if (count === 0) throw new InvalidRecordError('A record batch needs at least one record');
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0 || baseOffset > Number.MAX_SAFE_INTEGER - (count - 1)) {
    throw new InvalidArgumentError(`Base offset must be a non-negative safe integer, with room for ${count} offsets, got ${String(baseOffset)}`);
  }
  if (!isCompressionType(options.compression)) {
    throw new InvalidArgumentError(`Unknown compression type ${String(options.compression)}`);
  }
  if (options.timestampType !== 'CreateTime' && options.timestampType !== 'LogAppendTime') {
    throw new InvalidArgumentError(`Unknown timestamp type ${String(options.timestampType)}`);
  }
  if (!isTimestamp(options.now)) {
    throw new InvalidArgumentError(`now must be a non-negative safe integer, got ${String(options.now)}`);
  }
  const epoch = options.partitionLeaderEpoch;
  if (epoch !== undefined && (!Number.isInteger(epoch) || epoch < -1 || epoch > INT32_MAX)) {
    throw new InvalidArgumentError(`partitionLeaderEpoch must be an int32 >= -1, got ${String(epoch)}`);
  }
  return count;
}

/** `size` bytes of the batch scratch buffer (grown if needed), or a one-off buffer past the cap. */
function batchBuffer(size: number): Buffer {
  return scratchBuffer(size, true).subarray(0, size);
}

/** The batch or records scratch buffer, at least `size` bytes; a one-off buffer past the cap. */
function scratchBuffer(size: number, forBatch: boolean): Buffer {
  if (size > MAX_SCRATCH_BYTES) return Buffer.allocUnsafe(size);
  let scratch = forBatch ? state.batch.buffer : state.recordsScratch;
  if (scratch.length < size) {
    scratch = Buffer.allocUnsafeSlow(Math.min(MAX_SCRATCH_BYTES, Math.max(size, scratch.length * 2)));
    if (forBatch) state.batch.buffer = scratch;
    else state.recordsScratch = scratch;
  }
  return scratch;
}

/**
 * A buffer of at least `size` bytes holding `buf`'s first `used` bytes: the scratch buffer grown
 * (up to its cap), or past the cap a one-off buffer, grown geometrically.
 */
function growScratch(buf: Buffer, size: number, used: number, forBatch: boolean): Buffer {
  const wanted = Math.max(size, buf.length * 2);
  const grown = wanted > MAX_SCRATCH_BYTES ? Buffer.allocUnsafe(Math.max(size, Math.min(wanted, MAX_BATCH_SIZE))) : scratchBuffer(wanted, forBatch);
  buf.copy(grown, 0, 0, used);
  return grown;
}

function checkBatchSize(size: number): number {
  if (size > MAX_BATCH_SIZE) throw new RecordTooLargeError(`A record batch of ${size} bytes exceeds the format's limit of ${MAX_BATCH_SIZE}`);
  return size;
}

function isTimestamp(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function ensureFieldCapacity(needed: number): void {
  const lengths = state.fieldLengths;
  if (lengths.length >= needed) return;
  let capacity = lengths.length * 2;
  while (capacity < needed) capacity *= 2;
  const grown = new Int32Array(capacity);
  grown.set(lengths);
  state.fieldLengths = grown;
}

function invalid(index: number, detail: string): InvalidRecordError {
  return new InvalidRecordError(`Record ${index}: ${detail}`);
}

/** Encoded length of a key or value (-1 for null), or throws naming the record and field. */
function bytesLength(value: unknown, index: number, field: string): number {
  if (value === null || value === undefined) return -1;
  if (typeof value === 'string') return utf8Length(value);
  if (value instanceof Uint8Array) return value.length;
  throw invalid(index, `${field} must be a Buffer, Uint8Array, string or null, got ${describe(value)}`);
}

/**
 * UTF-8 byte length of `value`. A short ASCII string (the usual key) is measured by a JS scan of
 * its char codes, cheaper than the native `Buffer.byteLength` call it spares; `writeBytes` then
 * copies it by the same kind of loop.
 */
function utf8Length(value: string): number {
  const length = value.length;
  if (length > SHORT_STRING_CHARS) return Buffer.byteLength(value, 'utf8');
  for (let k = 0; k < length; k++) if (value.charCodeAt(k) > 0x7f) return Buffer.byteLength(value, 'utf8');
  return length;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return value === null ? 'null' : `an object (${value.constructor?.name ?? 'no prototype'})`;
  return typeof value;
}

/**
 * Validates and writes `records` from `pos` into the batch scratch buffer (`forBatch`) or the
 * records scratch buffer, growing it as needed; leaves the buffer and the timestamps in `state`,
 * and returns the end position.
 *
 * Runs once per record of every append, so the common record (Buffer key and value, no headers)
 * takes the fewest branches: the timestamps live in locals until the end, a Uint8Array key or
 * value is recognized before anything else, and the check that a record is not an array or a
 * Buffer, which only matters when both key and value read back null, is made only then.
 */
function writeRecords(records: readonly RecordInput[], count: number, now: number, pos: number, forBatch: boolean): number {
  let buf = scratchBuffer(pos + count * 8, forBatch);
  const start = pos;
  let base = 0;
  let maxTs = 0;
  let maxAt = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i] as unknown;
    if (typeof record !== 'object' || record === null) throw notARecord(i, record);
    const { key, value, timestamp, headers } = record as RecordInput;
    let ts = now;
    if (timestamp !== undefined) {
      if (!isTimestamp(timestamp)) throw invalid(i, `timestamp must be a non-negative safe integer, got ${String(timestamp)}`);
      ts = timestamp;
    }
    if (i === 0) {
      base = ts;
      maxTs = ts;
    } else if (ts > maxTs) {
      maxTs = ts;
      maxAt = i;
    }
    let keyLength: number;
    if (key instanceof Uint8Array) keyLength = key.length;
    else if (key === null || key === undefined) {
      keyLength = -1;
      // An array or a Buffer passed as a record reads back with neither key nor value (one that
      // carries its own key or value property is taken as the record it claims to be).
      if ((value === null || value === undefined) && (Array.isArray(record) || record instanceof Uint8Array)) throw notARecord(i, record);
    } else keyLength = bytesLength(key, i, 'key');
    const valueLength = value instanceof Uint8Array ? value.length : bytesLength(value, i, 'value');
    let headerFields = 0;
    let headersSize = 0;
    if (headers !== undefined && headers !== null) {
      headerFields = measureHeaders(headers, i, 0);
      const fieldLengths = state.fieldLengths;
      for (let k = 0; k < headerFields; k++) {
        const length = fieldLengths[k]!;
        headersSize += sizeOfVarint(length) + (length > 0 ? length : 0);
      }
    }
    const delta = ts - base;
    const body =
      2 + // attributes, and the header count when under 64 (corrected below otherwise)
      (delta >= 0 && delta < 64 ? 1 : sizeOfVarlong(delta)) +
      sizeOfVarint(i) +
      (keyLength < 0 ? 1 : sizeOfVarint(keyLength) + keyLength) +
      (valueLength < 0 ? 1 : sizeOfVarint(valueLength) + valueLength) +
      (headerFields === 0 ? 0 : sizeOfVarint(headerFields >> 1) - 1 + headersSize);
    const end = pos + 5 + body; // 5: the longest length varint
    if (end > buf.length) {
      checkBatchSize(RECORD_BATCH_OVERHEAD + end - start);
      buf = growScratch(buf, end, pos, forBatch);
    }
    pos = writeVarint(buf, pos, body);
    buf[pos++] = 0; // attributes
    pos = writeVarlong(buf, pos, delta);
    pos = writeVarint(buf, pos, i);
    pos = writeVarint(buf, pos, keyLength);
    if (keyLength > 0) pos = writeBytes(buf, pos, key, keyLength);
    pos = writeVarint(buf, pos, valueLength);
    if (valueLength > 0) pos = writeBytes(buf, pos, value, valueLength);
    if (headerFields === 0) {
      buf[pos++] = 0;
    } else {
      pos = writeVarint(buf, pos, headerFields >> 1);
      pos = writeHeaders(buf, pos, headerFields);
    }
  }
  checkBatchSize(RECORD_BATCH_OVERHEAD + pos - start);
  state.baseTimestamp = base;
  state.maxTimestamp = maxTs;
  state.offsetOfMaxTimestamp = maxAt;
  state.target = buf;
  return pos;
}

function notARecord(index: number, record: unknown): InvalidRecordError {
  return invalid(index, `must be an object like { key, value, timestamp, headers }, got ${describe(record)}`);
}

/** Writes the current record's headers from the first `count` field slots, then drops the references. */
function writeHeaders(buf: Buffer, pos: number, count: number): number {
  const { fields, fieldLengths } = state;
  for (let j = 0; j < count; j += 2) {
    pos = writeField(buf, pos, fields[j], fieldLengths[j]!);
    pos = writeField(buf, pos, fields[j + 1], fieldLengths[j + 1]!);
  }
  fields.fill(null, 0, count);
  return pos;
}

/** Stores the headers of record `index` from field slot `j`; returns the next free slot. */
function measureHeaders(headers: unknown, index: number, j: number): number {
  if (Array.isArray(headers)) {
    ensureFieldCapacity(j + 2 * headers.length);
    for (let h = 0; h < headers.length; h++) {
      const header: unknown = headers[h];
      if (typeof header !== 'object' || header === null) {
        throw invalid(index, `header ${h} must be an object like { key, value }, got ${describe(header)}`);
      }
      const { key, value } = header as { key: unknown; value: unknown };
      j = storeHeader(key, value, index, `header ${h}`, j);
    }
    return j;
  }
  if (typeof headers !== 'object' || headers === null || headers instanceof Uint8Array) {
    throw invalid(index, `headers must be an array of { key, value } or a plain object, got ${describe(headers)}`);
  }
  const keys = Object.keys(headers);
  ensureFieldCapacity(j + 2 * keys.length);
  for (let h = 0; h < keys.length; h++) {
    const key = keys[h]!;
    j = storeHeader(key, (headers as Record<string, unknown>)[key], index, `header '${key}'`, j);
  }
  return j;
}

function storeHeader(key: unknown, value: unknown, index: number, name: string, j: number): number {
  if (typeof key !== 'string') throw invalid(index, `${name} key must be a string, got ${describe(key)}`);
  const { fields, fieldLengths } = state;
  fields[j] = key;
  fieldLengths[j] = utf8Length(key);
  fields[j + 1] = value;
  fieldLengths[j + 1] = bytesLength(value, index, `${name} value`);
  return j + 2;
}

/** Writes a length-prefixed field (length -1 = null). */
function writeField(buf: Buffer, pos: number, value: unknown, length: number): number {
  pos = writeVarint(buf, pos, length);
  return length > 0 ? writeBytes(buf, pos, value, length) : pos;
}

/** Writes the `length` bytes of a non-empty string or Uint8Array; returns the next position. */
function writeBytes(buf: Buffer, pos: number, value: unknown, length: number): number {
  if (typeof value !== 'string') {
    buf.set(value as Uint8Array, pos);
  } else if (length === value.length && length <= SHORT_STRING_CHARS) {
    for (let k = 0; k < length; k++) buf[pos + k] = value.charCodeAt(k); // ASCII: bytes == chars
  } else {
    buf.write(value, pos, length, 'utf8');
  }
  return pos + length;
}
