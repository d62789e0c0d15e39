/**
 * The time index (`<baseOffset>.timeindex`): from a timestamp to the offset where records with
 * later timestamps can start.
 *
 * Layout: a sequence of 12-byte entries and nothing else, big-endian:
 *
 *   byte 0..7   int64 timestamp        milliseconds since the epoch
 *   byte 8..11  int32 relativeOffset   offset - baseOffset of the segment
 *
 * Invariant that gives an entry (T, O) its meaning: T is the largest record timestamp in the
 * segment up to and including offset O, so any record with a timestamp > T lies after O. Hence
 * timestamps strictly increase from entry to entry (an append with a timestamp not above the last
 * one is skipped) and offsets never decrease. The writer appends (maxTimestampSoFar, the last offset
 * of the batch that reached it) alongside offset-index entries, and once more when the segment is
 * rolled or closed, into a slot kept free for it, so a closed segment's last entry carries its
 * largest timestamp. Example, base offset 50: entry (1700000000123, 55) is the bytes
 * `00 00 01 8b cf e5 68 7b 00 00 00 05`.
 *
 * A lookup of T finds the entry with the largest timestamp <= T by binary search; a reader then
 * looks up that entry's offset in the offset index and scans the log forward.
 *
 * Lifecycle and trust are those of the offset index: preallocated, written in place while active,
 * trimmed to `entries * 12` bytes on roll and close; no checksum, rebuilt from the log after a crash.
 * Timestamps are read as JavaScript numbers (exact up to 2^53 ms).
 */

import { InvalidArgumentError } from '../errors.js';
import { AbstractIndex, type IndexOptions } from './abstract-index.js';
import { keepLayout } from '../layouts.js';
import { TIME_INDEX_ENTRY_SIZE, checkTimeIndex } from './index-check.js';

/** A timestamp and an offset. */
export interface TimestampOffset {
  timestamp: number;
  offset: number;
}

/** Kafka's `RecordBatch.NO_TIMESTAMP`. */
export const NO_TIMESTAMP = -1;

export interface TimeIndexSanityOptions {
  /** Check every entry (strictly increasing timestamps, non-decreasing offsets). */
  fullScan?: boolean | undefined;
}

export class TimeIndex extends AbstractIndex {
  static readonly ENTRY_SIZE = TIME_INDEX_ENTRY_SIZE;
  private last: Readonly<TimestampOffset>;

  /**
   * Open `file`, creating and preallocating it in write mode when it is missing. Reads the last
   * entry (one entry) and, with `detectZeroTail`, about 2·log2(slots) more.
   */
  constructor(file: string, baseOffset: number, options?: IndexOptions) {
    super(file, baseOffset, TimeIndex.ENTRY_SIZE, options);
    this.last = this.readLastEntry();
  }

  /** The last entry, or `{ timestamp: -1, offset: baseOffset }` when the index is empty. */
  get lastEntry(): Readonly<TimestampOffset> {
    return this.last;
  }

  /** Full one slot early: the last slot is kept for the entry written at roll or close. */
  override isFull(): boolean {
    return this.entries >= this.maxEntries - 1;
  }

  /**
   * The entry with the largest timestamp <= `targetTimestamp`, or `{ timestamp: -1, offset:
   * baseOffset }` when there is none.
   */
  lookup(targetTimestamp: number): TimestampOffset {
    const slot = this.largestLowerBoundSlot(targetTimestamp, false);
    if (slot < 0) return { timestamp: NO_TIMESTAMP, offset: this.baseOffset };
    const at = slot * 12;
    return { timestamp: this.storage.int64(at), offset: this.baseOffset + this.storage.int32(at + 8) };
  }

  /** `lookup(targetTimestamp).offset`, without allocating. */
  lookupOffset(targetTimestamp: number): number {
    const slot = this.largestLowerBoundSlot(targetTimestamp, false);
    return slot < 0 ? this.baseOffset : this.baseOffset + this.storage.int32(slot * 12 + 8);
  }

