/**
 * Checks and decodes Kafka v2 record batches (layout in `batch-layout.ts`, record layout in
 * `batch-builder.ts`).
 *
 * - `validateBatch` checks the framing (size, magic) and the CRC-32C; it decodes no record.
 * - `decodeRecords` turns the records of one batch into `LogRecord`s. It checks the framing and
 *   every record's structure but not the CRC: call `validateBatch` first on untrusted bytes.
 * - `decodeBatch` does both and also returns the decoded header.
 *
 * Every failure is a `CorruptRecordError` whose message names the file and the batch position
 * (from the `BatchContext`), except a codec this process cannot run (`InvalidConfigError`).
 */
import { CorruptRecordError, isSeglogError } from '../errors.js';
import {
  CRC_COVERAGE_START,
  CURRENT_MAGIC,
  LOG_OVERHEAD,
  RECORDS_OFFSET,
  RECORD_BATCH_OVERHEAD,
  compressionTypeOf,
  corruptBatch,
  parseBatchHeader,
  readBaseOffset,
  readBaseTimestamp,
  readBatchSize,
  readCompressionId,
  readCrc,
  readLastOffsetDelta,
  readMagic,
  readMaxTimestamp,
  readRecordCount,
  readTimestampType,
  type BatchContext,
  type BatchHeader,
} from './batch-layout.js';
import { batchShapeProblem, recordDeltaProblem } from './batch-rules.js';
import { UNLIMITED, decompress } from './compression.js';
import { inflater, zstdDeclaredSize, type Inflater } from './inflater.js';
import { isInflateLimitError, markInflatedDamage } from './codec-modules.js';
import { nativeAddon } from '../files/native.js';
import { crc32c } from './crc32c.js';
import { readVarint, readVarlong, type Cursor } from './varint.js';
import type { CompressionType, Header, LogRecord } from './types.js';

export type { BatchContext } from './batch-layout.js';

/** A batch's header and all its records. */
export interface DecodedBatch {
  header: BatchHeader;
  records: LogRecord[];
}

/** Read position shared by the record-decoding functions (decoding is synchronous). */
const cursor: Cursor = { pos: 0 };
/** Index of the record being decoded, for error messages; -1 outside records. */
let recordIndex = -1;
/** Offset delta of the record decoded before, for the strictly-increasing rule. */
let previousDelta = -1;

/**
 * Checks the batch at `pos`: at least 61 bytes, magic 2, declared size within `buf`, and the
 * stored CRC equal to the CRC-32C of bytes [21, end). Throws `CorruptRecordError` otherwise.
 * Cost: one CRC pass over the batch.
 */
export function validateBatch(buf: Uint8Array, pos: number, context: BatchContext = {}): void {
  const size = checkFraming(buf, pos, context);
  const stored = readCrc(buf, pos);
  const computed = crc32c(buf, pos + CRC_COVERAGE_START, pos + size);
  if (stored !== computed) {
    throw corruptBatch(pos, context, `CRC mismatch: stored ${stored}, computed ${computed}`, { offset: readBaseOffset(buf, pos) });
  }
}

/** Checks size and magic of the batch at `pos`; returns its size in bytes. */
function checkFraming(buf: Uint8Array, pos: number, context: BatchContext): number {
  const available = buf.length - pos;
  if (pos < 0 || available < LOG_OVERHEAD) {
    throw corruptBatch(pos, context, `only ${Math.max(0, available)} bytes, fewer than the ${LOG_OVERHEAD}-byte log overhead`);
  }
  const size = readBatchSize(buf, pos);
  if (size < RECORD_BATCH_OVERHEAD) {
    throw corruptBatch(pos, context, `batch size ${size} is below the minimum of ${RECORD_BATCH_OVERHEAD}`);
  }
  if (size > available) {
    throw corruptBatch(pos, context, `batch size ${size} exceeds the ${available} bytes available`);
  }
  const magic = readMagic(buf, pos);
  if (magic !== CURRENT_MAGIC) {
    throw corruptBatch(pos, context, `magic ${magic} where ${CURRENT_MAGIC} was expected (message formats v0 and v1 are not supported)`);
  }
  return size;
}

