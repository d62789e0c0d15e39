/**
 * Where the records of an uncompressed batch start, learned once when the batch is first checked,
 * so that a later read of one record in the middle of the batch goes straight to it instead of
 * walking the records before it. Built by `recordTable` in the same walk that checks the record
 * offsets (`batch-rules.ts`), so a batch that has a table has also passed that check.
 */
import { CorruptRecordError } from '../errors.js';
import {
  RECORDS_OFFSET,
  compressionTypeOf,
  corruptBatch,
  readBaseOffset,
  readBaseTimestamp,
  readBatchSize,
  readCompressionId,
  readLastOffsetDelta,
  readRecordCount,
  type BatchContext,
} from './batch-layout.js';
import { batchShapeProblem, recordDeltaProblem } from './batch-rules.js';
import { crc32c } from './crc32c.js';
import { readVarint, readVarlong, type Cursor } from './varint.js';

/**
 * Records per table entry at most this many: a batch of more records keeps every `stride`-th start
 * (a read walks the few record lengths after it), so a table never passes this many entries.
 */
const MAX_TABLE_ENTRIES = 256;

export interface RecordTable {
  /** Keeps the start of records 0, stride, 2 * stride, ... */
  readonly stride: number;
  /** Start of each kept record, relative to the batch's first byte. */
  readonly starts: readonly number[];
  /** Each record's timestamp (base timestamp + delta), when `stride` is 1; else empty. */
  readonly timestamps: readonly number[];
  /**
   * CRC-32C of each entry's bytes (from its start to the next entry's, or to the batch's end),
   * when asked for (`withCrcs`); else empty. A read-only opener checks a copy taken from a mapping
   * of a file the writer may be rewriting against them (see `LogReader.pointRead`).
   */
  readonly crcs: readonly number[];
}

const walk: Cursor = { pos: 0 };

function framingError(detail: string): CorruptRecordError {
  return new CorruptRecordError(detail);
}

/**
 * Checks the record offsets of the batch at `pos` as `checkRecordOffsets` does and returns their
 * table; null for a compressed batch (its records are checked when inflated) or one whose
 * records do not fill its offsets (a compacted batch: a record's offset then needs its delta).
 * Throws `CorruptRecordError` naming the batch.
 */
export function recordTable(buf: Buffer, pos: number, context: BatchContext = {}, withCrcs = false): RecordTable | null {
  const baseOffset = readBaseOffset(buf, pos);
  const lastOffsetDelta = readLastOffsetDelta(buf, pos);
  const count = readRecordCount(buf, pos);
  const shape = batchShapeProblem(baseOffset, lastOffsetDelta, count);
  if (shape !== null) throw corruptBatch(pos, context, shape, { offset: baseOffset });
  if (compressionTypeOf(readCompressionId(buf, pos)) !== 'none') return null;
  const stride = Math.max(1, Math.ceil(count / MAX_TABLE_ENTRIES));
  // Plain arrays: a typed array of more than a few bytes costs an off-heap allocation, several
  // times the walk itself for a batch of 100 records.
  const starts: number[] = [];
  const timestamps: number[] = [];
  const baseTimestamp = readBaseTimestamp(buf, pos);
  const end = pos + readBatchSize(buf, pos);
  walk.pos = pos + RECORDS_OFFSET;
  let previous = -1;
  try {
    for (let i = 0; i < count; i++) {
      if (i % stride === 0) starts.push(walk.pos - pos);
      const length = readVarint(buf, walk, end);
      const recordEnd = walk.pos + length;
      if (length < 0 || recordEnd > end) throw framingError(`record ${i} of ${count}: record length ${length} overruns the batch`);
      walk.pos++; // attributes
      const timestampDelta = readVarlong(buf, walk, recordEnd);
      if (stride === 1) timestamps.push(baseTimestamp + timestampDelta);
      const delta = readVarint(buf, walk, recordEnd);
      const problem = recordDeltaProblem(delta, previous, lastOffsetDelta);
      if (problem !== null) throw framingError(`record ${i} of ${count}: ${problem}`);
      previous = delta;
      walk.pos = recordEnd;
    }
    if (walk.pos !== end) throw framingError(`${end - walk.pos} bytes remain after the ${count} declared records`);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw corruptBatch(pos, context, message, { offset: baseOffset, cause: err });
  }
  if (count !== lastOffsetDelta + 1) return null;
  return { stride, starts, timestamps, crcs: withCrcs ? entryCrcs(buf, pos, starts, end) : [] };
}

function entryCrcs(buf: Buffer, pos: number, starts: readonly number[], end: number): number[] {
  const crcs: number[] = [];
  for (let i = 0; i < starts.length; i++) crcs.push(crc32c(buf, pos + starts[i]!, i + 1 < starts.length ? pos + starts[i + 1]! : end));
  return crcs;
}
