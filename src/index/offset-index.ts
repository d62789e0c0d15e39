/**
 * The offset index (`<baseOffset>.index`): where in the segment's `.log` to start reading for a
 * given offset.
 *
 * Layout: a sequence of 8-byte entries and nothing else (no header, no footer), big-endian:
 *
 *   byte 0..3  int32 relativeOffset   offset - baseOffset of the segment
 *   byte 4..7  int32 position         byte position in the `.log` of the start of a batch
 *
 * An entry (O, P) says: the batch that starts at byte P of the `.log` has last offset O. Storing
 * offsets relative to the segment's base offset keeps them to 4 bytes: with base offset 50, offset
 * 55 is stored as 5 (`00 00 00 05`), and an entry (55, 4096) is the bytes
 * `00 00 00 05 00 00 10 00`. Callers only ever see absolute offsets; the class converts.
 *
 * The index is sparse: the writer adds an entry about every `index.interval.bytes` of log, so a
 * lookup finds the greatest indexed offset <= the target and the reader scans forward in the log
 * from that position. Entries are sorted by offset, strictly increasing (and so are positions).
 * The lookup is a binary search over the file.
 *
 * Lifecycle: a new file is preallocated to `segment.index.bytes` (sparse zeros) and entries are
 * written in place while the segment is active; when the segment is rolled or closed, the file is
 * trimmed to exactly `entries * 8` bytes. So a cleanly closed index has length `entries * 8`, and an
 * index left untrimmed by a crash ends in zeros (see `detectZeroTail`).
 *
 * Trust: there is no checksum. After a crash the index of every segment above the recovery point
 * is rebuilt from the log; `sanityCheck` only catches obvious damage.
 */

import { InvalidArgumentError } from '../errors.js';
import { AbstractIndex, type IndexOptions } from './abstract-index.js';
import { keepLayout } from '../layouts.js';
import { OFFSET_INDEX_ENTRY_SIZE, checkOffsetIndex } from './index-check.js';
import { checkUint31 } from './storage.js';

/** An offset and the byte position in the `.log` of the batch it belongs to. */
export interface OffsetPosition {
  offset: number;
  position: number;
}

export interface OffsetIndexSanityOptions {
  /** Check every entry (strictly increasing offsets and positions) instead of the first and last. */
  fullScan?: boolean | undefined;
  /** The `.log` file's size: every position must be smaller. */
  logSize?: number | undefined;
}

export class OffsetIndex extends AbstractIndex {
  static readonly ENTRY_SIZE = OFFSET_INDEX_ENTRY_SIZE;
  private last: number;

  /**
   * Open `file`, creating and preallocating it in write mode when it is missing. Cost: open, fstat
   * and mmap (write) or open and fstat (read); no entry is read unless `detectZeroTail` is set.
   */
  constructor(file: string, baseOffset: number, options?: IndexOptions) {
    super(file, baseOffset, OffsetIndex.ENTRY_SIZE, options);
    this.last = this.readLastOffset();
  }

  /** The offset of the last entry, or the base offset when the index is empty. */
  get lastOffset(): number {
    return this.last;
  }

  /**
   * The entry with the largest offset <= `targetOffset`, or `{ offset: baseOffset, position: 0 }`
   * when there is none (empty index, or the target is before the first entry).
   */
  lookup(targetOffset: number): OffsetPosition {
    const slot = this.largestLowerBoundSlot(targetOffset - this.baseOffset, false);
    if (slot < 0) return { offset: this.baseOffset, position: 0 };
    const at = slot * 8;
    return { offset: this.baseOffset + this.storage.int32(at), position: this.storage.int32(at + 4) };
  }

  /** `lookup(targetOffset).position`, without allocating. */
  lookupPosition(targetOffset: number): number {
    const slot = this.largestLowerBoundSlot(targetOffset - this.baseOffset, false);
    return slot < 0 ? 0 : this.storage.int32(slot * 8 + 4);
  }

