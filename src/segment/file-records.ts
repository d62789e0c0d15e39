import fs from 'node:fs';
import { O_NOFOLLOW, openForWriting } from '../files/no-follow.js';
import { LogIOError } from '../errors.js';
import { nativeAddon } from '../files/native.js';
import { reserveSpace } from '../files/preallocate.js';
import { VerifiedBatches } from './verified-batches.js';
import { noteWrite } from '../files/write-epoch.js';
import { keepLayout } from '../layouts.js';
import { closeDescriptor } from '../files/descriptors.js';

/** Mappings start at this size and double, so a growing active segment is remapped rarely. */
const MIN_MAPPING_BYTES = 1 << 20;
const MAX_MAPPING_BYTES = 2 ** 31 - 1;
/**
 * How far past the end of the data a writer reserves disk blocks (see `reserveAhead`): large
 * enough that the fallocate call is rare next to the writes it speeds up.
 */
export const RESERVE_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Bytes of disk blocks to reserve for the `.log` of a segment whose files are made ahead of its
 * roll (files/prepared-files.ts), on the thread that makes them: all the segment is expected to
 * hold, stopped twice the active segment's largest append short of `reserveLimit` (so that the
 * segment ends at or past the reservation, as `reserveAhead` keeps it), in whole pages; at least
 * one chunk. 0 where nothing is reserved. The appends into it then reserve nothing more (see
 * `adopt`): an ext4 fallocate waits for block bitmaps to be read, and for discards on a file
 * system mounted with `discard`, behind whatever the disk is writing (a rolled segment's
 * background flush), and in the appending call that wait was the call's (1-21 ms).
 */
export function preparedReserveBytes(reserveLimit: number, largestAppend: number): number {
  if (reserveLimit < 2 * RESERVE_CHUNK_BYTES) return 0;
  const bytes = reserveLimit - 2 * Math.max(largestAppend, 4096);
  return Math.max(RESERVE_CHUNK_BYTES, bytes - (bytes % 4096));
}

/**
 * Blocks allocated this far past a file's data (ext4's extent blocks stay well below it) are a
 * reservation (`fallocate(KEEP_SIZE)`), not data.
 */
const RESERVED_PAST_DATA_BYTES = 64 * 1024;

/**
 * Where the disk blocks of a file just opened for writing end, when they reach past its data by
 * a reservation (else 0): one a crash left (up to a whole made-ahead segment's), which
 * `releaseReserved` then gives back at the next roll or close like one made in this process.
 */
function reservedEnd(stat: fs.Stats): number {
  const allocated = stat.blocks * 512;
  return allocated - stat.size >= RESERVED_PAST_DATA_BYTES ? allocated : 0;
}

/**
 * fdatasync of the file at `path` on the thread pool, through a descriptor of its own (Linux
 * writes back every dirty page of the file, whichever descriptor or mapping dirtied it). A file
 * that no longer exists (deleted or renamed meanwhile) needs no sync. Throws `LogIOError`.
 */
export async function syncFileAsync(path: string): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, 'r');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new LogIOError(`cannot open ${path} to sync it: ${(cause as Error).message}`, { file: path, cause });
  }
  try {
    await handle.datasync();
  } catch (cause) {
    throw new LogIOError(`fdatasync of ${path} failed: ${(cause as Error).message}`, { file: path, cause });
  } finally {
    await handle.close();
  }
}

/**
 * One `.log` file: concatenated record batches, appended at the end with positional writes and
 * read with positional reads. Kafka's FileRecords.
 *
 * `size` is the logical size: the bytes known to hold batches. For the writer it is kept in
 * memory (never re-read from the file system on the hot path); a read-only opener takes it from
 * the file and refreshes it with `refreshSize()`, which is how it sees a live writer's appends.
 */
/**
 * True when a read-only opener can copy from mappings without risk (the addon's `copyTwo`, Linux),
 * so its record tables carry the checksums that such copies are checked against.
 */
export function guardedCopies(): boolean {
  return nativeAddon()?.copyTwo !== undefined;
}

/** `fd` of a file closed by the pool of open files (`suspend`): reopened on its next use. */
const SUSPENDED = -2;

