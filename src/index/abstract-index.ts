/**
 * What every index file does regardless of its entry format: open or create and preallocate the
 * file, count its entries, resize and trim it, rename and delete it, convert offsets to relative
 * offsets, and binary-search its entries. `OffsetIndex` and `TimeIndex` add only their entry
 * layout, their append and truncate rules, and their sanity checks.
 *
 * An index is a file of fixed-size entries, sorted by key, with no header and no checksum. A writer
 * preallocates the file (sparse zeros) to its maximum size, appends entries in place and trims the
 * file to exactly `entries * entrySize` bytes when the segment is rolled or closed. Everything here
 * is synchronous and single-threaded.
 *
 * Backings: mode `'write'` maps the file (`mmap-storage.ts`; one such instance per file: a second
 * mapping in the same process would take SIGBUS once the first one trims the file), or, without
 * seglog's addon, writes it with `pwrite` (`positional-storage.ts`); mode `'read'` holds the
 * entries in memory (`memory-storage.ts`) and is safe next to a live writer in another process.
 *
 * Entry count of an existing file: `floor(length / entrySize)`, as Kafka assumes (a cleanly closed
 * index is trimmed, so every slot is an entry). With `detectZeroTail`, the count stops instead at the
 * first zero-filled slot of an untrimmed file: see `countEntries`.
 */

import fs from 'node:fs';

import { InvalidArgumentError, LogClosedError, LogIOError, OffsetOverflowError, ReadOnlyLogError } from '../errors.js';
import { nativeAddon, nativeDisabled, nativeUnavailableReason, noticeOnce } from '../files/native.js';
import { INT32_MAX } from '../record/batch-layout.js';
import { MemoryStorage } from './memory-storage.js';
import { MmapStorage } from './mmap-storage.js';
import { PwriteStorage } from './positional-storage.js';
import { ClosedStorage, type IndexStorage } from './storage.js';

/** Kafka's `segment.index.bytes` default: 10 MiB. */
/** Up to this many bytes of entries, `reset()` zeroes them in place instead of re-creating the file. */
const RESET_BY_ZEROING_BYTES = 4 * 1024 * 1024;

export const DEFAULT_MAX_INDEX_SIZE = 10 * 1024 * 1024;


/** The largest relative offset an entry can store (int32). */
export const MAX_RELATIVE_OFFSET = INT32_MAX;

/**
 * `'write'`: the single writer; the file is created when missing and mapped read-write.
 * `'read'`: a reader next to a live writer (possibly in another process); no mapping, no writes.
 */
export type IndexMode = 'write' | 'read';

export interface IndexOptions {
  /**
   * Largest size of the file in bytes (`segment.index.bytes`); a new file is preallocated to it,
   * rounded down to a whole number of entries, and `reset()` returns to it (so it matters in write
   * mode only). An integer in [entrySize, 2^31 - 1]; default 10 MiB.
   */
  maxIndexSize?: number | undefined;
  /** Default `'write'`. */
  mode?: IndexMode | undefined;
  /**
   * Count entries only up to the zero-filled tail of an untrimmed (preallocated) file, instead of
   * trusting the file length. For the active segment after a crash, and for a reader of a file a
   * live writer still appends to. Costs about 2·log2(slots) entry reads at open (and at `refresh`).
   */
  detectZeroTail?: boolean | undefined;
  /**
   * Read mode only: these entries (the file's format, a whole number of entries) instead of the
   * file's, for a read-only opener that built them from the `.log`. The file is never read.
   */
  contents?: Buffer | undefined;
  /**
   * Write mode only: the file is new and open at this descriptor, already `maxIndexSize` long (a
   * prepared file just named `file`, see files/prepared-files.ts); it is mapped, not opened.
   */
  fd?: number | undefined;
}

function roundDown(value: number, factor: number): number {
  return value - (value % factor);
}

/** The length a writable index of `entrySize`-byte entries is created at for `maxIndexSize`: whole entries only. */
export function preallocatedIndexLength(maxIndexSize: number, entrySize: number): number {
  return roundDown(maxIndexSize, entrySize);
}

export abstract class AbstractIndex {
  /** The segment's base offset: stored offsets are relative to it. */
  readonly baseOffset: number;
  /** Bytes per entry: 8 for the offset index, 12 for the time index. */
  readonly entrySize: number;
  readonly maxIndexSize: number;
  readonly mode: IndexMode;
  protected storage: IndexStorage;
  private path: string;
  private entryCount = 0;
  private slotCount = 0;
  private readonly detectZeroTail: boolean;
  /** Entries in the last 8 KiB of the index, searched first (see `firstSlotAfter`). */
  private readonly warmEntries: number;

