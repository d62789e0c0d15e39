import fs from 'node:fs';
import { LogIOError } from '../errors.js';

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
export class FileRecords {
  private fd: number;
  private _size: number;
  /** True when a failed append could not be cut off: the file may hold bytes past `size`. */
  private tailDirty = false;

  private constructor(
    private _file: string,
    fd: number,
    size: number,
    readonly writable: boolean,
  ) {
    this.fd = fd;
    this._size = size;
  }

  /** Opens (writable: creating if missing) the file; its size is the file's length. */
  static open(file: string, writable: boolean): FileRecords {
    let fd: number;
    try {
      fd = fs.openSync(file, writable ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDONLY, 0o644);
    } catch (cause) {
      throw new LogIOError(`cannot open ${file}: ${(cause as Error).message}`, { file, cause });
    }
    const size = fs.fstatSync(fd).size;
    return new FileRecords(file, fd, size, writable);
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
    const position = this._size;
    let written = 0;
    try {
      while (written < length) {
        written += fs.writeSync(this.fd, data, written, length - written, position + written);
      }
    } catch (cause) {
      this.cutBackTo(position);
      throw new LogIOError(`write of ${length} bytes to ${this._file} at position ${position} failed: ${(cause as Error).message}`, {
        file: this._file,
        position,
        cause,
      });
    }
    this._size = position + length;
    return position;
  }

  private cutBackTo(size: number): void {
    try {
      fs.ftruncateSync(this.fd, size);
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
        const n = fs.readSync(this.fd, into, intoOffset + total, length - total, position + total);
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

  /** Cuts the file to `size` bytes; a no-op when it is not smaller than the current size. */
  truncateTo(size: number): number {
    const original = this._size;
    if (size >= original && fs.fstatSync(this.fd).size <= size) return 0;
    try {
      fs.ftruncateSync(this.fd, size);
    } catch (cause) {
      throw new LogIOError(`cannot truncate ${this._file} to ${size} bytes`, { file: this._file, cause });
    }
    this._size = size;
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

  /** Re-reads the file's length (read-only openers, to see a live writer's appends). */
  refreshSize(): number {
    this._size = fs.fstatSync(this.fd).size;
    return this._size;
  }

  /** fdatasync: the batches written so far survive a power cut once this returns. */
  flush(): void {
    try {
      fs.fdatasyncSync(this.fd);
    } catch (cause) {
      throw new LogIOError(`fdatasync of ${this._file} failed: ${(cause as Error).message}`, { file: this._file, cause });
    }
  }

  /** The same as `flush()` on the thread pool, for callers that must not block the event loop. */
  flushAsync(): Promise<void> {
    // Closed (the segment was deleted, or the log closed and synced in place): nothing left to sync here.
    if (this.fd < 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.fd, (err) => {
        if (err === null) resolve();
        else reject(new LogIOError(`fdatasync of ${this._file} failed: ${err.message}`, { file: this._file, cause: err }));
      });
    });
  }

  /** The file's last-modified time in ms (Kafka's fallback when a segment has no timestamps). */
  lastModified(): number {
    return fs.fstatSync(this.fd).mtimeMs;
  }

  renameTo(file: string): void {
    fs.renameSync(this._file, file);
    this._file = file;
  }

  /** Closes the file; a writer first cuts off any bytes a failed append left past `size`. */
  close(): void {
    if (this.fd < 0) return;
    if (this.tailDirty && this.writable) {
      try {
        if (fs.fstatSync(this.fd).size > this._size) fs.ftruncateSync(this.fd, this._size);
        this.tailDirty = false;
      } catch {
        // Still failing: the next open finds the tail and recovers the segment.
      }
    }
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  deleteIfExists(): void {
    this.close();
    fs.rmSync(this._file, { force: true });
  }
}
