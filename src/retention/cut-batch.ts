import { CorruptRecordError } from '../errors.js';
import {
  ATTRIBUTES_OFFSET,
  CRC_COVERAGE_START,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  compressionTypeOf,
  readBaseOffset,
  readBaseTimestamp,
  readBatchSize,
  readCompressionId,
  readRecordCount,
  writeInt32,
  writeInt64,
} from '../record/batch-layout.js';
import { validateBatch, type BatchContext } from '../record/batch-reader.js';
import { compress, decompress } from '../record/compression.js';
import { crc32c } from '../record/crc32c.js';
import { readVarint, readVarlong, type Cursor } from '../record/varint.js';

/**
 * The batch `batch` (one whole v2 batch, at position 0) cut so that it keeps only its records
 * with an offset below `keepBelow`, or null when none of its records is below it.
 *
 * Where Kafka drops a batch that a truncation point falls inside, seglog keeps its first records.
 * The cut is done on the bytes, not by re-encoding records: the kept records are the exact bytes
 * they were (keys, values, headers, record attributes, timestamp and offset deltas), and the
 * header keeps everything that describes them (base offset, base timestamp, partition leader
 * epoch, attributes: codec, timestamp type, transactional and control flags; producer id, epoch
 * and base sequence). What changes: the records section (re-compressed with the batch's own codec
 * when it was compressed), `recordsCount`, `lastOffsetDelta` (`keepBelow - 1 - baseOffset`, so the
 * batch ends exactly before the cut even where compaction left offset gaps), `maxTimestamp`
 * (CreateTime: the largest kept record timestamp; LogAppendTime: unchanged, since every record reads
 * back with it), `length` and the CRC.
 *
 * Throws `CorruptRecordError` when the batch fails its CRC or its records do not parse.
 */
export function cutBatch(batch: Buffer, keepBelow: number, context: BatchContext = {}): Buffer | null {
  validateBatch(batch, 0, context);
  const size = readBatchSize(batch, 0);
  const baseOffset = readBaseOffset(batch, 0);
  const codecId = readCompressionId(batch, 0);
  const codec = compressionTypeOf(codecId);
  if (codec === undefined) throw new CorruptRecordError(`unknown compression codec id ${codecId} in the batch at offset ${baseOffset}`, context);
  const logAppendTime = (batch[ATTRIBUTES_OFFSET + 1]! & TIMESTAMP_TYPE_MASK) !== 0;
  const baseTimestamp = readBaseTimestamp(batch, 0);
  const data = codec === 'none' ? batch.subarray(RECORDS_OFFSET, size) : decompress(codec, batch.subarray(RECORDS_OFFSET, size), context.maxDecompressedBytes);
  const count = readRecordCount(batch, 0);

  const cursor: Cursor = { pos: 0 };
  let kept = 0;
  let keptEnd = 0;
  let maxTimestamp = -1;
  for (let i = 0; i < count; i++) {
    const length = readVarint(data, cursor, data.length);
    const recordEnd = cursor.pos + length;
    if (length < 0 || recordEnd > data.length) {
      throw new CorruptRecordError(`record ${i} of the batch at offset ${baseOffset} overruns its batch`, context);
    }
    cursor.pos++; // attributes
    const timestampDelta = readVarlong(data, cursor, recordEnd);
    const offset = baseOffset + readVarint(data, cursor, recordEnd);
    if (offset >= keepBelow) break;
    kept++;
    keptEnd = recordEnd;
    maxTimestamp = Math.max(maxTimestamp, baseTimestamp + timestampDelta);
    cursor.pos = recordEnd;
  }
  if (kept === 0) return null;

  const plain = data.subarray(0, keptEnd);
  const records = codec === 'none' ? plain : compress(codec, Buffer.from(plain));
  const out = Buffer.alloc(RECORDS_OFFSET + records.length);
  batch.copy(out, 0, 0, RECORDS_OFFSET);
  records.copy(out, RECORDS_OFFSET);
  writeInt32(out, LENGTH_OFFSET, out.length - LOG_OVERHEAD);
  writeInt32(out, LAST_OFFSET_DELTA_OFFSET, keepBelow - 1 - baseOffset);
  if (!logAppendTime) writeInt64(out, MAX_TIMESTAMP_OFFSET, maxTimestamp);
  writeInt32(out, RECORDS_COUNT_OFFSET, kept);
  writeInt32(out, CRC_OFFSET, crc32c(out, CRC_COVERAGE_START, out.length));
  return out;
}