  protected constructor(file: string, baseOffset: number, entrySize: number, options: IndexOptions = {}) {
    const mode = options.mode ?? 'write';
    const maxIndexSize = options.maxIndexSize ?? DEFAULT_MAX_INDEX_SIZE;
    if (mode !== 'write' && mode !== 'read') {
      throw new InvalidArgumentError(`index mode must be 'write' or 'read', got ${String(mode)}`, { file });
    }
    if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) {
      throw new InvalidArgumentError(`base offset ${baseOffset} of index ${file} is not a non-negative integer`, {
        file,
      });
    }
    if (!Number.isSafeInteger(maxIndexSize) || maxIndexSize < entrySize || maxIndexSize > INT32_MAX) {
      throw new InvalidArgumentError(
        `invalid max index size ${maxIndexSize} for ${file}: must be an integer in [${entrySize}, 2^31 - 1]`,
        { file },
      );
    }
    this.path = file;
    this.baseOffset = baseOffset;
    this.entrySize = entrySize;
    this.maxIndexSize = maxIndexSize;
    this.mode = mode;
    this.detectZeroTail = options.detectZeroTail ?? false;
    this.warmEntries = Math.floor(8192 / entrySize);
    if (mode === 'write') {
      const { storage, created } = openWritable(file, preallocatedIndexLength(maxIndexSize, entrySize), options.fd);
      this.storage = storage;
      this.fileCreated = created;
      this.countEntries(created);
    } else {
      const contents = options.contents;
      this.storage = contents === undefined ? MemoryStorage.load(file, entrySize, this.detectZeroTail) : MemoryStorage.fromBytes(file, entrySize, contents);
      this.countEntries(false);
    }
  }

  /** The file's current path (follows `renameTo`). */
  get file(): string {
    return this.path;
  }

  /** Write mode: true when opening created the file (it did not exist). */
  readonly fileCreated: boolean = false;

  /** Number of entries. */
  get entries(): number {
    return this.entryCount;
  }

  /** Number of slots the file has room for: `floor(fileLength / entrySize)`. */
  get maxEntries(): number {
    return this.slotCount;
  }

  /** Bytes taken by the entries: `entries * entrySize`. */
  get sizeInBytes(): number {
    return this.entryCount * this.entrySize;
  }

  /** The file's length in bytes as this handle sees it (for `'read'`: as of open or `refresh`). */
  get fileLength(): number {
    return this.storage.length;
  }

  /** Read mode: false when the file did not exist at open (or at the last `refresh`). */
  get fileFound(): boolean {
    return !(this.storage instanceof MemoryStorage) || this.storage.exists;
  }

  /** False after `close`, `closeWithoutTrim` or `deleteIfExists`. */
  get isOpen(): boolean {
    return this.storage.kind !== 'closed';
  }

  /** True when no slot is left for another entry. */
  isFull(): boolean {
    return this.entryCount >= this.slotCount;
  }

  /**
   * `offset - baseOffset`, the form stored in entries.
   * @throws OffsetOverflowError when it is not an integer in [0, 2^31 - 1]
   */
  relativeOffset(offset: number): number {
    const relative = offset - this.baseOffset;
    if (relative >= 0 && relative <= MAX_RELATIVE_OFFSET && Number.isInteger(relative)) return relative;
    throw new OffsetOverflowError(
      `offset ${offset} cannot be stored relative to base offset ${this.baseOffset} in ${this.path}`,
      { file: this.path, offset },
    );
  }

  /** Whether `offset` can be stored relative to this index's base offset. */
  canAppendOffset(offset: number): boolean {
    const relative = offset - this.baseOffset;
    return relative >= 0 && relative <= MAX_RELATIVE_OFFSET && Number.isInteger(relative);
  }

  /**
   * Set the file's length to `newSize` rounded down to a whole number of entries, and re-map it.
   * Returns false when the length was already that. The entries are kept; cutting into them is
   * refused (truncate first). Used to trim (roll, close) and to grow back to `maxIndexSize` (an
   * active segment reopened, or truncated back to).
   */
  resize(newSize: number): boolean {
    this.ensureWritable('resize');
    if (!Number.isSafeInteger(newSize) || newSize < 0 || newSize > INT32_MAX) {
      throw new InvalidArgumentError(`invalid index size ${newSize} for ${this.path}`, { file: this.path });
    }
    const rounded = roundDown(newSize, this.entrySize);
    if (rounded === this.storage.length) return false;
    if (rounded < this.sizeInBytes) {
      throw new InvalidArgumentError(
        `cannot resize ${this.path} to ${rounded} bytes: it holds ${this.entryCount} entries (${this.sizeInBytes} bytes)`,
        { file: this.path },
      );
    }
    this.storage.resize(rounded);
    this.slotCount = rounded / this.entrySize;
    this.onEntriesChanged();
    return true;
  }

  /** Cut the file to exactly its entries (`entries * entrySize` bytes). */
  trimToValidSize(): void {
    this.resize(this.sizeInBytes);
  }

  /** Drop every entry and give the file back its full preallocated size, all zeros. */
  reset(): void {
    this.ensureWritable('reset');
    const full = roundDown(this.maxIndexSize, this.entrySize);
    const used = this.entryCount * this.entrySize;
    if (this.storage.length <= full && used <= RESET_BY_ZEROING_BYTES) {
      // Zero the entries in place (and only grow the file): cutting it to nothing and growing it
      // again frees and re-allocates its blocks, which costs milliseconds per index on this disk.
      this.storage.zero(0, used);
      this.entryCount = 0;
      this.onEntriesChanged();
      if (this.storage.length < full) this.resize(full);
      return;
    }
    this.entryCount = 0;
    // Shrinking to nothing and growing again zeroes the file without writing it.
    if (this.storage.length !== 0) this.storage.resize(0);
    this.slotCount = 0;
    this.resize(this.maxIndexSize);
  }

  /**
   * Keep the first `n` entries (0 <= n <= entries). The dropped slots are zeroed, so the file stays
   * "valid entries, then zeros" and `detectZeroTail` cannot mistake a stale entry for a live one.
   */
  truncateToEntries(n: number): void {
    this.ensureWritable('truncate');
    if (!Number.isInteger(n) || n < 0 || n > this.entryCount) {
      throw new InvalidArgumentError(`cannot truncate ${this.path} to ${n} entries: it has ${this.entryCount}`, {
        file: this.path,
      });
    }
    if (n === this.entryCount) return;
    this.storage.zero(n * this.entrySize, this.entryCount * this.entrySize);
    this.entryCount = n;
    this.onEntriesChanged();
  }

  /** Write the mapped pages to the device (msync). No-op in read mode. */
  flush(): void {
    // Only the pages holding entries can be dirty; syncing the whole preallocated mapping is slow.
    if (this.mode === 'write') this.storage.flush(this.entryCount * this.entrySize);
  }

  /**
   * Read mode: take in what the writer has done since open: the entries it appended (only the new
   * tail is read), or all of them again when the path now names another file or the entries held
   * were cut. Returns whether the entries changed. Write mode: no-op.
   */
  refresh(): boolean {
    if (this.mode !== 'read' || !(this.storage instanceof MemoryStorage)) return false;
    if (!this.storage.refresh()) return false;
    this.countEntries(false);
    this.onEntriesChanged();
    return true;
  }

  /** Trim the file to its entries (write mode), then drop the mapping and close it. Idempotent. */
  close(): void {
    if (!this.isOpen) return;
    try {
      if (this.mode === 'write') this.trimToValidSize();
    } finally {
      this.closeWithoutTrim();
    }
  }

  /** Drop the mapping and close the file, leaving its length as it is. Idempotent. */
  closeWithoutTrim(): void {
    if (!this.isOpen) return;
    const storage = this.storage;
    this.storage = new ClosedStorage(this.path);
    storage.release();
  }

  /** Close without trimming, then delete the file. Returns whether a file was deleted. Write mode only. */
  deleteIfExists(): boolean {
    this.ensureWriteMode('delete');
    this.closeWithoutTrim();
    try {
      fs.unlinkSync(this.path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new LogIOError(`cannot delete index file ${this.path}`, { file: this.path, cause: err });
    }
  }

  /**
   * Rename the file (e.g. to `<name>.deleted`). An open index keeps working: the descriptor and the
   * mapping follow the file. A file that does not exist is not an error: only the name changes.
   * Write mode only.
   */
  renameTo(newPath: string): void {
    this.ensureWriteMode('rename');
    try {
      fs.renameSync(this.path, newPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || fs.existsSync(this.path)) {
        throw new LogIOError(`cannot rename index file ${this.path} to ${newPath}`, { file: this.path, cause: err });
      }
    }
    this.path = newPath;
    this.storage.file = newPath;
  }

  // ---------------------------------------------------------------------------------------------
  // For subclasses.

  /** The stored search key of slot `n`: relative offset (offset index) or timestamp (time index). */
  protected abstract keyAt(n: number): number;

  /** The stored value of slot `n`: position (offset index) or relative offset (time index). */
  protected abstract valueAt(n: number): number;

  /** Called after the entry count or the file changed other than by an append: reload caches. */
  protected abstract onEntriesChanged(): void;

  /** Count one more entry, written by the subclass at slot `entries`. */
  protected incrementEntries(): void {
    this.entryCount++;
  }

  /** @throws LogClosedError when closed, ReadOnlyLogError in read mode */
  protected ensureWritable(operation: string): void {
    if (!this.isOpen) {
      throw new LogClosedError(`cannot ${operation} index ${this.path}: it is closed`, { file: this.path });
    }
    this.ensureWriteMode(operation);
  }

  /** @throws ReadOnlyLogError in read mode */
  private ensureWriteMode(operation: string): void {
    if (this.mode !== 'write') {
      throw new ReadOnlyLogError(`cannot ${operation} index ${this.path}: it is open for reading only`, {
        file: this.path,
      });
    }
  }

  protected checkSlot(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n >= this.entryCount) {
      throw new InvalidArgumentError(`no entry ${n} in index ${this.path}: it has ${this.entryCount} entries`, {
        file: this.path,
      });
    }
  }

  /** Slot of the largest entry whose key (or value) is <= `target`, or -1 when there is none. */
  protected largestLowerBoundSlot(target: number, byValue: boolean): number {
    return this.firstSlotAfter(target, byValue, false) - 1;
  }

  /** Slot of the smallest (first) entry whose key (or value) is >= `target`, or -1 when there is none. */
  protected smallestUpperBoundSlot(target: number, byValue: boolean): number {
    const slot = this.firstSlotAfter(target, byValue, true);
    return slot < this.entryCount ? slot : -1;
  }

  /*
   * Warm section. Entries are appended at the end and nearly every lookup (a consumer keeping up
   * with the writer) targets the last few entries. A plain binary search over the whole file would
   * start in the middle and touch a different set of pages each time the index grows by a page, and
   * a page not touched for a long time may have left the page cache: a lookup would then block on a
   * disk read. So the search first checks the entry 8 KiB from the end: when the target lies after
   * it, only the last 8 KiB (1024 offset entries, 682 time entries) are searched. Those two or
   * three pages are touched by every such lookup and stay cached. The result is the same either way.
   */

  /**
   * First slot whose key (or value) is > `target` (or >= `target` when `orEqual`), or `entries` when
   * there is none. Keys must be non-decreasing; with equal keys, `orEqual` finds the leftmost one.
   */
  private firstSlotAfter(target: number, byValue: boolean, orEqual: boolean): number {
    const n = this.entryCount;
    if (n === 0) return 0;
    const firstWarm = n - 1 > this.warmEntries ? n - 1 - this.warmEntries : 0;
    const warmKey = byValue ? this.valueAt(firstWarm) : this.keyAt(firstWarm);
    if (orEqual ? warmKey < target : warmKey <= target) {
      return this.binarySearch(target, byValue, orEqual, firstWarm + 1, n);
    }
    if (firstWarm === 0) return 0;
    const firstKey = byValue ? this.valueAt(0) : this.keyAt(0);
    if (orEqual ? firstKey >= target : firstKey > target) return 0;
    return this.binarySearch(target, byValue, orEqual, 1, firstWarm);
  }

  /** First slot in [lo, hi) whose key passes the test, or `hi`. */
  private binarySearch(target: number, byValue: boolean, orEqual: boolean, lo: number, hi: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const key = byValue ? this.valueAt(mid) : this.keyAt(mid);
      if (orEqual ? key >= target : key > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Entry count of the file as opened: every whole slot, or with `detectZeroTail` the slots before
   * the zero-filled tail. Valid keys strictly increase and a zero slot's key is 0, so slot `i > 0`
   * is an entry exactly when `key(i) > key(i - 1)`: a binary search finds the first slot that is
   * not. A file whose only "entry" is all zeros counts as empty: for the offset index it would say
   * (baseOffset, position 0), the same as no entry at all.
   */
  private countEntries(newlyCreated: boolean): void {
    const slots = Math.floor(this.storage.length / this.entrySize);
    this.slotCount = slots;
    this.entryCount = newlyCreated ? 0 : slots;
    if (newlyCreated || !this.detectZeroTail || slots === 0) return;
    let lo = 1;
    let hi = slots;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const previous = this.keyAt(mid - 1);
      if (this.keyAt(mid) <= previous) hi = mid;
      else lo = mid + 1;
    }
    this.entryCount = lo === 1 && this.keyAt(0) === 0 && this.valueAt(0) === 0 ? 0 : lo;
  }
}

/**
 * The writer's backing: a mapping through seglog's addon, else positional writes, said once per
 * process (slower lookups and appends, same files) unless SEGLOG_NO_NATIVE asked for it.
 */
function openWritable(file: string, createLength: number, fd: number | undefined): { storage: IndexStorage; created: boolean } {
  const addon = nativeAddon();
  // Prepared files exist only where the addon runs (it makes them).
  if (addon !== null && fd !== undefined) return { storage: MmapStorage.adopt(file, fd, addon), created: true };
  if (addon !== null) return MmapStorage.open(file, createLength, addon);
  if (!nativeDisabled()) noticeOnce('no-mmap', `indexes use positional reads and writes, not memory mapping: ${nativeUnavailableReason()}`);
  return PwriteStorage.open(file, createLength);
}