/**
 * Appends to `out` the records of the batch at `pos` whose offset is >= `minOffset`, at most
 * `maxRecords` of them; returns how many it appended. A batch that ends below `minOffset` is
 * skipped without decoding. Records of control batches are decoded like any others.
 *
 * In an uncompressed batch, keys, values and header values are views into `buf` (no copy): they
 * change if `buf` is later overwritten. Timestamps of a LogAppendTime batch are its maxTimestamp.
 * Checks framing and record structure (not the CRC); throws `CorruptRecordError`.
 */
export function decodeRecords(
  buf: Buffer,
  pos: number,
  out: LogRecord[],
  minOffset: number,
  maxRecords: number,
  context: BatchContext = {},
  copy = false,
): number {
  copyFields = copy;
  const size = checkFraming(buf, pos, context);
  const baseOffset = readBaseOffset(buf, pos);
  const lastOffsetDelta = readLastOffsetDelta(buf, pos);
  const count = readRecordCount(buf, pos);
  const shape = batchShapeProblem(baseOffset, lastOffsetDelta, count);
  if (shape !== null) throw corruptBatch(pos, context, shape, { offset: baseOffset });
  if (maxRecords <= 0 || baseOffset + lastOffsetDelta < minOffset) return 0;

  // Fewer records wanted than the batch holds: inflate only as far as they go (see `inflater.ts`),
  // or the whole section when it is small (`smallSection`).
  const source = maxRecords < count ? sectionInflater(buf, pos, size, context) : null;
  const whole = source === null || Buffer.isBuffer(source);
  const data = source === null ? recordsSection(buf, pos, size, context) : whole ? source : EMPTY;
  const start = data === buf ? pos + RECORDS_OFFSET : 0;
  const end = data === buf ? pos + size : data.length;
  const batch: RecordsView = {
    data,
    end,
    count,
    lastOffsetDelta,
    baseOffset,
    baseTimestamp: readBaseTimestamp(buf, pos),
    logAppendTime: readTimestampType(buf, pos) === 'LogAppendTime',
    maxTimestamp: readMaxTimestamp(buf, pos),
  };
  try {
    return whole ? readRecords(batch, start, out, minOffset, maxRecords) : readRecordsFrom(source, batch, out, minOffset, maxRecords);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const where = recordIndex >= 0 ? `record ${recordIndex} of ${count}: ` : '';
    const damage = corruptBatch(pos, context, where + message, { offset: baseOffset, cause: err });
    throw data === buf ? damage : markInflatedDamage(damage);
  } finally {
    recordIndex = -1;
    forgetViewSource();
  }
}

/** What decoding records needs of their batch's header, for callers that keep it (`decodeRecordsAt`). */
export interface BatchFacts {
  readonly baseOffset: number;
  readonly lastOffsetDelta: number;
  readonly count: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  /** LogAppendTime batch: every record reads back with `maxTimestamp`. */
  readonly logAppendTime: boolean;
}

/**
 * Appends to `out` the `n` records from record `index` of an uncompressed batch whose records
 * fill its offsets (record i has offset delta i), reading from `data[start, end)`: `start` is
 * where record `index - skip` begins, and the `skip` records before the wanted one are passed by
 * their length alone. Each record decoded must carry exactly its expected offset. The caller
 * checked the batch once (CRC and record offsets, see `record-table.ts`) and keeps its header
 * as `facts`, so neither is read again. Throws `CorruptRecordError` naming the batch.
 */