export class FileRecords {
  /** Open descriptor, -1 once closed, or SUSPENDED. */
  private fd: number;
  /** Identity of the file, so that a reopen by name can tell it is still the same file. */
  private ino = -1;
  private dev = -1;
  /** Modification time at the last `refresh` (read-only openers). */
  private seenMtimeMs = -1;
  /** Called when a suspended file is opened again (the pool counts it as open). */
  onReopen: (() => void) | null = null;
  private _size: number;
  /** True when a failed append could not be cut off: the file may hold bytes past `size`. */
  private tailDirty = false;
  /** The writer's read-only mapping of the file (see `mappedView`). */
  private mapping: Buffer | null = null;
  /**
   * A read-only opener's mapping of the file (see `copyTwo`): never handed to JS code, which would
   * crash on a page the writer cut; only the addon's guarded copy reads it.
   */
  private guardedMapping: ArrayBuffer | null = null;
  /** fdatasync calls on the thread pool not yet ended (see `closeWhenSynced`). */
  private syncsInFlight = 0;
  /** Descriptors given up (closed, suspended) while syncs used them: closed when the last one ends. */
  private readonly closeAfterSyncs: number[] = [];
  /**
   * Batches this process has seen and checked, by position. Cleared whenever the file may have
   * been rewritten: a truncation here, a shrink or a rewrite a reader notices (`refresh`,
   * `forgetBatches`), and when the pool closes the file.
   */
  readonly batches: VerifiedBatches;
  /** Disk blocks are reserved up to this position (it may be past `size`; see `reserveAhead`). */
  private reservedTo = 0;
  /** The largest append so far (the reservation stops this far short of its limit). */
  private largestAppend = 0;

  /** The largest append so far, in bytes (a prepared successor's reservation stops short by it). */
  get largestAppendBytes(): number {
    return this.largestAppend;
  }

  private constructor(
    private _file: string,
    fd: number,
    size: number,
    readonly writable: boolean,
    /** The file never grows past this; blocks are reserved up to it. 0: reserve nothing. */
    private reserveLimit: number,
  ) {
    this.fd = fd;
    this._size = size;
    this.batches = new VerifiedBatches(!writable && guardedCopies());
  }

  /** Records of no file (no descriptor, size 0, never opened): for the layout anchors of src/layouts.ts. */
  static inert(): FileRecords {
    return new FileRecords('', -1, 0, true, 0);
  }

  static {
    keepLayout(() => FileRecords.inert()); // see src/layouts.ts
  }

  /**
   * Opens (writable: creating if missing) the file; its size is the file's length. A writer
   * given `reserveLimit` (the segment's maximum size) reserves disk blocks ahead of its appends.
   */
  static open(file: string, writable: boolean, reserveLimit = 0): FileRecords {
    let fd: number;
    if (writable) {
      fd = openForWriting(file, fs.constants.O_RDWR | fs.constants.O_CREAT, `cannot open ${file}`);
    } else {
      try {
        fd = fs.openSync(file, fs.constants.O_RDONLY);
      } catch (cause) {
        throw new LogIOError(`cannot open ${file}: ${(cause as Error).message}`, { file, cause });
      }
    }
    return FileRecords.ofDescriptor(file, fd, writable, writable ? reserveLimit : 0);
  }

  /** The records of the file open at `fd`, as its `fstat` shows it now. */
  private static ofDescriptor(file: string, fd: number, writable: boolean, reserveLimit: number): FileRecords {
    const stat = fs.fstatSync(fd);
    const records = new FileRecords(file, fd, stat.size, writable, reserveLimit);
    if (writable) records.reservedTo = reservedEnd(stat);
    records.ino = stat.ino;
    records.dev = stat.dev;
    records.seenMtimeMs = stat.mtimeMs;
    return records;
  }

