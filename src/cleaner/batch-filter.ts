import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_COVERAGE_START,
  CRC_OFFSET,
  DELETE_HORIZON_FLAG_MASK,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  NO_TIMESTAMP,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  compressionTypeOf,
  readAttributes,
  readBaseTimestamp,
  readCompressionId,
  readLastOffset,
  readMaxTimestamp,
  writeInt32,
  writeInt64,
} from '../record/batch-layout.js';
import { compress } from '../record/compression.js';
import { crc32c } from '../record/crc32c.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../record/varint.js';
import type { OffsetMap } from './offset-map.js';
import { RecordWalker } from './record-walker.js';

/** What a pass knows when it filters a batch. */
export interface FilterContext {
  map: OffsetMap;
  /** The clean time (ms on the log's clock): tombstones whose horizon it reached go. */
  now: number;
  deleteRetentionMs: number;
  /** Kafka's upperBoundOffsetOfCleaningRound: the batch ending just below it is kept, even emptied. */
  upperBound: number;
}

/** Counters of one pass, added to by `filterBatch`. */
export interface FilterCounts {
  recordsRemoved: number;
  tombstonesRemoved: number;
}

/** `filterBatch`'s answer when the batch stays as it is, byte for byte. */
export const UNCHANGED = Symbol('unchanged');

/**
 * Retained records of the batch being filtered, as positions in the walker's data (reused):
 * where its offset delta starts, where it ends, and its timestamp.
 */
let keptRest = new Int32Array(256);
let keptEnd = new Int32Array(256);
let keptTimestamp = new Float64Array(256);
const walker = new RecordWalker();

function growKept(n: number): void {
  if (n < keptRest.length) return;
  const size = keptRest.length * 2;
  const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
    const b = make(size);
    b.set(a);
    return b;
  };
  keptRest = grow(keptRest, (s) => new Int32Array(s));
  keptEnd = grow(keptEnd, (s) => new Int32Array(s));
  keptTimestamp = grow(keptTimestamp, (s) => new Float64Array(s));
}

/**
 * Kafka's `MemoryRecords.filterTo` with the cleaner's filter, for the batch at `buf[pos, pos +
 * size)` (CRC already checked). A record stays when it is past the map's end, or is the latest of
 * its key and either has a value or is a tombstone whose batch has no delete horizon yet or one
 * the clock has not reached. Keyless records go. Control batches stay as they are.
 *
 * Returns `UNCHANGED` when every record stays and no horizon is needed; null when the batch goes;
 * otherwise the rebuilt batch: same base offset, last offset (lastOffsetDelta kept), codec,
 * timestamp type, producer fields and leader epoch; `baseTimestamp` is the delete horizon (bit
 * 0x40 set) when a kept tombstone needs one or the batch had one, else the first kept record's
 * timestamp; record timestamp deltas are rebased on it; `maxTimestamp` recomputed (CreateTime).
 * An emptied batch that ends at `upperBound - 1` becomes Kafka's 61-byte empty header.
 */
export function filterBatch(buf: Buffer, pos: number, size: number, ctx: FilterContext, counts: FilterCounts): Buffer | null | typeof UNCHANGED {
  const attributes = readAttributes(buf, pos);
  if ((attributes & CONTROL_FLAG_MASK) !== 0) return UNCHANGED;
  const hasHorizon = (attributes & DELETE_HORIZON_FLAG_MASK) !== 0;
  const retainDeletes = !hasHorizon || ctx.now < readBaseTimestamp(buf, pos);
  const { map } = ctx;
  const mapEnd = map.latestOffset;
  walker.begin(buf, pos, size);
  let kept = 0;
  let removed = 0;
  let keptTombstone = false;
  while (walker.next()) {
    let retain: boolean;
    if (walker.offset > mapEnd) retain = true;
    else if (walker.keyStart < 0) retain = false;
    else retain = walker.offset >= map.get(walker.data, walker.keyStart, walker.keyEnd) && (!walker.valueIsNull || retainDeletes);
    if (!retain) {
      removed++;
      counts.recordsRemoved++;
      if (walker.valueIsNull) counts.tombstonesRemoved++;
      continue;
    }
    growKept(kept);
    keptRest[kept] = walker.offsetDeltaStart;
    keptEnd[kept] = walker.recordEnd;
    keptTimestamp[kept] = walker.timestamp;
    kept++;
    if (walker.valueIsNull) keptTombstone = true;
  }
  const needsHorizon = keptTombstone && !hasHorizon;
  if (kept === 0) return readLastOffset(buf, pos) + 1 === ctx.upperBound ? emptyHeader(buf, pos) : null;
  if (removed === 0 && !needsHorizon) return UNCHANGED;
  const horizon = needsHorizon ? ctx.now + ctx.deleteRetentionMs : hasHorizon ? readBaseTimestamp(buf, pos) : NO_TIMESTAMP;
  return rebuild(buf, pos, kept, horizon);
}

