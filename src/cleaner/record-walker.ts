import { CorruptRecordError, InvalidRecordError } from '../errors.js';
import {
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  ATTRIBUTES_OFFSET,
  compressionTypeOf,
  readBaseOffset,
  readBaseTimestamp,
  readCompressionId,
  readMaxTimestamp,
  readRecordCount,
} from '../record/batch-layout.js';
import { decompress } from '../record/compression.js';
import { readVarint, readVarlong, type Cursor } from '../record/varint.js';

/**
 * Walks the records of one v2 batch (decompressing it first when it is compressed), exposing each
 * record's offset, timestamp, key position and whether its value is null in fields, so that a
 * pass over millions of records allocates nothing per record. The batch must have passed its CRC.
 *
 * Each record is `length | attributes | timestampDelta | offsetDelta | key | value | headers`;
 * from `offsetDeltaStart` to `recordEnd` the record's bytes do not depend on the batch's base
 * timestamp, so a rebuilt batch copies them as they are.
 */
export class RecordWalker {
  data: Buffer = Buffer.alloc(0);
  offset = 0;
  timestamp = 0;
  /** Key bytes `data[keyStart, keyEnd)`; keyStart is -1 for a null key. */
  keyStart = -1;
  keyEnd = -1;
  valueIsNull = false;
  recordEnd = 0;
  /** Where the offset delta starts: from here to `recordEnd` nothing depends on the base timestamp. */
  offsetDeltaStart = 0;
  /** Offset delta of the record (relative to the batch's base offset). */
  offsetDelta = 0;

  private readonly cursor: Cursor = { pos: 0 };
  private end = 0;
  private remaining = 0;
  private baseOffset = 0;
  private baseTimestamp = 0;
  private logAppendTime = false;
  private maxTimestamp = 0;

  /** Starts on the batch at `buf[pos, pos + size)`. */
  begin(buf: Buffer, pos: number, size: number): this {
    const codec = compressionTypeOf(readCompressionId(buf, pos));
    if (codec === undefined) throw new CorruptRecordError(`unknown compression codec in the batch at offset ${readBaseOffset(buf, pos)}`);
    if (codec === 'none') {
      this.data = buf;
      this.cursor.pos = pos + RECORDS_OFFSET;
      this.end = pos + size;
    } else {
      this.data = decompress(codec, buf.subarray(pos + RECORDS_OFFSET, pos + size));
      this.cursor.pos = 0;
      this.end = this.data.length;
    }
    this.remaining = readRecordCount(buf, pos);
    this.baseOffset = readBaseOffset(buf, pos);
    this.baseTimestamp = readBaseTimestamp(buf, pos);
    this.logAppendTime = (buf[pos + ATTRIBUTES_OFFSET + 1]! & TIMESTAMP_TYPE_MASK) !== 0;
    this.maxTimestamp = readMaxTimestamp(buf, pos);
    return this;
  }

  /** Moves to the next record; false after the last one. */
  next(): boolean {
    if (this.remaining <= 0) return false;
    this.remaining--;
    const { data, cursor } = this;
    const length = readVarint(data, cursor, this.end);
    const recordEnd = cursor.pos + length;
    if (length < 0 || recordEnd > this.end) throw new CorruptRecordError(`record of ${length} bytes overruns the batch at offset ${this.baseOffset}`);
    cursor.pos++; // attributes: unused in v2
    const timestampDelta = readVarlong(data, cursor, recordEnd);
    this.offsetDeltaStart = cursor.pos;
    this.offsetDelta = readVarint(data, cursor, recordEnd);
    this.offset = this.baseOffset + this.offsetDelta;
    this.timestamp = this.logAppendTime ? this.maxTimestamp : this.baseTimestamp + timestampDelta;
    const keyLength = readVarint(data, cursor, recordEnd);
    if (keyLength < 0) {
      this.keyStart = -1;
      this.keyEnd = -1;
    } else {
      this.keyStart = cursor.pos;
      this.keyEnd = cursor.pos + keyLength;
      if (this.keyEnd > recordEnd) throw new CorruptRecordError(`key overruns its record at offset ${this.offset}`);
      cursor.pos = this.keyEnd;
    }
    this.valueIsNull = readVarint(data, cursor, recordEnd) < 0;
    this.recordEnd = recordEnd;
    cursor.pos = recordEnd;
    return true;
  }
}

/**
 * Kafka's LogValidator for a compacted topic's produce: every record of the (CRC-checked) batch at
 * `buf[pos, pos + size)` needs a key, or the batch is refused (`InvalidRecordError`).
 */
export function requireKeysInBatch(buf: Buffer, pos: number, size: number): void {
  const walker = new RecordWalker().begin(buf, pos, size);
  while (walker.next()) {
    if (walker.keyStart < 0) {
      throw new InvalidRecordError(`a compacted log cannot accept a record without a key (offset delta ${walker.offsetDelta} of the batch); nothing was written`);
    }
  }
}
