import { CorruptRecordError } from '../errors.js';
import { BatchCursor } from './batch-cursor.js';
import type { FileRecords } from './file-records.js';

/** Chunk of the cursor that walks batch headers to extend the chain. */
const CHAIN_CHUNK_BYTES = 64 * 1024;

/**
 * How much of a segment's `.log` is known to be its data: the batches in `[0, end)` were seen,
 * one after the other from the first, to keep the offset rules of `batch-rules.ts` (each above
 * the one before, the first at or above the segment's base offset); `lastOffset` is the last
 * offset of the last of them.
 *
 * Why a read needs it: a read finds its first batch through the offset index and so skips the
 * batches before it. One of those may claim the same offsets as a later one (a base offset
 * rewritten forward, its CRC fixed): the segment then holds two versions of those offsets, and
 * which one a read returned would depend on the index entry it came through. A segment's data is
 * its batches up to the first that breaks a rule (what a recovering writer keeps), so a read that
 * starts past that point must fail, whatever entry it came through.
 *
 * Checking costs a walk of batch headers from where the chain ends, once per segment and process.
 * Appends and reads that decode batch after batch extend the chain as they go (`extend`), so a
 * sequential reader or a writer that recovered the segment walks nothing.
 */
export class BatchChain {
  private chainEnd = 0;
  private chainLastOffset: number;

  constructor(
    private readonly log: FileRecords,
    private readonly baseOffset: number,
    /** False for a read-only opener, whose chain can go stale when the writer rewrites the file. */
    private readonly writable: boolean,
  ) {
    this.chainLastOffset = baseOffset - 1;
  }

  /** End of the chain in the `.log` (0: nothing walked yet). */
  get end(): number {
    return this.chainEnd;
  }

  /** Last offset of the chain's last batch (the segment's base offset - 1 when it has none). */
  get lastOffset(): number {
    return this.chainLastOffset;
  }

  /**
   * Makes sure the batch at `[position, end)` is on the chain, walking batch headers from where
   * the chain ends when it is past that. Throws `CorruptRecordError` naming the first batch that
   * breaks a rule, or when no batch of the chain starts at `position`.
   *
   * `baseOffset` and `lastOffset`: the batch's, when a cursor has read its header already (its
   * size, magic and own offset fields checked, `BatchCursor.next`). A batch that starts where the
   * chain ends then needs only the check against the chain's last offset, which a walk would make
   * after reading the same header again: a scan's every run starts there.
   */
  checkThrough(position: number, end: number, baseOffset = -1, lastOffset = -1): void {
    if (end <= this.chainEnd) return;
    if (position === this.chainEnd && baseOffset > this.chainLastOffset && lastOffset >= baseOffset) {
      this.extend(position, end, lastOffset);
      return;
    }
    const resumed = this.chainEnd > 0;
    try {
      this.walk(position, end);
    } catch (err) {
      // A reader's chain may be stale (the writer cut the file and wrote it again since): walk it all once more.
      if (this.writable || !resumed || !(err instanceof CorruptRecordError)) throw err;
      this.reset();
      this.walk(position, end);
    }
  }

  /**
   * Extends the chain by the batch at `[position, end)` ending at `lastOffset`, when the chain
   * ends where it starts: for callers that checked it comes after the batch before (an append, a
   * read decoding batch after batch).
   */
  extend(position: number, end: number, lastOffset: number): void {
    if (position !== this.chainEnd) return;
    this.chainEnd = end;
    this.chainLastOffset = lastOffset;
  }

  /** The chain is `[0, end)`, its last batch ending at `lastOffset` (recovery checked that far); none by default. */
  reset(end = 0, lastOffset = this.baseOffset - 1): void {
    this.chainEnd = end;
    this.chainLastOffset = lastOffset;
  }

  /** The `.log` was cut at `size` (or a reader saw it shrink): a chain past that is no longer known. */
  cutAt(size: number): void {
    if (size < this.chainEnd) this.reset();
  }

  private walk(position: number, end: number): void {
    const cursor = new BatchCursor(this.log, Buffer.allocUnsafe(CHAIN_CHUNK_BYTES));
    cursor.seek(this.chainEnd, this.log.size, this.chainLastOffset);
    while (this.chainEnd < end && cursor.next()) {
      if (cursor.position > position) break;
      this.chainEnd = cursor.position + cursor.size;
      this.chainLastOffset = cursor.lastOffset;
    }
    if (this.chainEnd !== end) {
      const file = this.log.file;
      throw new CorruptRecordError(`no batch starts at position ${position} of ${file} when its batches are walked from the first`, { file, position });
    }
  }
}
