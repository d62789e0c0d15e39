/**
 * The bytes behind an index file, in one of two backings.
 *
 * - `MmapStorage` (mode `'write'`): the file is mapped read-write and shared, so appends are plain
 *   stores into the page cache and lookups are plain loads. Only the single writer uses it.
 * - `PreadStorage` (mode `'read'`): positional `fs.readSync` calls, never a mapping. A reader in
 *   another process must not map a file that a live writer may shrink (trim at roll, truncation):
 *   touching a mapped page past a file's new end raises SIGBUS and kills the process. A `pread`
 *   past the end merely comes back short, and the missing bytes read as zeros here.
 *
 * All integers are big-endian. Reads go through a `DataView`: on Node 20 `getInt32` is about twice
 * as fast as `Buffer#readInt32BE`, and reading an int64 as two int32 halves is about three times
 * as fast as `getBigInt64` followed by `Number()` (measured on random slots of a 15 MiB mapping).
 * An int64 read as a number is exact up to 2^53, which covers every millisecond timestamp.
 */

import fs from 'node:fs';
import { O_NOFOLLOW, isNoFollowRefusal, symlinkRefused } from '../files/no-follow.js';
import { createRequire } from 'node:module';

import { InvalidArgumentError, LogClosedError, LogIOError, ReadOnlyLogError } from '../errors.js';

const TWO_POW_32 = 4294967296;
const MAX_INT32 = 0x7fffffff;
const EMPTY = new DataView(new ArrayBuffer(0));

/** Byte access to an index file. Positions are byte positions in the file. */
export interface IndexStorage {
  readonly kind: 'mmap' | 'pread' | 'memory' | 'closed';
  /** The file's length in bytes as this backing sees it (for `pread`: as of open or `refresh`). */
  readonly length: number;
  /** Path used in error messages; updated when the index is renamed. */
  file: string;
  int32(pos: number): number;
  /** A big-endian int64 read as a number (exact up to 2^53). */
  int64(pos: number): number;
  setInt32(pos: number, value: number): void;
  setInt64(pos: number, value: number): void;
  /** Zero the bytes [from, to). */
  zero(from: number, to: number): void;
  /** Set the file's length (ftruncate) and re-map. Drops the old mapping first. */
  resize(newLength: number): void;
  /** Write dirty pages to the device (msync). */
  /** Syncs the first `length` bytes (default: all) to the device. */
  flush(length?: number): void;
  /** Drop the mapping (if any) and close the file descriptor. Idempotent. */
  release(): void;
}

/** The few members of `@riaskov/mmap-io` seglog uses. */
interface MmapBinding {
  map(size: number, protection: number, flags: number, fd: number, offset?: number): Buffer;
  sync(buffer: Buffer, offset: number, size: number, blocking: boolean, invalidate: boolean): void;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly MAP_SHARED: number;
}

let binding: MmapBinding | undefined;

/**
 * The native addon is loaded on first use, so a process that only reads (`mode: 'read'`) never
 * loads it. It is CommonJS and its typings describe an `export default` that its `module.exports`
 * does not carry, hence `createRequire` and a local interface.
 */
function mmapBinding(): MmapBinding {
  binding ??= createRequire(import.meta.url)('@riaskov/mmap-io') as MmapBinding;
  return binding;
}

function ioError(message: string, file: string, cause: unknown): LogIOError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new LogIOError(`${message} ${file}${detail}`, { file, cause });
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

function writeInt64(view: DataView, pos: number, value: number): void {
  const hi = Math.floor(value / TWO_POW_32);
  view.setInt32(pos, hi);
  view.setUint32(pos + 4, value - hi * TWO_POW_32);
}

/**
 * Bytes of file blocks allocated ahead of the next entry, by writing zeros. A preallocated index
 * is sparse, and the first store into a sparse page of a shared mapping makes the kernel allocate
 * the block inside a page fault: measured here at 0.1 to 2.5 ms per page (ext4 on a VM), against
 * about 20 us to write 64 KiB of zeros. So the writer backs the pages just ahead of it with real
 * blocks and every store it makes lands on an allocated page. The bytes written are zeros where
 * the file already holds zeros (past the last entry), so the file's contents do not change.
 */
const BACKING_CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(BACKING_CHUNK);

/** Read-write shared mapping of the whole file. */
export class MmapStorage implements IndexStorage {
  readonly kind = 'mmap' as const;
  file: string;
  private fd: number;
  private view: DataView = EMPTY;
  // The Buffer owns the mapping (munmap runs when it is garbage-collected); keep the only reference
  // here, next to `view`, and clear both before the file shrinks.
  private mapping: Buffer | null = null;
  private len = 0;
  /** Bytes from 0 known to have real blocks behind them (see BACKING_CHUNK). */
  private backedTo = 0;