  /** Entry `n` (0-based). @throws InvalidArgumentError when n >= entries */
  entry(n: number): OffsetPosition {
    this.checkSlot(n);
    const at = n * 8;
    return { offset: this.baseOffset + this.storage.int32(at), position: this.storage.int32(at + 4) };
  }

  /**
   * The first entry whose position is >= `position + fetchSize`: an offset certainly past a fetch
   * of `fetchSize` bytes starting at `position` (not the smallest such offset). Null when none.
   */
  fetchUpperBoundOffset(position: number, fetchSize: number): OffsetPosition | null {
    const slot = this.smallestUpperBoundSlot(position + fetchSize, true);
    return slot < 0 ? null : this.entry(slot);
  }

  /**
   * Append the entry (offset, position): the batch starting at `position` has last offset `offset`.
   * @throws InvalidArgumentError when the index is full, when `offset <= lastOffset` (non-empty
   *   index) or when `position` is not an integer in [0, 2^31 - 1]
   * @throws OffsetOverflowError when `offset - baseOffset` is not in [0, 2^31 - 1]
   */
  append(offset: number, position: number): void {
    this.ensureWritable('append to');
    if (this.isFull()) {
      throw new InvalidArgumentError(`cannot append to full index ${this.file} (${this.entries} entries)`, {
        file: this.file,
        offset,
      });
    }
    if (this.entries > 0 && !(offset > this.last)) {
      throw new InvalidArgumentError(
        `cannot append offset ${offset} to index ${this.file}: not larger than the last offset ${this.last}`,
        { file: this.file, offset },
      );
    }
    const relative = this.relativeOffset(offset);
    checkUint31(position, 'position', this.file);
    const at = this.entries * 8;
    // Value before key: a reader counting entries by their keys never sees a key without its value.
    this.storage.setInt32(at + 4, position);
    this.storage.setInt32(at, relative);
    this.incrementEntries();
    this.last = offset;
  }

  /**
   * Remove every entry with offset >= `offset`. Kafka's three cases: no entry <= offset, remove all;
   * an entry for exactly `offset`, remove it and all after it; otherwise remove all after the
   * largest entry < offset. An offset past the last entry changes nothing.
   */
  truncateTo(offset: number): void {
    this.ensureWritable('truncate');
    const slot = this.smallestUpperBoundSlot(offset - this.baseOffset, false);
    this.truncateToEntries(slot < 0 ? this.entries : slot);
  }

  /**
   * Look for obvious damage.
   * @throws CorruptIndexError when the file length is not a multiple of 8; when an entry's offset
   *   is below the base offset (first or last entry); when offsets do not strictly increase (first
   *   vs last, or every pair with `fullScan`, which also checks positions); when a position is
   *   negative or not below `logSize` (last entry, or every entry with `fullScan`).
   */
  sanityCheck(options: OffsetIndexSanityOptions = {}): void {
    const bounds = { baseOffset: this.baseOffset, logSize: options.logSize };
    checkOffsetIndex(this.file, this.fileLength, bounds, { count: this.entries, entry: (n) => this.entry(n) }, options.fullScan === true);
  }

  protected keyAt(n: number): number {
    return this.storage.int32(n * 8);
  }

  protected valueAt(n: number): number {
    return this.storage.int32(n * 8 + 4);
  }

  protected onEntriesChanged(): void {
    this.last = this.readLastOffset();
  }

  private readLastOffset(): number {
    const n = this.entries;
    return n === 0 ? this.baseOffset : this.baseOffset + this.storage.int32((n - 1) * 8);
  }

  override toString(): string {
    return `OffsetIndex(${this.file}, baseOffset=${this.baseOffset}, entries=${this.entries})`;
  }
}

// An index of no file, its entries handed in (src/layouts.ts).
keepLayout(() => new OffsetIndex('', 0, { mode: 'read', contents: Buffer.alloc(0) }));