  /**
   * A new, empty file for writing (`O_CREAT | O_EXCL`), or null when a file of that name exists.
   */
  static createNew(file: string, reserveLimit = 0): FileRecords | null {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, 0o644);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw new LogIOError(`cannot create ${file}: ${(cause as Error).message}`, { file, cause });
    }
    return FileRecords.ofDescriptor(file, fd, true, reserveLimit);
  }

  /**
   * A new, empty file for writing already open at `fd` (a prepared file just named `file`, see
   * files/prepared-files.ts), with disk blocks reserved for its first `reserved` bytes.
   */
  static adopt(file: string, fd: number, reserveLimit: number, reserved: number): FileRecords {
    const records = FileRecords.ofDescriptor(file, fd, true, reserveLimit);
    if (reserveLimit > 0) records.reservedTo = Math.min(reserved, reserveLimit);
    // More than a chunk: reserved for the whole segment (`preparedReserveBytes`), so the appends
    // reserve nothing more; the last pages past it are allocated by writeback, as without reserving.
    if (reserved > RESERVE_CHUNK_BYTES) records.reserveLimit = 0;
    return records;
  }

  /**
   * An existing file, looked at (stat) but not opened: it is opened on first use. Opening a log of
   * many segments then holds no descriptor per segment.
   */
  static openLazily(file: string, writable: boolean, reserveLimit = 0): FileRecords {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch (cause) {
      throw new LogIOError(`cannot open ${file}: ${(cause as Error).message}`, { file, cause });
    }
    const records = new FileRecords(file, SUSPENDED, stat.size, writable, writable ? reserveLimit : 0);
    records.ino = stat.ino;
    records.dev = stat.dev;
    records.seenMtimeMs = stat.mtimeMs;
    return records;
  }

  /** The open descriptor; a suspended file is opened again (it must still be the same file). */
  private handle(): number {
    if (this.fd !== SUSPENDED) return this.fd;
    const file = this._file;
    let fd: number;
    try {
      fd = fs.openSync(file, this.writable ? fs.constants.O_RDWR : fs.constants.O_RDONLY);
    } catch (cause) {
      throw new LogIOError(`cannot open ${file} again: ${(cause as Error).message}`, { file, cause });
    }
    const stat = fs.fstatSync(fd);
    if (stat.ino !== this.ino || stat.dev !== this.dev) {
      closeDescriptor(fd);
      // Another process replaced the file (a read-only opener next to a writer that truncated).
      throw new LogIOError(`${file} is no longer the file that was opened`, { file });
    }
    this.fd = fd;
    if (this.writable && this.reservedTo === 0) this.reservedTo = reservedEnd(stat);
    this.onReopen?.();
    return fd;
  }

  /** True while a descriptor is open (not closed, not suspended). */
  get isOpen(): boolean {
    return this.fd >= 0;
  }

  /**
   * Closes the descriptor (and drops the mapping) until the next use reopens the file by name:
   * the pool of open files does this to inactive segments. Not when a failed append left bytes
   * past `size` to cut off (`close` does that).
   */
  suspend(): void {
    if (this.fd < 0 || this.tailDirty) return;
    const fd = this.fd;
    this.fd = SUSPENDED;
    this.mapping = null;
    this.dropGuardedMapping();
    this.batches.clear();
    this.closeWhenSynced(fd);
  }

  /**
   * Closes `fd`, or, while thread-pool syncs still use it, leaves that to the last of them: a
   * number closed under a running fdatasync can be reused by the next open, and the sync would
   * then flush some other file and report this one durable.
   */
  private closeWhenSynced(fd: number): void {
    if (this.syncsInFlight === 0) closeDescriptor(fd);
    else this.closeAfterSyncs.push(fd);
  }

  private syncEnded(): void {
    if (--this.syncsInFlight > 0) return;
    for (const fd of this.closeAfterSyncs) {
      try {
        closeDescriptor(fd);
      } catch {
        // Nothing of ours is left to lose on a descriptor that was already given up.
      }
    }
    this.closeAfterSyncs.length = 0;
  }

  get file(): string {
    return this._file;
  }

  get size(): number {
    return this._size;
  }

  /**
   * Writes `length` bytes of `data` at the end of the file and returns the position written at.
   * All or nothing: when the write fails (ENOSPC, EIO) whatever part of it landed is cut off
   * again, so the file ends where it ended before, and the error is thrown as `LogIOError`.
   */
  append(data: Buffer, length = data.length): number {
    const position = this.beginAppend(length);
    this.writeAt(data, length, position);
    this.completeAppend(position, length);
    return position;
  }

  /**
   * The first step of an append of `length` bytes written elsewhere (see `append`, which is these
   * steps in a row): reserves blocks ahead, and returns the position the bytes go to, the end of
   * the file. The caller writes them there through `descriptor()`, then calls `completeAppend`,
   * or `failedAppend` / `abandonAppend` to cut them off again.
   */
  beginAppend(length: number): number {
    const position = this._size;
    if (length > this.largestAppend) this.largestAppend = length;
    if (position + length > this.reservedTo && this.reserveLimit > 0) this.reserveAhead(position + length);
    return position;
  }

  /** The open descriptor (a suspended file is opened again). Throws `LogIOError`. */
  descriptor(): number {
    return this.handle();
  }

  /**
   * Writes all `length` bytes of `data` at `position`, the one `beginAppend` gave (the middle step
   * of `append`); on failure cuts them off and throws `LogIOError`.
   */
  writeAt(data: Buffer, length: number, position: number): void {
    let written = 0;
    try {
      while (written < length) {
        written += fs.writeSync(this.handle(), data, written, length - written, position + written);
      }
    } catch (cause) {
      throw this.failedAppend(position, length, cause);
    }
  }

  /** The bytes of `beginAppend` are written: they are the file's from now on. */
  completeAppend(position: number, length: number): void {
    this._size = position + length;
    noteWrite();
  }

  /** The write begun at `position` failed with `cause`: cuts off what landed; returns the error to throw. */
  failedAppend(position: number, length: number, cause: unknown): LogIOError {
    this.cutBackTo(position);
    return new LogIOError(`write of ${length} bytes to ${this._file} at position ${position} failed: ${(cause as Error).message}`, {
      file: this._file,
      position,
      cause,
    });
  }

  /** The bytes written from `position` on must not stay (a call's earlier write failed): cuts them off. */
  abandonAppend(position: number): void {
    this.cutBackTo(position);
  }

  /**
   * Reserves disk blocks from where the reservation ends up to `RESERVE_CHUNK_BYTES` past `end`
   * (see `files/preallocate.ts`: a write into reserved blocks is ~30% cheaper on ext4), keeping
   * the file's length. The reservation stops the largest append short of `reserveLimit`: a segment
   * rolls when the next batch would pass the limit, so it then ends at or past the reservation,
   * and the roll has no blocks past the end to give back (`releaseReserved`: freeing them costs
   * an ext4 truncate, milliseconds on a busy journal). Stops for good there, or when the platform
   * or disk cannot; the writes then allocate as they go, as without it.
   */
  private reserveAhead(end: number): void {
    const from = Math.max(this.reservedTo, this._size);
    const to = Math.min(this.reserveLimit - this.largestAppend, end + RESERVE_CHUNK_BYTES);
    if (to <= end || !reserveSpace(this.handle(), from, to - from)) {
      this.reserveLimit = 0;
      return;
    }
    this.reservedTo = to;
  }

  /**
   * Gives reserved blocks past the data back to the file system (an ftruncate to the same length
   * frees blocks past it) and reserves no more: for a segment that stops being the active one,
   * and at close. Best effort: blocks left reserved cost disk space, never data.
   */
  releaseReserved(): void {
    this.reserveLimit = 0;
    if (this.reservedTo <= this._size || this.fd < 0) return;
    this.reservedTo = 0;
    try {
      fs.ftruncateSync(this.fd, this._size);
    } catch {
      // Left reserved until the file is truncated or deleted.
    }
  }

  private cutBackTo(size: number): void {
    try {
      fs.ftruncateSync(this.handle(), size);
      this.reservedTo = 0;
    } catch {
      // The truncate failed as well. The logical size still excludes the partial write: the next
      // append overwrites it, `close()` tries the cut again, and after a crash recovery cuts it by CRC.
      this.tailDirty = true;
    }
  }

  /** Reads up to `length` bytes at `position` into `into` at `intoOffset`; returns bytes read. */
  readInto(into: Buffer, intoOffset: number, length: number, position: number): number {
    let total = 0;
    try {
      while (total < length) {
        const n = fs.readSync(this.handle(), into, intoOffset + total, length - total, position + total);
        if (n === 0) break;
        total += n;
      }
    } catch (cause) {
      throw new LogIOError(`read of ${length} bytes from ${this._file} at position ${position} failed: ${(cause as Error).message}`, {
        file: this._file,
        position,
        cause,
      });
    }
    return total;
  }

  /**
   * Fills `first` from `firstPosition`, then `second` from `secondPosition`, in that order; false
   * when the file ended before either was full. One call into the addon where it runs (the
   * syscalls cost less than Node's two `readSync`s around them), else two `readInto`.
   */
  readTwo(first: Buffer, firstPosition: number, second: Buffer, secondPosition: number): boolean {
    const addon = nativeAddon();
    if (addon?.readTwo === undefined) {
      return this.readInto(first, 0, first.length, firstPosition) === first.length && this.readInto(second, 0, second.length, secondPosition) === second.length;
    }
    try {
      return addon.readTwo(this.handle(), first, firstPosition, second, secondPosition);
    } catch (cause) {
      if (cause instanceof LogIOError) throw cause;
      throw new LogIOError(`read from ${this._file} at positions ${firstPosition} and ${secondPosition} failed: ${(cause as Error).message}`, {
        file: this._file,
        position: firstPosition,
        cause,
      });
    }
  }

  /**
   * Read-only openers: the same as `readTwo`, but copied out of a mapping of the file, with no
   * read call. A page past the file's end (the writer cut it) makes it return false instead of
   * crashing (native/files.c); so does a range past `MAX_MAPPING_BYTES`, a closed file, or a
   * platform without the addon's guarded copy. Unlike a read, a copy from a page the writer is
   * filling may see it half written: the caller checks what it got against checksums taken when
   * it checked the batch (`RecordTable.crcs`).
   */
  copyTwo(first: Buffer, firstPosition: number, second: Buffer, secondPosition: number): boolean {
    const addon = nativeAddon();
    const end = Math.max(firstPosition + first.length, secondPosition + second.length);
    if (addon?.copyTwo === undefined || this.writable || this.fd === -1 || end > MAX_MAPPING_BYTES) return false;
    let mapping = this.guardedMapping;
    if (mapping === null || mapping.byteLength < end) {
      this.dropGuardedMapping();
      let length = MIN_MAPPING_BYTES;
      while (length < Math.max(end, this._size)) length *= 2;
      try {
        mapping = addon.map(this.handle(), Math.min(length, MAX_MAPPING_BYTES), false);
      } catch {
        return false; // the positional reads still work
      }
      this.guardedMapping = mapping;
    }
    return addon.copyTwo(mapping, first, firstPosition, second, secondPosition);
  }

  /** Unmapped at once (nothing outside `copyTwo` can hold it): mappings count against `vm.max_map_count`. */
  private dropGuardedMapping(): void {
    if (this.guardedMapping === null) return;
    nativeAddon()?.unmap(this.guardedMapping);
    this.guardedMapping = null;
  }

  /**
   * The writer's whole-file read mapping, valid up to `size` bytes, or null (read-only openers,
   * empty files, no addon). Reads through it cost no syscall and no copy, which is what makes a
   * one-record read in a large batch cheap. Safe because only this process changes the file and
   * nothing is read past `size`, which `truncateTo` lowers before cutting; callers must copy
   * whatever they hand out, since a view of a later-truncated region would fault.
   *
   * With `create` false, only a mapping some earlier call made is returned (remapped when the
   * file outgrew it): a scan walks a few headers per 1 MiB it reads, and a new mapping of the
   * whole file, which V8 counts as external memory of the segment's size, drove full garbage
   * collections through the rest of the scan (a writer's `readBatches` ran at about half the
   * read-only opener's rate).
   */
  mappedView(create = true): Buffer | null {
    if (!this.writable || this.fd === -1 || this._size === 0 || (!create && this.mapping === null)) return null;
    if (this.mapping === null || this.mapping.length < this._size) this.mapping = this.map();
    return this.mapping;
  }

  private map(): Buffer | null {
    const addon = nativeAddon();
    if (addon === null || this._size > MAX_MAPPING_BYTES) return null;
    let length = MIN_MAPPING_BYTES;
    while (length < this._size) length *= 2;
    // Mapping past the end of the file is allowed; those pages are never touched (reads stop at size).
    // Default advice, not MADV_RANDOM: the kernel's fault-around maps neighbouring cached pages
    // on each first touch, which keeps the walk through a large batch to a few faults.
    // Unmapped when garbage-collected, not explicitly: a reader may still hold a view of it.
    return Buffer.from(addon.map(this.handle(), Math.min(length, MAX_MAPPING_BYTES), false));
  }

  /** Read-only openers: the file was rewritten under this view (see `LogSegment.readNextOffset`). */
  forgetBatches(): void {
    this.batches.clear();
  }

  /** Cuts the file to `size` bytes; a no-op when it is not smaller than the current size. */
  truncateTo(size: number): number {
    const original = this._size;
    if (size >= original && fs.fstatSync(this.handle()).size <= size) return 0;
    // Before the cut: nothing may read the mapping past the new end, and rewritten bytes need a new check.
    this._size = Math.min(this._size, size);
    this.batches.clear();
    try {
      fs.ftruncateSync(this.handle(), size);
    } catch (cause) {
      throw new LogIOError(`cannot truncate ${this._file} to ${size} bytes`, { file: this._file, cause });
    }
    this._size = size;
    noteWrite();
    this.reservedTo = 0; // the cut freed every block past `size`, reserved ones too
    return Math.max(0, original - size);
  }

  /**
   * Read-only openers: take `size` as the end of the data (the end of the last whole batch when
   * the file ends in a torn batch or in bytes that are no batch at all), so that no read runs into
   * them. The next `refreshSize()` looks at the file again.
   */
  limitSize(size: number): void {
    if (!this.writable && size < this._size) this._size = size;
  }

  /**
   * True when both stand for the same file (device and inode, as of open), whatever its name now;
   * false when either is closed.
   */
  sameFileAs(other: FileRecords): boolean {
    if (this.fd === -1 || other.fd === -1) return false;
    return this.ino === other.ino && this.dev === other.dev;
  }

  /** Re-reads the file's length (read-only openers, to see a live writer's appends). */
  refreshSize(): number {
    this.refresh();
    return this._size;
  }

  /**
   * Re-reads the file's length and modification time; true when either changed since the last
   * look. The time catches a writer that cut the file and wrote it back to the same length.
   */
  refresh(): boolean {
    const stat = fs.fstatSync(this.handle());
    const changed = stat.size !== this._size || stat.mtimeMs !== this.seenMtimeMs;
    // Shorter, or written at the same length: batches seen before may not be there any more.
    if (stat.size < this._size || (changed && stat.size === this._size)) this.batches.clear();
    this._size = stat.size;
    this.seenMtimeMs = stat.mtimeMs;
    return changed;
  }

  /** fdatasync: the batches written so far survive a power cut once this returns. */
  flush(): void {
    try {
      fs.fdatasyncSync(this.handle());
    } catch (cause) {
      throw new LogIOError(`fdatasync of ${this._file} failed: ${(cause as Error).message}`, { file: this._file, cause });
    }
  }

  /** The same as `flush()` on the thread pool, for callers that must not block the event loop. */
  flushAsync(): Promise<void> {
    // Closed (the segment was deleted, or the log closed and synced in place): nothing left to sync here.
    if (this.fd === -1) return Promise.resolve();
    const fd = this.handle();
    this.syncsInFlight++;
    return new Promise((resolve, reject) => {
      fs.fdatasync(fd, (err) => {
        this.syncEnded();
        if (err === null) resolve();
        else reject(new LogIOError(`fdatasync of ${this._file} failed: ${err.message}`, { file: this._file, cause: err }));
      });
    });
  }

  /** The file's last-modified time in ms (Kafka's fallback when a segment has no timestamps). */
  lastModified(): number {
    return fs.fstatSync(this.handle()).mtimeMs;
  }

  /**
   * True when `file()` still names the file this handle has open. A read-only opener asks before
   * trusting index files it opens by name later: once a writer has renamed the `.log` away (a
   * swap, a deletion), the names may belong to a newer generation of the segment.
   */
  isStillAtItsName(): boolean {
    // `ino` and `dev` are the open descriptor's (a reopen checks them), so one `stat` of the name does.
    try {
      const there = fs.statSync(this._file, { throwIfNoEntry: false });
      return there !== undefined && there.ino === this.ino && there.dev === this.dev;
    } catch {
      return false;
    }
  }

  /**
   * Read-only openers: true when the file still has the modification time of the last look
   * (`refresh`, or its open or listing) and is not shorter than `size`: nothing was cut or
   * written since. (Not longer is not asked: `limitSize` may keep a torn tail out of `size`.)
   */
  isUnchanged(): boolean {
    const stat = fs.fstatSync(this.handle());
    return stat.mtimeMs === this.seenMtimeMs && stat.size >= this._size;
  }

  renameTo(file: string): void {
    fs.renameSync(this._file, file);
    this._file = file;
    noteWrite();
  }

  /**
   * Closes the file; a writer first cuts off any bytes a failed append left past `size`, and gives
   * back blocks it reserved.
   */
  close(): void {
    if (this.fd === SUSPENDED) this.fd = -1;
    if (this.fd < 0) return;
    if (this.writable) this.releaseReserved();
    if (this.tailDirty && this.writable) {
      try {
        if (fs.fstatSync(this.fd).size > this._size) fs.ftruncateSync(this.fd, this._size);
        this.tailDirty = false;
      } catch {
        // Still failing: the next open finds the tail and recovers the segment.
      }
    }
    this.closeWhenSynced(this.fd);
    this.fd = -1;
    this.mapping = null;
    this.dropGuardedMapping();
  }

  deleteIfExists(): void {
    this.close();
    fs.rmSync(this._file, { force: true });
    noteWrite();
  }
}