  /**
   * Open `file` read-write. A missing file is created and given `createLength` bytes (sparse
   * zeros). Returns whether it was created.
   */
  static open(file: string, createLength: number): { storage: MmapStorage; created: boolean } {
    let fd: number;
    let created = false;
    try {
      try {
        fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, 0o644);
        created = true;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        fd = fs.openSync(file, fs.constants.O_RDWR | O_NOFOLLOW);
      }
    } catch (err) {
      if (isNoFollowRefusal(err)) throw symlinkRefused(file, err);
      throw ioError('cannot open index file', file, err);
    }
    const storage = new MmapStorage(file, fd);
    try {
      if (created) fs.ftruncateSync(fd, createLength);
      storage.mapWhole(fs.fstatSync(fd).size);
    } catch (err) {
      storage.release();
      if (created) fs.rmSync(file, { force: true });
      throw err instanceof LogIOError ? err : ioError('cannot prepare index file', file, err);
    }
    return { storage, created };
  }

  private constructor(file: string, fd: number) {
    this.file = file;
    this.fd = fd;
  }

  get length(): number {
    return this.len;
  }

  private mapWhole(length: number): void {
    if (length > MAX_INT32) {
      throw new LogIOError(`index file ${this.file} is ${length} bytes, over the 2 GiB mapping limit`, {
        file: this.file,
      });
    }
    this.len = length;
    if (length === 0) return; // mmap(2) rejects a zero length; an empty view serves
    const mm = mmapBinding();
    try {
      this.mapping = mm.map(length, mm.PROT_READ | mm.PROT_WRITE, mm.MAP_SHARED, this.fd, 0);
    } catch (err) {
      this.len = 0;
      throw ioError('cannot map index file', this.file, err);
    }
    this.view = new DataView(this.mapping.buffer, this.mapping.byteOffset, this.mapping.byteLength);
  }

  private unmap(): void {
    this.mapping = null;
    this.view = EMPTY;
    this.len = 0;
    this.backedTo = 0;
  }

  int32(pos: number): number {
    return this.view.getInt32(pos);
  }

  int64(pos: number): number {
    const view = this.view;
    return view.getInt32(pos) * TWO_POW_32 + view.getUint32(pos + 4);
  }

  setInt32(pos: number, value: number): void {
    if (pos + 4 > this.backedTo) this.backFrom(pos);
    this.view.setInt32(pos, value);
  }

  setInt64(pos: number, value: number): void {
    if (pos + 8 > this.backedTo) this.backFrom(pos);
    writeInt64(this.view, pos, value);
  }

  /** Writes zeros over [pos, pos + BACKING_CHUNK): bytes past the last entry, zero already. */
  private backFrom(pos: number): void {
    const end = Math.min(this.len, pos + BACKING_CHUNK);
    try {
      if (end > pos) fs.writeSync(this.fd, ZEROS, 0, end - pos, pos);
    } catch {
      // No space for blocks now: the store below allocates through the mapping as before.
    }
    this.backedTo = end;
  }

  zero(from: number, to: number): void {
    if (to > from && this.mapping !== null) this.mapping.fill(0, from, to);
  }

  resize(newLength: number): void {
    this.unmap();
    try {
      fs.ftruncateSync(this.fd, newLength);
    } catch (err) {
      // The file keeps its old length; map it again so the index stays usable if possible.
      try {
        this.mapWhole(fs.fstatSync(this.fd).size);
      } catch {
        // Left unmapped (length 0); the resize error below is the one to report.
      }
      throw ioError('cannot resize index file', this.file, err);
    }
    this.mapWhole(newLength);
  }

  flush(length = this.len): void {
    if (this.mapping === null) return;
    const bytes = Math.min(this.mapping.length, Math.ceil(Math.max(length, 1) / 4096) * 4096);
    try {
      mmapBinding().sync(this.mapping, 0, bytes, true, false);
    } catch (err) {
      throw ioError('cannot flush index file', this.file, err);
    }
  }

  release(): void {
    this.unmap();
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      try {
        fs.closeSync(fd);
      } catch (err) {
        throw ioError('cannot close index file', this.file, err);
      }
    }
  }
}

/** Bytes fetched per read miss: one page-aligned block. */
const WINDOW_SIZE = 4096;

/**
 * Positional reads, never a mapping, never a write. The last 4 KiB block read is kept, so the key
 * and value of one entry, two neighbouring keys, and the last 8 or 9 probes of a binary search (they
 * fall in one block) cost one `pread` between them: about 14 µs for a random lookup in a 10 MiB
 * index and 2.4 µs in its warm section, against 17 µs and 7 µs reading 64 bytes at a time. The
 * block is dropped by `refresh()`, which is also what a reader calls to see the writer's changes.
 */
