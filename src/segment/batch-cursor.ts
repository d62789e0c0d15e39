import { CorruptRecordError } from '../errors.js';
import {
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  readBaseOffset,
  readBatchSize,
  readLastOffset,
  readMagic,
  readMaxTimestamp,
} from '../record/batch-layout.js';
import type { FileRecords } from './file-records.js';

/** Bytes read at once while walking batch headers; most batches are smaller, so one read covers several. */
const CHUNK_BYTES = 16 * 1024;
/** Kafka's smallest legal size field (a v0 record); anything smaller cannot be a batch. */
const MIN_SIZE_FIELD = 14;
const CURRENT_MAGIC = 2;

/**
 * Walks the batch headers of a `.log` file from a position, reading the file in chunks into one
 * buffer that it reuses, so walking allocates nothing per batch (Kafka's FileLogInputStream).
 *
 * `next()` loads the header of the batch at `position` and returns true, or returns false at the
 * end: fewer than 12 bytes left, or a batch declared to run past `end` (a torn tail, which is not
 * an error here: recovery decides what to do with it). A size field below 14 or a magic other
 * than 2 throws `CorruptRecordError` naming the file and position. CRCs are not checked here.
 */
export class BatchCursor {
  /** Position of the current batch (after `next()` returned true). */
  position = 0;
  /** Total size of the current batch, log overhead included. */
  size = 0;
  baseOffset = 0;
  lastOffset = 0;
  maxTimestamp = -1;

  private nextPosition = 0;
  private end = 0;
  private chunkStart = 0;
  private chunkLength = 0;

  constructor(
    private readonly records: FileRecords,
    private readonly chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES),
  ) {}

  /** Positions the cursor so that the next `next()` reads the batch at `position`; `end` defaults to the file size. */
  seek(position: number, end = this.records.size): this {
    this.nextPosition = position;
    this.end = end;
    this.chunkLength = 0;
    return this;
  }

  /** Loads the next batch header; false at the end of the valid data. */
  next(): boolean {
    const position = this.nextPosition;
    if (this.end - position < LOG_OVERHEAD) return false;
    const at = this.headerAt(position, Math.min(RECORD_BATCH_OVERHEAD, this.end - position));
    const size = readBatchSize(this.chunk, at);
    if (size - LOG_OVERHEAD < MIN_SIZE_FIELD) {
      throw new CorruptRecordError(`batch size field ${size - LOG_OVERHEAD} is below ${MIN_SIZE_FIELD} in ${this.records.file} at position ${position}`, {
        file: this.records.file,
        position,
      });
    }
    if (position + size > this.end) return false;
    if (size < RECORD_BATCH_OVERHEAD || readMagic(this.chunk, at) !== CURRENT_MAGIC) {
      throw new CorruptRecordError(
        `not a v2 record batch in ${this.records.file} at position ${position} (magic ${readMagic(this.chunk, at)}, size ${size})`,
        { file: this.records.file, position },
      );
    }
    this.position = position;
    this.size = size;
    this.baseOffset = readBaseOffset(this.chunk, at);
    this.lastOffset = readLastOffset(this.chunk, at);
    this.maxTimestamp = readMaxTimestamp(this.chunk, at);
    this.nextPosition = position + size;
    return true;
  }

  /** Where the current batch's bytes are inside `chunkBuffer`, or -1 when the chunk does not hold all of them. */
  wholeBatchInChunk(): number {
    const at = this.position - this.chunkStart;
    return at >= 0 && at + this.size <= this.chunkLength ? at : -1;
  }

  /** The reused read buffer; valid until the next `next()`. */
  get chunkBuffer(): Buffer {
    return this.chunk;
  }

  /** Position just after the last batch `next()` accepted. */
  get validEnd(): number {
    return this.nextPosition;
  }

  private headerAt(position: number, need: number): number {
    const at = position - this.chunkStart;
    if (this.chunkLength > 0 && at >= 0 && at + need <= this.chunkLength) return at;
    const length = Math.min(this.chunk.length, this.end - position);
    this.chunkStart = position;
    this.chunkLength = this.records.readInto(this.chunk, 0, length, position);
    if (this.chunkLength < need) {
      throw new CorruptRecordError(`${this.records.file} ended while reading a batch header at position ${position}`, {
        file: this.records.file,
        position,
      });
    }
    return 0;
  }
}
