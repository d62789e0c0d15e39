/**
 * Batches that arrive already encoded (a Kafka producer's record set): checked as Kafka's
 * `LogValidator` checks them, then given their offsets in place. Pure functions on the buffer.
 *
 * The CRC covers `attributes` to the end, so writing `baseOffset` and `partitionLeaderEpoch` keeps
 * a batch valid; only a LogAppendTime log, which rewrites the timestamp type and `maxTimestamp`,
 * has to compute the CRC again.
 */
import { InvalidRecordError, RecordTooLargeError } from '../errors.js';
import {
  ATTRIBUTES_OFFSET,
  CRC_COVERAGE_START,
  CRC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  CONTROL_FLAG_MASK,
  readAttributes,
  readBatchSize,
  readCompressionId,
  readLastOffsetDelta,
  readMaxTimestamp,
  readRecordCount,
  writeBaseOffset,
  writeInt32,
  writeInt64,
  writePartitionLeaderEpoch,
} from '../record/batch-layout.js';
import { validateBatch } from '../record/batch-reader.js';
import { crc32c } from '../record/crc32c.js';
import { CorruptRecordError } from '../errors.js';
import type { TimestampType } from '../record/types.js';

/** One batch of a record set: where it is and what appending it needs. */
export interface EncodedBatchInfo {
  position: number;
  size: number;
  lastOffsetDelta: number;
  recordCount: number;
  maxTimestamp: number;
}

/** The leader epoch seglog writes into batches: one node, never re-elected. */
export const LEADER_EPOCH = 0;

/**
 * Splits `records` into its batches and checks each: magic 2, a size that fits, the CRC-32C,
 * a record count that matches `lastOffsetDelta` (uncompressed; at least one record in any case),
 * no control batch, a known codec, and at most `maxMessageBytes` per batch. Throws
 * `InvalidRecordError` (Kafka's CORRUPT_MESSAGE / INVALID_RECORD) or `RecordTooLargeError`;
 * nothing is modified.
 */
export function checkEncodedBatches(records: Buffer, maxMessageBytes: number): EncodedBatchInfo[] {
  const batches: EncodedBatchInfo[] = [];
  let pos = 0;
  while (pos < records.length) {
    if (records.length - pos < RECORD_BATCH_OVERHEAD) throw new InvalidRecordError(`record set ends with ${records.length - pos} bytes, fewer than a batch header`);
    const size = readBatchSize(records, pos);
    if (size > maxMessageBytes) throw new RecordTooLargeError(`batch of ${size} bytes is over maxMessageBytes (${maxMessageBytes})`);
    try {
      validateBatch(records, pos);
    } catch (err) {
      if (err instanceof CorruptRecordError) throw new InvalidRecordError(err.message, { cause: err });
      throw err;
    }
    batches.push(checkBatchFields(records, pos, size));
    pos += size;
  }
  if (batches.length === 0) throw new InvalidRecordError('record set holds no batch');
  return batches;
}

function checkBatchFields(records: Buffer, pos: number, size: number): EncodedBatchInfo {
  const attributes = readAttributes(records, pos);
  if ((attributes & CONTROL_FLAG_MASK) !== 0) throw new InvalidRecordError('a producer may not write control batches');
  if (readCompressionId(records, pos) > 4) throw new InvalidRecordError(`unknown compression codec id ${readCompressionId(records, pos)}`);
  const lastOffsetDelta = readLastOffsetDelta(records, pos);
  const recordCount = readRecordCount(records, pos);
  if (recordCount < 1 || lastOffsetDelta < 0) throw new InvalidRecordError(`batch with ${recordCount} records and last offset delta ${lastOffsetDelta}`);
  if (readCompressionId(records, pos) === 0 && recordCount !== lastOffsetDelta + 1) {
    throw new InvalidRecordError(`uncompressed batch holds ${recordCount} records but its last offset delta is ${lastOffsetDelta}`);
  }
  return { position: pos, size, lastOffsetDelta, recordCount, maxTimestamp: readMaxTimestamp(records, pos) };
}

/**
 * Writes the batch's offsets (and leader epoch) in place; a LogAppendTime log also stamps it with
 * `now`, which changes CRC-covered bytes, so the CRC is computed again.
 */
export function assignOffsets(records: Buffer, batch: EncodedBatchInfo, baseOffset: number, timestampType: TimestampType, now: number): void {
  const pos = batch.position;
  writeBaseOffset(records, pos, baseOffset);
  writePartitionLeaderEpoch(records, pos, LEADER_EPOCH);
  if (timestampType !== 'LogAppendTime') return;
  records[pos + ATTRIBUTES_OFFSET + 1] |= TIMESTAMP_TYPE_MASK;
  writeInt64(records, pos + MAX_TIMESTAMP_OFFSET, now);
  writeInt32(records, pos + CRC_OFFSET, crc32c(records, pos + CRC_COVERAGE_START, pos + batch.size));
  batch.maxTimestamp = now;
}