  /** Entry `n` (0-based). @throws InvalidArgumentError when n >= entries */
  entry(n: number): TimestampOffset {
    this.checkSlot(n);
    const at = n * 12;
    return { timestamp: this.storage.int64(at), offset: this.baseOffset + this.storage.int32(at + 8) };
  }

  /**
   * Append (timestamp, offset) if `timestamp` is above the last entry's timestamp; an entry with
   * the same timestamp (e.g. the roll entry repeating the last one) is silently skipped. An empty
   * index's last entry is (-1, baseOffset), so a timestamp of -1 is never indexed.
   * @param skipFullCheck use the slot kept for roll/close (only the segment's roll and close do)
   * @throws InvalidArgumentError when full (unless `skipFullCheck`, and then only when no slot at
   *   all is left), when `offset` is below the last entry's offset, when `timestamp` is below the
   *   last entry's timestamp, or when `timestamp` is not a safe integer
   * @throws OffsetOverflowError when `offset - baseOffset` is not in [0, 2^31 - 1]
   */
  maybeAppend(timestamp: number, offset: number, skipFullCheck = false): void {
    this.ensureWritable('append to');
    const file = this.file;
    if (skipFullCheck ? this.entries >= this.maxEntries : this.isFull()) {
      throw new InvalidArgumentError(`cannot append to full time index ${file} (${this.entries} entries)`, {
        file,
        offset,
      });
    }
    if (!Number.isSafeInteger(timestamp)) {
      throw new InvalidArgumentError(`timestamp ${timestamp} for time index ${file} is not a safe integer`, {
        file,
        offset,
      });
    }
    const last = this.last;
    if (this.entries > 0 && offset < last.offset) {
      throw new InvalidArgumentError(
        `cannot append offset ${offset} to time index ${file}: below the last offset ${last.offset}`,
        { file, offset },
      );
    }
    if (this.entries > 0 && timestamp < last.timestamp) {
      throw new InvalidArgumentError(
        `cannot append timestamp ${timestamp} to time index ${file}: below the last timestamp ${last.timestamp}`,
        { file, offset },
      );
    }
    if (!(timestamp > last.timestamp)) return;
    const relative = this.relativeOffset(offset);
    const at = this.entries * 12;
    // Value before key: a reader counting entries by their keys never sees a key without its value.
    this.storage.setInt32(at + 8, relative);
    this.storage.setInt64(at, timestamp);
    this.incrementEntries();
    this.last = Object.freeze({ timestamp, offset });
  }

  /** Remove every entry with offset >= `offset` (Kafka's three cases, searching by entry offset). */
  truncateTo(offset: number): void {
    this.ensureWritable('truncate');
    const slot = this.smallestUpperBoundSlot(offset - this.baseOffset, true);
    this.truncateToEntries(slot < 0 ? this.entries : slot);
  }

  /**
   * Look for obvious damage.
   * @throws CorruptIndexError when the file length is not a multiple of 12; when an entry's offset
   *   is below the base offset (first or last entry); when timestamps do not strictly increase
   *   (first vs last; every pair with `fullScan`, which also checks offsets never decrease)
   */
  sanityCheck(options: TimeIndexSanityOptions = {}): void {
    const bounds = { baseOffset: this.baseOffset };
    checkTimeIndex(this.file, this.fileLength, bounds, { count: this.entries, entry: (n) => this.entry(n) }, options.fullScan === true);
  }

  protected keyAt(n: number): number {
    return this.storage.int64(n * 12);
  }

  protected valueAt(n: number): number {
    return this.storage.int32(n * 12 + 8);
  }

  protected onEntriesChanged(): void {
    this.last = this.readLastEntry();
  }

  private readLastEntry(): Readonly<TimestampOffset> {
    const n = this.entries;
    return Object.freeze(n === 0 ? { timestamp: NO_TIMESTAMP, offset: this.baseOffset } : this.entry(n - 1));
  }

  override toString(): string {
    return `TimeIndex(${this.file}, baseOffset=${this.baseOffset}, entries=${this.entries})`;
  }
}

// An index of no file, its entries handed in (src/layouts.ts).
keepLayout(() => new TimeIndex('', 0, { mode: 'read', contents: Buffer.alloc(0) }));
