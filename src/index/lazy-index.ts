/**
 * Deferred opening of an index, as Kafka's `LazyIndex` does: a partition with 1,000 segments opens
 * 2,000 index files only when a segment is first searched, not at start-up. Until then the wrapper
 * holds a path and the open options; `renameTo`, `deleteIfExists` and `close` work on the path
 * without opening anything (a never-opened index file may not even exist yet: in write mode it is
 * created by the first `get()`).
 */

import fs from 'node:fs';

import { LogClosedError, LogIOError, ReadOnlyLogError } from '../errors.js';
import type { AbstractIndex, IndexMode, IndexOptions } from './abstract-index.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';

export class LazyIndex<T extends AbstractIndex> {
  private path: string;
  private index: T | null = null;
  private closed = false;
  private readonly load: (file: string) => T;
  private readonly mode: IndexMode;

  /** An offset index at `file`, opened on first `get()`. */
  static forOffset(file: string, baseOffset: number, options?: IndexOptions): LazyIndex<OffsetIndex> {
    return new LazyIndex(file, (f) => new OffsetIndex(f, baseOffset, options), options?.mode);
  }

  /** A time index at `file`, opened on first `get()`. */
  static forTime(file: string, baseOffset: number, options?: IndexOptions): LazyIndex<TimeIndex> {
    return new LazyIndex(file, (f) => new TimeIndex(f, baseOffset, options), options?.mode);
  }

  /** `load` opens the index at the path it is given, in `mode` (default `'write'`). */
  constructor(file: string, load: (file: string) => T, mode: IndexMode = 'write') {
    this.path = file;
    this.load = load;
    this.mode = mode;
  }

  /** The index file's path (follows `renameTo`). */
  get file(): string {
    return this.index === null ? this.path : this.index.file;
  }

  /** Whether the index has been opened. */
  get isLoaded(): boolean {
    return this.index !== null;
  }

  /**
   * The index, opened now if it was not yet.
   * @throws LogClosedError after `close()` or `deleteIfExists()`
   */
  get(): T {
    if (this.closed) throw new LogClosedError(`index ${this.file} is closed`, { file: this.file });
    this.index ??= this.load(this.path);
    return this.index;
  }

  /** Rename the file, opened or not; a file that does not exist yet only changes name. Write mode only. */
  renameTo(newPath: string): void {
    this.ensureWriteMode('rename');
    if (this.index !== null) {
      this.index.renameTo(newPath);
      return;
    }
    try {
      fs.renameSync(this.path, newPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || fs.existsSync(this.path)) {
        throw new LogIOError(`cannot rename index file ${this.path} to ${newPath}`, { file: this.path, cause: err });
      }
    }
    this.path = newPath;
  }

  /** Close (without trimming) and delete the file. Returns whether a file was deleted. Write mode only. */
  deleteIfExists(): boolean {
    this.ensureWriteMode('delete');
    this.closed = true;
    if (this.index !== null) return this.index.deleteIfExists();
    try {
      fs.unlinkSync(this.path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new LogIOError(`cannot delete index file ${this.path}`, { file: this.path, cause: err });
    }
  }

  private ensureWriteMode(operation: string): void {
    if (this.mode !== 'write') {
      throw new ReadOnlyLogError(`cannot ${operation} index ${this.file}: it is open for reading only`, {
        file: this.file,
      });
    }
  }

  /** Close the index if it was opened (trimming it in write mode); later `get()` calls throw. */
  close(): void {
    this.closed = true;
    this.index?.close();
  }

  /** Close the index if it was opened, without trimming; later `get()` calls throw. */
  closeWithoutTrim(): void {
    this.closed = true;
    this.index?.closeWithoutTrim();
  }
}