export class PreadStorage implements IndexStorage {
  readonly kind = 'pread' as const;
  file: string;
  private fd = -1;
  private ino = -1;
  private dev = -1;
  private len = 0;
  private readonly window = Buffer.alloc(WINDOW_SIZE);
  private readonly windowView = new DataView(this.window.buffer, this.window.byteOffset, WINDOW_SIZE);
  private windowStart = 0;
  private windowEnd = 0; // windowEnd === windowStart: empty

  /** Open `file` read-only. A missing file reads as empty (length 0) until `refresh` finds it. */
  static open(file: string): PreadStorage {
    const storage = new PreadStorage(file);
    storage.refresh();
    return storage;
  }

  private constructor(file: string) {
    this.file = file;
  }

  get length(): number {
    return this.len;
  }

  /** True when the file was found at the last open/refresh. */
  get exists(): boolean {
    return this.fd >= 0;
  }

  /**
   * Re-read the file's length. When the path now names a different file (deleted and created
   * again) or the file appeared since, switch to it; when it disappeared, keep reading the open
   * one (an unlinked file stays readable through its descriptor).
   */
  refresh(): void {
    this.windowEnd = this.windowStart;
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(this.file);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw ioError('cannot stat index file', this.file, err);
    }
    if (stat !== undefined && (this.fd < 0 || stat.ino !== this.ino || stat.dev !== this.dev)) {
      let fd: number;
      try {
        fd = fs.openSync(this.file, 'r');
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw ioError('cannot open index file', this.file, err);
        return this.refreshOpen();
      }
      this.closeFd();
      this.fd = fd;
    }
    this.refreshOpen();
  }

  private refreshOpen(): void {
    if (this.fd < 0) {
      this.len = 0;
      return;
    }
    try {
      const stat = fs.fstatSync(this.fd);
      this.ino = stat.ino;
      this.dev = stat.dev;
      this.len = stat.size;
    } catch (err) {
      throw ioError('cannot stat index file', this.file, err);
    }
  }

  /** Byte offset in the window of [pos, pos + size), reading the file when it is not cached. */
  private load(pos: number, size: number): number {
    const at = pos - this.windowStart;
    if (at >= 0 && pos + size <= this.windowEnd) return at;
    // Read the aligned block holding [pos, pos + size), or from pos when that straddles two blocks.
    let start = pos - (pos % WINDOW_SIZE);
    if (pos + size > start + WINDOW_SIZE) start = pos;
    const window = this.window;
    let got = 0;
    if (this.fd >= 0) {
      try {
        got = fs.readSync(this.fd, window, 0, WINDOW_SIZE, start);
      } catch (err) {
        throw ioError('cannot read index file', this.file, err);
      }
    }
    // Bytes past the end of the file (it shrank since the last refresh) read as zeros.
    if (got < WINDOW_SIZE) window.fill(0, got);
    this.windowStart = start;
    this.windowEnd = start + WINDOW_SIZE;
    return pos - start;
  }

  int32(pos: number): number {
    return this.windowView.getInt32(this.load(pos, 4));
  }

  int64(pos: number): number {
    const at = this.load(pos, 8);
    const view = this.windowView;
    return view.getInt32(at) * TWO_POW_32 + view.getUint32(at + 4);
  }

  private readOnly(): never {
    throw new ReadOnlyLogError(`index ${this.file} is open for reading only`, { file: this.file });
  }

  setInt32(): void {
    this.readOnly();
  }

  setInt64(): void {
    this.readOnly();
  }

  zero(): void {
    this.readOnly();
  }

  resize(): void {
    this.readOnly();
  }

  flush(): void {
    // Nothing is ever written through this backing.
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      fs.closeSync(fd);
    } catch (err) {
      throw ioError('cannot close index file', this.file, err);
    }
  }

  release(): void {
    this.windowEnd = this.windowStart;
    this.len = 0;
    this.closeFd();
  }
}

/** What an index holds after `close()`: every access throws `LogClosedError`. */
export class ClosedStorage implements IndexStorage {
  readonly kind = 'closed' as const;
  readonly length = 0;
  file: string;

  constructor(file: string) {
    this.file = file;
  }

  private closed(): never {
    throw new LogClosedError(`index ${this.file} is closed`, { file: this.file });
  }

  int32(): number {
    return this.closed();
  }

  int64(): number {
    return this.closed();
  }

  setInt32(): void {
    this.closed();
  }

  setInt64(): void {
    this.closed();
  }

  zero(): void {
    this.closed();
  }

  resize(): void {
    this.closed();
  }

  flush(): void {
    this.closed();
  }

  release(): void {
    // Already released.
  }
}

/** Guard for values stored as int32: integers in [0, 2^31 - 1]. */
export function checkUint31(value: number, what: string, file: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_INT32) {
    throw new InvalidArgumentError(`${what} ${value} is not an integer in [0, 2^31 - 1] (${file})`, { file });
  }
}
