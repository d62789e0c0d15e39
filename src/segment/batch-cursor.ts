import { CorruptRecordError } from '../errors.js';
import { checkRecordOffsets, validateBatch } from '../record/batch-reader.js';
import {
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  readBaseOffset,
  readBatchSize,
  readLastOffset,
  readLastOffsetDelta,
  readMagic,
  readMaxTimestamp,
  readRecordCount,
} from '../record/batch-layout.js';
import { batchOrderProblem, batchShapeProblem } from '../record/batch-rules.js';
import { FileRecords } from './file-records.js';
import { keepLayout } from '../layouts.js';

/** Bytes read at once while walking batch headers; most batches are smaller, so one read covers several. */
const CHUNK_BYTES = 16 * 1024;
/**
 * Chunk of a cursor that checks every batch (recovery): large reads amortise the syscall, and any
 * batch up to this size is checked where it lies in the chunk, without a copy.
 */
export const VALIDATING_CHUNK_BYTES = 1024 * 1024;
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
 * than 2 throws `CorruptRecordError` naming the file and position, and so does a batch that breaks
 * the offset rules of `batch-rules.ts` (its own fields, or offsets not above the previous batch
 * since the last `seek`): a walk never goes backwards. CRCs are not checked here.
 */
export class BatchCursor {
  /** Position of the current batch (after `next()` returned true). */
  position = 0;
  /** Total size of the current batch, log overhead included. */
  size = 0;
  baseOffset = 0;
  lastOffset = 0;
  maxTimestamp = -1;
  /** Where the current batch's header lies in `chunkBuffer` (valid until the next `next()`). */
  headerIndex = 0;

  private nextPosition = 0;
  /** Last offset of the batch before, since the last `seek` (-1: none yet). */
  private previousLastOffset = -1;
  private end = 0;
  private chunkStart = 0;
  private chunkLength = 0;
  private readonly context = { file: '', position: 0 };
  /** For batches larger than the chunk (validateCurrent); grown on demand and kept. */
  private large: Buffer | null = null;
  /** What headers are read from: `chunk`, or the writer's mapping of the whole file. */
  private buf: Buffer;
  /**
   * True: read headers through the writer's mapping of the whole file, mapping it if need be;
   * false: through a mapping only when one exists already, else into the chunk (see
   * `FileRecords.mappedView`). Only lookups set it (`LogReader.cursorFor`): a walk reads each
   * header once, and a new mapping of the whole file is held as external memory for the rest of
   * the segment's life.
   */
  mapFile = false;