/** The batch with only the kept records, timestamps rebased (see `filterBatch`). */
function rebuild(buf: Buffer, pos: number, kept: number, horizon: number): Buffer {
  const data = walker.data;
  const baseTimestamp = horizon !== NO_TIMESTAMP ? horizon : keptTimestamp[0]!;
  let plainSize = 0;
  let maxTimestamp = -1;
  for (let i = 0; i < kept; i++) {
    plainSize += recordSize(i, baseTimestamp);
    if (keptTimestamp[i]! > maxTimestamp) maxTimestamp = keptTimestamp[i]!;
  }
  const plain = Buffer.allocUnsafe(plainSize);
  let at = 0;
  for (let i = 0; i < kept; i++) {
    const delta = keptTimestamp[i]! - baseTimestamp;
    at = writeVarint(plain, at, bodySize(i, delta));
    plain[at++] = 0; // record attributes: unused in v2
    at = writeVarlong(plain, at, delta);
    at += data.copy(plain, at, keptRest[i]!, keptEnd[i]!);
  }
  const codec = compressionTypeOf(readCompressionId(buf, pos))!;
  const records = codec === 'none' ? plain : compress(codec, plain);
  const out = Buffer.allocUnsafe(RECORDS_OFFSET + records.length);
  buf.copy(out, 0, pos, pos + RECORDS_OFFSET);
  records.copy(out, RECORDS_OFFSET);
  writeInt32(out, LENGTH_OFFSET, out.length - LOG_OVERHEAD);
  if (horizon !== NO_TIMESTAMP) out[ATTRIBUTES_OFFSET + 1] = out[ATTRIBUTES_OFFSET + 1]! | DELETE_HORIZON_FLAG_MASK;
  writeInt64(out, BASE_TIMESTAMP_OFFSET, baseTimestamp);
  const logAppendTime = (out[ATTRIBUTES_OFFSET + 1]! & TIMESTAMP_TYPE_MASK) !== 0;
  writeInt64(out, MAX_TIMESTAMP_OFFSET, logAppendTime ? readMaxTimestamp(buf, pos) : maxTimestamp);
  writeInt32(out, RECORDS_COUNT_OFFSET, kept);
  writeInt32(out, CRC_OFFSET, crc32c(out, CRC_COVERAGE_START, out.length));
  return out;
}

/** Bytes of kept record `i` after its length field, with timestamp delta `delta`. */
function bodySize(i: number, delta: number): number {
  return 1 + sizeOfVarlong(delta) + keptEnd[i]! - keptRest[i]!;
}

function recordSize(i: number, baseTimestamp: number): number {
  const body = bodySize(i, keptTimestamp[i]! - baseTimestamp);
  return sizeOfVarint(body) + body;
}

/**
 * Kafka's `DefaultRecordBatch.writeEmptyHeader`: the batch's offsets, producer fields, leader
 * epoch, timestamp type, transactional and control flags and max timestamp; no records, codec
 * none, base timestamp -1, no delete horizon.
 */
function emptyHeader(buf: Buffer, pos: number): Buffer {
  const out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD);
  buf.copy(out, 0, pos, pos + RECORD_BATCH_OVERHEAD);
  writeInt32(out, LENGTH_OFFSET, RECORD_BATCH_OVERHEAD - LOG_OVERHEAD);
  const keep = TIMESTAMP_TYPE_MASK | 0x10 /* transactional */ | CONTROL_FLAG_MASK;
  out[ATTRIBUTES_OFFSET] = 0;
  out[ATTRIBUTES_OFFSET + 1] = out[ATTRIBUTES_OFFSET + 1]! & keep & ~COMPRESSION_CODEC_MASK;
  writeInt64(out, BASE_TIMESTAMP_OFFSET, NO_TIMESTAMP);
  writeInt32(out, RECORDS_COUNT_OFFSET, 0);
  writeInt32(out, CRC_OFFSET, crc32c(out, CRC_COVERAGE_START, out.length));
  return out;
}
