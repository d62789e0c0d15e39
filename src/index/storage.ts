/**
 * The bytes behind an index file, in one of three backings:
 *
 * - `MmapStorage` (mode `'write'`, mmap-storage.ts): the file is mapped read-write and shared
 *   through seglog's addon, so appends are plain stores into the page cache and lookups are plain
 *   loads. Only the single writer uses it.
 * - `PwriteStorage` (mode `'write'` without the addon, positional-storage.ts): positional reads
 *   and writes; what a writer gets where mapping is unavailable.
 * - `MemoryStorage` (mode `'read'`, memory-storage.ts): the entries held in memory, never a
 *   mapping: a reader in another process must not map a file that a live writer may shrink (a
 *   touch past a file's new end raises SIGBUS).
 *
 * All integers are big-endian. Reads go through a `DataView`: on Node 20 `getInt32` is about twice
 * as fast as `Buffer#readInt32BE`, and reading an int64 as two int32 halves is about three times
 * as fast as `getBigInt64` followed by `Number()` (measured on random slots of a 15 MiB mapping).
 * An int64 read as a number is exact up to 2^53, which covers every millisecond timestamp.
 */

import fs from 'node:fs';
import { O_NOFOLLOW, isNoFollowRefusal, symlinkRefused } from '../files/no-follow.js';

import { InvalidArgumentError, LogClosedError, LogIOError } from '../errors.js';
import { INT32_MAX, TWO_POW_32 } from '../record/batch-layout.js';
import { closeDescriptor } from '../files/descriptors.js';

/** Byte access to an index file. Positions are byte positions in the file. */
export interface IndexStorage {
  readonly kind: 'mmap' | 'pwrite' | 'memory' | 'closed';
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
  /** Set the file's length (ftruncate); a mapping is dropped first and made again. */
  resize(newLength: number): void;
  /** Syncs the first `length` bytes (default: all) to the device. */
  flush(length?: number): void;
  /** Drop the mapping (if any) and close the file descriptor. Idempotent. */
  release(): void;
}

export function ioError(message: string, file: string, cause: unknown): LogIOError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new LogIOError(`${message} ${file}${detail}`, { file, cause });
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

/** A big-endian int64 of an index view as a number (exact up to 2^53): every storage's `int64`. */
export function readInt64(view: DataView, pos: number): number {
  return view.getInt32(pos) * TWO_POW_32 + view.getUint32(pos + 4);
}

/** Writes a safe integer as a big-endian int64, high half first (see MemoryStorage's time slots). */
export function writeInt64(view: DataView, pos: number, value: number): void {
  const hi = Math.floor(value / TWO_POW_32);
  view.setInt32(pos, hi);
  view.setUint32(pos + 4, value - hi * TWO_POW_32);
}

/**
 * Opens `file` read-write for a writer. A missing file is created and given `createLength` bytes
 * (sparse zeros). Returns the descriptor and whether the file was created.
 */
export function openForWrite(file: string, createLength: number): { fd: number; created: boolean } {
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
  try {
    if (created) fs.ftruncateSync(fd, createLength);
  } catch (err) {
    closeDescriptor(fd);
    fs.rmSync(file, { force: true });
    throw ioError('cannot prepare index file', file, err);
  }
  return { fd, created };
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
  if (!Number.isInteger(value) || value < 0 || value > INT32_MAX) {
    throw new InvalidArgumentError(`${what} ${value} is not an integer in [0, 2^31 - 1] (${file})`, { file });
  }
}