  constructor(
    private readonly records: FileRecords,
    private readonly chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES),
  ) {
    this.buf = chunk;
  }

  /**
   * Positions the cursor so that the next `next()` reads the batch at `position`; `end` defaults to
   * the file size. `previousLastOffset`: the last offset of the batch before `position`, when
   * known, which the batch there must come after.
   */
  seek(position: number, end = this.records.size, previousLastOffset = -1): this {
    this.nextPosition = position;
    this.previousLastOffset = previousLastOffset;
    this.end = end;
    this.chunkLength = 0;
    return this;
  }

  /** Loads the next batch header; false at the end of the valid data. */
  next(): boolean {
    const position = this.nextPosition;
    if (this.end - position < LOG_OVERHEAD) return false;
    const at = this.headerAt(position, Math.min(RECORD_BATCH_OVERHEAD, this.end - position));
    const size = readBatchSize(this.buf, at);
    if (size - LOG_OVERHEAD < MIN_SIZE_FIELD) {
      throw new CorruptRecordError(`batch size field ${size - LOG_OVERHEAD} is below ${MIN_SIZE_FIELD} in ${this.records.file} at position ${position}`, {
        file: this.records.file,
        position,
      });
    }
    if (position + size > this.end) return false;
    if (size < RECORD_BATCH_OVERHEAD || readMagic(this.buf, at) !== CURRENT_MAGIC) {
      throw new CorruptRecordError(
        `not a v2 record batch in ${this.records.file} at position ${position} (magic ${readMagic(this.buf, at)}, size ${size})`,
        { file: this.records.file, position },
      );
    }
    const baseOffset = readBaseOffset(this.buf, at);
    const lastOffset = readLastOffset(this.buf, at);
    const problem =
      batchShapeProblem(baseOffset, readLastOffsetDelta(this.buf, at), readRecordCount(this.buf, at)) ??
      batchOrderProblem(baseOffset, lastOffset, this.previousLastOffset);
    if (problem !== null) {
      throw new CorruptRecordError(`${problem} in ${this.records.file} at position ${position}`, { file: this.records.file, position, offset: baseOffset });
    }
    this.position = position;
    this.headerIndex = at;
    this.size = size;
    this.baseOffset = baseOffset;
    this.lastOffset = lastOffset;
    this.previousLastOffset = lastOffset;
    this.maxTimestamp = readMaxTimestamp(this.buf, at);
    this.nextPosition = position + size;
    return true;
  }

  /** Where the current batch's bytes are inside `chunkBuffer`, or -1 when the chunk does not hold all of them. */
  wholeBatchInChunk(): number {
    const at = this.position - this.chunkStart;
    return at >= 0 && at + this.size <= this.chunkLength ? at : -1;
  }

  /**
   * Makes every byte of the current batch available in `chunkBuffer` and returns where it starts
   * there: at once when the chunk already holds it, else by refilling the chunk from the batch's
   * position. -1 when the batch is larger than the chunk or the file ended inside it.
   */
  loadWholeBatch(): number {
    const at = this.wholeBatchInChunk();
    if (at >= 0) return at;
    if (this.size > this.chunk.length && this.records.mappedView(this.mapFile) === null) return -1;
    this.fill(this.position);
    return this.wholeBatchInChunk();
  }

  /**
   * Checks the current batch's framing, magic, CRC-32C and record offsets (`checkRecordOffsets`:
   * uncompressed batches only); throws `CorruptRecordError` naming the
   * file and position. Reads the batch into the chunk (or, when larger than the chunk, into a
   * second buffer kept for the next large batch), so checking allocates nothing per batch.
   */
  validateCurrent(): void {
    // One context object, refreshed per batch: an error copies what it needs from it.
    const context = this.context;
    context.file = this.records.file;
    context.position = this.position;
    const at = this.loadWholeBatch();
    if (at >= 0) {
      validateBatch(this.buf, at, context);
      checkRecordOffsets(this.buf, at, context);
      return;
    }
    if (this.large === null || this.large.length < this.size) this.large = Buffer.allocUnsafe(this.size);
    const n = this.records.readInto(this.large, 0, this.size, this.position);
    if (n < this.size) {
      throw new CorruptRecordError(`${this.records.file} ended inside the batch at position ${this.position}`, context);
    }
    const batch = this.large.subarray(0, this.size);
    validateBatch(batch, 0, context);
    checkRecordOffsets(batch, 0, context);
  }

  /** The reused read buffer; valid until the next `next()`. */
  get chunkBuffer(): Buffer {
    return this.buf;
  }

  /** Position just after the last batch `next()` accepted. */
  get validEnd(): number {
    return this.nextPosition;
  }

  private fill(position: number): void {
    const mapped = this.records.mappedView(this.mapFile);
    if (mapped !== null) {
      // The writer reads headers straight from its mapping: no read call, no copy.
      this.buf = mapped;
      this.chunkStart = 0;
      this.chunkLength = Math.min(this.end, this.records.size);
      return;
    }
    this.buf = this.chunk;
    const length = Math.min(this.chunk.length, this.end - position);
    this.chunkStart = position;
    this.chunkLength = 0;
    this.chunkLength = this.records.readInto(this.chunk, 0, length, position);
  }

  private headerAt(position: number, need: number): number {
    const at = position - this.chunkStart;
    if (this.chunkLength > 0 && at >= 0 && at + need <= this.chunkLength) return at;
    this.fill(position);
    if (this.chunkLength - (position - this.chunkStart) < need) {
      throw new CorruptRecordError(`${this.records.file} ended while reading a batch header at position ${position}`, {
        file: this.records.file,
        position,
      });
    }
    return position - this.chunkStart;
  }
}

keepLayout(() => new BatchCursor(FileRecords.inert(), Buffer.alloc(0))); // see src/layouts.ts