export function decodeRecordsAt(
  data: Buffer,
  start: number,
  end: number,
  facts: BatchFacts,
  index: number,
  skip: number,
  n: number,
  out: LogRecord[],
  context: BatchContext,
  copy: boolean,
): void {
  copyFields = copy;
  const batch: RecordsView = {
    data,
    end,
    count: facts.count,
    lastOffsetDelta: facts.lastOffsetDelta,
    baseOffset: facts.baseOffset,
    baseTimestamp: facts.baseTimestamp,
    logAppendTime: facts.logAppendTime,
    maxTimestamp: facts.maxTimestamp,
  };
  cursor.pos = start;
  try {
    for (let i = 0; i < skip; i++) {
      const length = readVarint(data, cursor, end);
      if (length < 0 || cursor.pos + length > end) throw framingError(`record length ${length} overruns the ${end - cursor.pos} bytes left`);
      cursor.pos += length;
    }
    previousDelta = index - 1;
    for (let i = 0; i < n; i++) {
      recordIndex = index + i;
      const record = readRecord(batch, -Infinity)!;
      if (record.offset !== facts.baseOffset + index + i) throw framingError(`offset ${record.offset} where ${facts.baseOffset + index + i} was expected`);
      out.push(record);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw corruptBatch(context.position ?? 0, context, (recordIndex >= 0 ? `record ${recordIndex} of ${facts.count}: ` : '') + message, {
      offset: facts.baseOffset,
      cause: err,
    });
  } finally {
    recordIndex = -1;
    forgetViewSource();
  }
}

/** The records section: a view into `buf`, or its decompressed bytes. */
function recordsSection(buf: Buffer, pos: number, size: number, context: BatchContext): Buffer {
  const id = readCompressionId(buf, pos);
  const type = compressionTypeOf(id);
  if (type === undefined) throw corruptBatch(pos, context, `unknown compression codec id ${id}`, { offset: readBaseOffset(buf, pos) });
  if (type === 'none') return buf;
  try {
    return decompress(type, buf.subarray(pos + RECORDS_OFFSET, pos + size), context.maxDecompressedBytes);
  } catch (err) {
    if (!(err instanceof CorruptRecordError) && isSeglogError(err)) throw err; // codec unavailable
    const message = err instanceof Error ? err.message : String(err);
    throw corruptBatch(pos, context, message, { offset: readBaseOffset(buf, pos), cause: err });
  }
}

/**
 * The compressed records section of the batch at `pos` as an inflater, or inflated whole when it
 * is small (`smallSection`); null when it is not compressed.
 */
function sectionInflater(buf: Buffer, pos: number, size: number, context: BatchContext): Inflater | Buffer | null {
  const type = compressionTypeOf(readCompressionId(buf, pos));
  if (type === undefined || type === 'none') return null;
  const section = buf.subarray(pos + RECORDS_OFFSET, pos + size);
  const maxBytes = context.maxDecompressedBytes ?? UNLIMITED;
  try {
    return smallSection(type, section, maxBytes) ?? inflater(type, section, maxBytes);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw corruptBatch(pos, context, message, { offset: readBaseOffset(buf, pos), cause: err });
  }
}

/** A section that inflates to at most this many bytes is inflated in one call by a read of a few records. */
const SMALL_SECTION_BYTES = 1024 * 1024;

/**
 * The whole gzip or zstd section `data` when it inflates to at most `SMALL_SECTION_BYTES`, else
 * null. Their piecewise readers cost more than one pass (gzip inflates a growing prefix again at
 * each piece; zstd goes through fzstd, where zlib would decode in one native call), and ordinary
 * batches are small: one call bounded by that size reads them at the cost of a full read, and a
 * larger batch or a bomb wastes at most that much output before going piece by piece. zstd takes
 * this path only when its frame declares a size that fits, so a large one wastes nothing. lz4
 * and snappy go block by block at the cost of one pass already.
 */
function smallSection(type: CompressionType, data: Buffer, maxBytes: number): Buffer | null {
  if (type === 'zstd') {
    const declared = zstdDeclaredSize(data);
    if (declared < 0 || declared > SMALL_SECTION_BYTES) return null;
  } else if (type !== 'gzip') {
    return null;
  }
  try {
    return decompress(type, data, Math.min(maxBytes, SMALL_SECTION_BYTES));
  } catch (err) {
    if (isInflateLimitError(err)) return null;
    throw err;
  }
}

const EMPTY: Buffer = Buffer.alloc(0);
const EMPTY_ARRAY_BUFFER = new ArrayBuffer(0);
/** A varint of 32 bits takes at most 5 bytes. */
const MAX_VARINT_BYTES = 5;

/**
 * `readRecords` over a records section inflated a piece at a time: the window `data` holds the
 * record being decoded (pieces are joined only while a record straddles them), so memory stays
 * about one piece plus the records returned, whose fields are copies (a view would keep its
 * whole window alive). The rest of the section is inflated only when every record is read, to
 * check that nothing follows them.
 */
function readRecordsFrom(source: Inflater, batch: RecordsView, out: LogRecord[], minOffset: number, maxRecords: number): number {
  copyFields = true;
  cursor.pos = 0;
  previousDelta = -1;
  let data: Buffer = EMPTY;
  let appended = 0;
  for (let i = 0; i < batch.count; i++) {
    recordIndex = i;
    data = holding(source, data, MAX_VARINT_BYTES);
    const start = cursor.pos;
    const length = readVarint(data, cursor, data.length);
    const need = cursor.pos - start + Math.max(0, length);
    cursor.pos = start;
    data = holding(source, data, need);
    batch.data = data;
    batch.end = data.length;
    const record = readRecord(batch, minOffset);
    if (record === null) continue;
    out.push(record);
    if (++appended >= maxRecords) return appended;
  }
  recordIndex = -1;
  let left = data.length - cursor.pos;
  for (let piece = source.next(); piece !== null; piece = source.next()) left += piece.length;
  if (left !== 0) throw framingError(`${left} bytes remain after the ${batch.count} declared records`);
  return appended;
}

/**
 * `data` from `cursor.pos` on, with at least `need` bytes (fewer only when the section ends):
 * `data` itself when it has them, else what is left of it joined with the next pieces (and the
 * cursor moved to 0).
 */
function holding(source: Inflater, data: Buffer, need: number): Buffer {
  if (data.length - cursor.pos >= need) return data;
  const parts = [data.subarray(cursor.pos)];
  let have = parts[0]!.length;
  while (have < need) {
    const piece = source.next();
    if (piece === null) break;
    parts.push(piece);
    have += piece.length;
  }
  cursor.pos = 0;
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
}

/** What the record loop needs to know about its batch. */
interface RecordsView {
  data: Buffer;
  end: number;
  count: number;
  lastOffsetDelta: number;
  baseOffset: number;
  baseTimestamp: number;
  /** LogAppendTime batch: every record reads back with `maxTimestamp`. */
  logAppendTime: boolean;
  maxTimestamp: number;
}

function framingError(detail: string): CorruptRecordError {
  return new CorruptRecordError(detail);
}

function readRecords(batch: RecordsView, start: number, out: LogRecord[], minOffset: number, maxRecords: number): number {
  if (!copyFields && BufferView !== null) return readViewedRecords(batch, start, out, minOffset, maxRecords, BufferView);
  const { end, count } = batch;
  cursor.pos = start;
  previousDelta = -1;
  let appended = 0;
  for (let i = 0; i < count; i++) {
    recordIndex = i;
    const record = readRecord(batch, minOffset);
    if (record === null) continue;
    out.push(record);
    if (++appended >= maxRecords) return appended;
  }
  recordIndex = -1;
  if (cursor.pos !== end) {
    throw framingError(`${end - cursor.pos} bytes remain after the ${count} declared records`);
  }
  return appended;
}

/** What `shortAt` returns for a varint it does not decode (a two-byte varint is within [-8192, 8191]). */
const NOT_SHORT = 0x3fffffff;

/**
 * The zigzag varint of one or two bytes at `q`, all before `limit`, or NOT_SHORT (longer, or cut
 * off by `limit`). It takes `data[q] < 0x80 ? 1 : 2` bytes.
 */
function shortAt(data: Buffer, q: number, limit: number): number {
  if (q >= limit) return NOT_SHORT;
  const first = data[q]!;
  if (first < 0x80) return (first >>> 1) ^ -(first & 1);
  if (q + 1 >= limit) return NOT_SHORT;
  const second = data[q + 1]!;
  if (second >= 0x80) return NOT_SHORT;
  const z = (first & 0x7f) | (second << 7);
  return (z >>> 1) ^ -(z & 1);
}

/**
 * `readRecords` where fields are views (a scan's records): each record is decoded in this loop,
 * with positions in locals, when all its varints take one or two bytes and it has no headers,
 * which is nearly every record; it passes the same checks as in `readRecord`. Any other record,
 * or one that fails a check, is decoded by `readRecord` from its start, which also says what is
 * wrong. A scan decodes hundreds of thousands of records: per record, the calls and the shared
 * cursor of the general path cost about as much as the decoding.
 */
function readViewedRecords(batch: RecordsView, start: number, out: LogRecord[], minOffset: number, maxRecords: number, View: ViewConstructor): number {
  const { data, end, count, lastOffsetDelta, baseOffset, logAppendTime, maxTimestamp, baseTimestamp } = batch;
  const buffer = data.buffer;
  const base = data.byteOffset;
  let p = start;
  let previous = -1;
  let appended = 0;
  for (let i = 0; i < count; i++) {
    recordIndex = i;
    let record: LogRecord | null = null;
    const length = shortAt(data, p, end);
    if (length >= 0 && length !== NOT_SHORT) {
      let q = p + (data[p]! < 0x80 ? 1 : 2);
      const recordEnd = q + length;
      q++; // attributes: unused
      // The timestamp delta: a varlong of one or two bytes reads as the varint of the same bytes.
      const timestampDelta = recordEnd <= end ? shortAt(data, q, recordEnd) : NOT_SHORT;
      if (timestampDelta !== NOT_SHORT) q += data[q]! < 0x80 ? 1 : 2;
      const delta = timestampDelta !== NOT_SHORT ? shortAt(data, q, recordEnd) : NOT_SHORT;
      const keep = delta !== NOT_SHORT && delta > previous && delta <= lastOffsetDelta && baseOffset + delta >= minOffset;
      if (keep) q += data[q]! < 0x80 ? 1 : 2;
      // Key and value: a length (-1: null), then the bytes, viewed.
      const keyLength = keep ? shortAt(data, q, recordEnd) : NOT_SHORT;
      if (keyLength !== NOT_SHORT) q += data[q]! < 0x80 ? 1 : 2;
      const keyFits = keyLength === -1 || (keyLength >= 0 && keyLength <= recordEnd - q);
      const keyStart = q;
      if (keyFits && keyLength > 0) q += keyLength;
      const valueLength = keyFits ? shortAt(data, q, recordEnd) : NOT_SHORT;
      if (valueLength !== NOT_SHORT) q += data[q]! < 0x80 ? 1 : 2;
      const valueFits = valueLength === -1 || (valueLength >= 0 && valueLength <= recordEnd - q);
      const valueStart = q;
      if (valueFits && valueLength > 0) q += valueLength;
      // No headers: a count of zero, the record's last byte.
      if (valueFits && q + 1 === recordEnd && data[q] === 0) {
        const key = keyLength < 0 ? null : new View(buffer, base + keyStart, keyLength);
        const value = valueLength < 0 ? null : new View(buffer, base + valueStart, valueLength);
        const timestamp = logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta;
        record = { offset: baseOffset + delta, timestamp, key, value, headers: [] };
        previous = delta;
        p = recordEnd;
      }
    }
    if (record === null) {
      // Anything else: the general path decodes the record, or skips it, or says what is wrong.
      cursor.pos = p;
      previousDelta = previous;
      record = readRecord(batch, minOffset);
      previous = previousDelta;
      p = cursor.pos;
      if (record === null) continue;
    }
    out.push(record);
    if (++appended >= maxRecords) return appended;
  }
  recordIndex = -1;
  if (p !== end) throw framingError(`${end - p} bytes remain after the ${count} declared records`);
  return appended;
}

/** Decodes the record at `cursor.pos`, or skips it and returns null if its offset is below `minOffset`. */
function readRecord(batch: RecordsView, minOffset: number): LogRecord | null {
  const data = batch.data;
  const length = shortVarint(data, batch.end);
  const bodyStart = cursor.pos;
  const recordEnd = bodyStart + length;
  if (length < 0 || recordEnd > batch.end) {
    throw framingError(`record length ${length} overruns the ${batch.end - bodyStart} bytes left`);
  }
  cursor.pos++; // attributes: unused
  // A varlong of one or two bytes reads as the varint of the same bytes.
  const timestampDelta = shortVarintOr(data, recordEnd, true);
  const delta = shortVarint(data, recordEnd);
  if (delta <= previousDelta || delta > batch.lastOffsetDelta) throw framingError(recordDeltaProblem(delta, previousDelta, batch.lastOffsetDelta)!);
  previousDelta = delta;
  const offset = batch.baseOffset + delta;
  if (offset < minOffset) {
    cursor.pos = recordEnd;
    return null;
  }
  const key = readBytes(data, recordEnd);
  const value = readBytes(data, recordEnd);
  const headers = readHeaders(data, recordEnd);
  if (cursor.pos !== recordEnd) {
    throw framingError(`record length ${length} but its fields take ${cursor.pos - bodyStart} bytes`);
  }
  const timestamp = batch.logAppendTime ? batch.maxTimestamp : batch.baseTimestamp + timestampDelta;
  return { offset, timestamp, key, value, headers };
}

/**
 * `readVarint` (or `readVarlong`) at `cursor.pos` with the one- and two-byte forms, nearly every
 * length, delta and count of a record, decoded here: small enough to inline, where the general
 * readers are not, and they cost a call per field.
 */
function shortVarintOr(data: Buffer, end: number, long: boolean): number {
  const p = cursor.pos;
  if (p < end) {
    const first = data[p]!;
    if (first < 0x80) {
      cursor.pos = p + 1;
      return (first >>> 1) ^ -(first & 1);
    }
    const second = p + 1 < end ? data[p + 1]! : 0x80;
    if (second < 0x80) {
      const z = (first & 0x7f) | (second << 7);
      cursor.pos = p + 2;
      return (z >>> 1) ^ -(z & 1);
    }
  }
  return long ? readVarlong(data, cursor, end) : readVarint(data, cursor, end);
}

function shortVarint(data: Buffer, end: number): number {
  return shortVarintOr(data, end, false);
}

/**
 * When set, byte fields are copied out of the source instead of viewed: the source is a memory
 * mapping, and a view handed to a caller would outlive a later truncation of the file.
 */
let copyFields = false;

/**
 * Node's own Buffer class (`Buffer[Symbol.species]`), whose constructor makes a view of an
 * ArrayBuffer directly: 2-3x cheaper than `subarray`, which looks the species up on every call,
 * and a scan makes two views per record.
 */
type ViewConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
const speciesOfBuffer = (Buffer as unknown as { [Symbol.species]?: unknown })[Symbol.species];
const BufferView: ViewConstructor | null =
  typeof speciesOfBuffer === 'function' && speciesOfBuffer.prototype === Buffer.prototype ? (speciesOfBuffer as ViewConstructor) : null;

/**
 * The source of the views `readBytes` makes, with its ArrayBuffer and offset read once per source:
 * `buffer` and `byteOffset` are getters that call into the runtime, and reading them for every
 * field cost about as much as the rest of a record's decode. Reset by `forgetViewSource`, so the
 * module holds no buffer between decodes.
 */
let viewSource: Buffer | null = null;
let viewBuffer: ArrayBufferLike = EMPTY_ARRAY_BUFFER;
let viewOffset = 0;

function forgetViewSource(): void {
  viewSource = null;
  viewBuffer = EMPTY_ARRAY_BUFFER;
}

/** A length-prefixed byte field (negative length = null) as a view into `data`, or a copy. */
function readBytes(data: Buffer, end: number): Buffer | null {
  const length = shortVarint(data, end);
  if (length < 0) return null;
  const start = cursor.pos;
  if (length > end - start) throw framingError(`field of ${length} bytes at byte ${start} overruns its record`);
  cursor.pos = start + length;
  if (copyFields) return Buffer.from(data.subarray(start, start + length));
  if (BufferView === null) return data.subarray(start, start + length);
  if (data !== viewSource) {
    viewSource = data;
    viewBuffer = data.buffer;
    viewOffset = data.byteOffset;
  }
  return new BufferView(viewBuffer, viewOffset + start, length);
}

/**
 * Checks the offsets of the records of an uncompressed batch at `pos` against `batch-rules.ts`
 * (deltas strictly increasing within `[0, lastOffsetDelta]`, the declared count filling the
 * batch exactly): what recovery adds to the CRC so that it cuts at a batch whose records go
 * backwards. A compressed batch is not inflated here (its records are checked when read).
 * Throws `CorruptRecordError`.
 *
 * It runs on every batch recovery checks, next to the CRC, so it reads as little as it can: each
 * record's length, then skips the attributes and the timestamp delta (by its continuation bits,
 * checking only that it ends inside the record and within 10 bytes) and reads the offset delta;
 * one-byte varints, nearly all of them, are decoded inline. With the addon, a batch of
 * `NATIVE_WALK_MIN_RECORDS` records or more is walked in C first, and this loop runs only when
 * that does not pass it, to say what is wrong.
 */
export function checkRecordOffsets(buf: Buffer, pos: number, context: BatchContext = {}): void {
  const size = checkFraming(buf, pos, context);
  const baseOffset = readBaseOffset(buf, pos);
  const lastOffsetDelta = readLastOffsetDelta(buf, pos);
  const count = readRecordCount(buf, pos);
  const shape = batchShapeProblem(baseOffset, lastOffsetDelta, count);
  if (shape !== null) throw corruptBatch(pos, context, shape, { offset: baseOffset });
  if (compressionTypeOf(readCompressionId(buf, pos)) !== 'none') return;
  const end = pos + size;
  let p = pos + RECORDS_OFFSET;
  if (count >= NATIVE_WALK_MIN_RECORDS && nativeWalk()?.(buf, p, end, count, lastOffsetDelta) === true) return;
  let previous = -1;
  try {
    for (let i = 0; i < count; i++) {
      // Varints of one and two bytes (values below 8192: nearly every record length and offset
      // delta) are decoded inline; longer ones by readVarint, with its checks.
      let length = p < end ? buf[p]! : 0x80;
      const next = p + 1 < end ? buf[p + 1]! : 0x80;
      if (length < 0x80) {
        length = (length >>> 1) ^ -(length & 1);
        p++;
      } else if (next < 0x80) {
        length = (length & 0x7f) | (next << 7);
        length = (length >>> 1) ^ -(length & 1);
        p += 2;
      } else {
        cursor.pos = p;
        length = readVarint(buf, cursor, end);
        p = cursor.pos;
      }
      const recordEnd = p + length;
      if (length < 0 || recordEnd > end) throw framingError(`record ${i} of ${count}: record length ${length} overruns the batch`);
      // Attributes (one byte), then the timestamp delta, skipped by its continuation bits.
      let q = p + 1;
      const limit = recordEnd < q + MAX_VARLONG_BYTES ? recordEnd : q + MAX_VARLONG_BYTES;
      while (q < limit && buf[q]! >= 0x80) q++;
      if (q >= limit) throw framingError(q >= recordEnd ? 'timestamp delta runs past the end of its record' : `illegal varlong: more than ${MAX_VARLONG_BYTES} bytes`);
      q++;
      let delta = q < recordEnd ? buf[q]! : 0x80;
      const second = q + 1 < recordEnd ? buf[q + 1]! : 0x80;
      if (delta < 0x80) {
        delta = (delta >>> 1) ^ -(delta & 1);
      } else if (second < 0x80) {
        delta = (delta & 0x7f) | (second << 7);
        delta = (delta >>> 1) ^ -(delta & 1);
      } else {
        cursor.pos = q;
        delta = readVarint(buf, cursor, recordEnd);
      }
      if (delta <= previous || delta > lastOffsetDelta) throw framingError(`record ${i} of ${count}: ${recordDeltaProblem(delta, previous, lastOffsetDelta)!}`);
      previous = delta;
      p = recordEnd;
    }
    if (p !== end) throw framingError(`${end - p} bytes remain after the ${count} declared records`);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw corruptBatch(pos, context, message, { offset: baseOffset, cause: err });
  }
}

/**
 * Records from which the addon's walk (`native/records.c`) checks a batch: it decides as the loop
 * above does (true only where the loop passes; on false the loop runs and says what is wrong),
 * at a fraction of its cost per record, but each call costs about as much as a few records.
 */
const NATIVE_WALK_MIN_RECORDS = 8;

type NativeWalk = (buf: Uint8Array, start: number, end: number, count: number, lastOffsetDelta: number) => boolean;
let walk: NativeWalk | null | undefined;

/** The addon's walk, or null without the addon (or with a binary built before it). */
function nativeWalk(): NativeWalk | null {
  if (walk === undefined) walk = nativeAddon()?.recordOffsetsHold ?? null;
  return walk;
}

/** A varlong takes at most 10 bytes. */
const MAX_VARLONG_BYTES = 10;

/**
 * The offset of the first record of the batch at `pos` whose offset is >= `minOffset` and whose
 * timestamp is >= `timestamp`, or -1. Walks only the length, timestamp and offset of each record
 * (no keys, values or headers are materialised): the last step of a seek by time.
 */
export function findOffsetByTimestamp(buf: Buffer, pos: number, timestamp: number, minOffset: number, context: BatchContext = {}): number {
  const size = checkFraming(buf, pos, context);
  const baseOffset = readBaseOffset(buf, pos);
  if (readTimestampType(buf, pos) === 'LogAppendTime') {
    return readMaxTimestamp(buf, pos) < timestamp ? -1 : firstOffsetFrom(buf, pos, minOffset, context);
  }
  const data = recordsSection(buf, pos, size, context);
  const end = data === buf ? pos + size : data.length;
  const baseTimestamp = readBaseTimestamp(buf, pos);
  const count = readRecordCount(buf, pos);
  const lastOffsetDelta = readLastOffsetDelta(buf, pos);
  cursor.pos = data === buf ? pos + RECORDS_OFFSET : 0;
  try {
    const shape = batchShapeProblem(baseOffset, lastOffsetDelta, count);
    if (shape !== null) throw framingError(shape);
    let previous = -1;
    for (let i = 0; i < count && cursor.pos < end; i++) {
      const length = readVarint(data, cursor, end);
      const recordEnd = cursor.pos + length;
      if (length < 0 || recordEnd > end) throw framingError(`record length ${length} overruns the batch`);
      cursor.pos++;
      const ts = baseTimestamp + readVarlong(data, cursor, recordEnd);
      const delta = readVarint(data, cursor, recordEnd);
      const problem = recordDeltaProblem(delta, previous, lastOffsetDelta);
      if (problem !== null) throw framingError(problem);
      previous = delta;
      const offset = baseOffset + delta;
      if (offset >= minOffset && ts >= timestamp) return offset;
      cursor.pos = recordEnd;
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw corruptBatch(pos, context, message, { offset: baseOffset, cause: err });
  }
  return -1;
}

/** First record offset >= minOffset in the batch (LogAppendTime: every record has the batch's time). */
function firstOffsetFrom(buf: Buffer, pos: number, minOffset: number, context: BatchContext): number {
  const out: LogRecord[] = [];
  decodeRecords(buf, pos, out, minOffset, 1, context);
  return out.length > 0 ? out[0]!.offset : -1;
}

function readHeaders(data: Buffer, end: number): Header[] {
  const count = shortVarint(data, end);
  if (count < 0 || count > end - cursor.pos) throw framingError(`invalid header count ${count}`);
  const headers: Header[] = [];
  for (let h = 0; h < count; h++) {
    const keyLength = readVarint(data, cursor, end);
    const keyStart = cursor.pos;
    if (keyLength < 0) throw framingError(`header ${h} has a null key`);
    if (keyLength > end - keyStart) throw framingError(`header ${h} key of ${keyLength} bytes overruns its record`);
    cursor.pos = keyStart + keyLength;
    const key = data.toString('utf8', keyStart, keyStart + keyLength);
    headers.push({ key, value: readBytes(data, end) });
  }
  return headers;
}

/**
 * Validates the batch at `pos` (framing and CRC) and decodes its header and every record.
 * Convenience for tools and tests; the log's read path uses `decodeRecords`.
 */
export function decodeBatch(buf: Buffer, pos = 0, context: BatchContext = {}): DecodedBatch {
  validateBatch(buf, pos, context);
  const header = parseBatchHeader(buf, pos, context);
  const records: LogRecord[] = [];
  decodeRecords(buf, pos, records, -Infinity, Infinity, context);
  return { header, records };
}
