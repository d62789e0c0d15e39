/**
 * Index storage through positional reads and writes, never a mapping (see storage.ts):
 * `PreadStorage` for readers (mode `'read'`), `PwriteStorage` for a writer where seglog's addon
 * cannot map files (no addon for this platform, or `SEGLOG_NO_NATIVE=1`).
 *
 * Both keep the last 4 KiB block read, so the key and value of one entry, two neighbouring keys,
 * and the last 8 or 9 probes of a binary search (they fall in one block) cost one `pread` between
 * them: about 14 µs for a random lookup in a 10 MiB index and 2.4 µs in its warm section, against
 * 17 µs and 7 µs reading 64 bytes at a time.
 */
import fs from 'node:fs';

import { LogIOError } from '../errors.js';
import { type IndexStorage, ioError, openForWrite, readInt64, writeInt64 } from './storage.js';
import { closeDescriptor } from '../files/descriptors.js';

/** Bytes fetched per read miss: one page-aligned block. */
const WINDOW_SIZE = 4096;
const ZEROS = Buffer.alloc(WINDOW_SIZE);

/** The block cache and reads both backings share. */
abstract class WindowedFile {
  file: string;
  protected fd = -1;
  protected len = 0;
  protected readonly window = Buffer.alloc(WINDOW_SIZE);
  protected readonly windowView = new DataView(this.window.buffer, this.window.byteOffset, WINDOW_SIZE);
  protected windowStart = 0;
  protected windowEnd = 0; // windowEnd === windowStart: empty

  protected constructor(file: string) {
    this.file = file;
  }

  get length(): number {
    return this.len;
  }

  /** Byte offset in the window of [pos, pos + size), reading the file when it is not cached. */
  protected load(pos: number, size: number): number {
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
    return readInt64(view, at);
  }

  protected dropWindow(): void {
    this.windowEnd = this.windowStart;
  }

  protected closeFd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      closeDescriptor(fd);
    } catch (err) {
      throw ioError('cannot close index file', this.file, err);
    }
  }

  release(): void {
    this.dropWindow();
    this.len = 0;
    this.closeFd();
  }
}

/**
 * The single writer's backing without a mapping: every store is a `pwrite` of its 4 or 8 bytes
 * (an index gets an entry per 4 KiB of records, so that is a few syscalls per append at most),
 * kept in the cached block too when it falls inside it; lookups are positional reads through
 * that block.
 */
export class PwriteStorage extends WindowedFile implements IndexStorage {
  readonly kind = 'pwrite' as const;
  private readonly scratch = Buffer.alloc(8);
  private readonly scratchView = new DataView(this.scratch.buffer, this.scratch.byteOffset, 8);

  /** As `MmapStorage.open`: creates a missing file with `createLength` bytes of sparse zeros. */
  static open(file: string, createLength: number): { storage: PwriteStorage; created: boolean } {
    const { fd, created } = openForWrite(file, createLength);
    const storage = new PwriteStorage(file);
    storage.fd = fd;
    try {
      storage.len = fs.fstatSync(fd).size;
    } catch (err) {
      storage.release();
      throw ioError('cannot stat index file', file, err);
    }
    return { storage, created };
  }

  setInt32(pos: number, value: number): void {
    this.scratchView.setInt32(0, value);
    this.write(pos, 4);
  }

  setInt64(pos: number, value: number): void {
    writeInt64(this.scratchView, 0, value);
    this.write(pos, 8);
  }

  /** Writes the first `size` scratch bytes at `pos`, and into the cached block. */
  private write(pos: number, size: number): void {
    this.pwrite(this.scratch, size, pos);
    const at = pos - this.windowStart;
    if (at >= 0 && pos + size <= this.windowEnd) this.scratch.copy(this.window, at, 0, size);
    else if (pos < this.windowEnd && pos + size > this.windowStart) this.dropWindow();
  }

  private pwrite(data: Buffer, size: number, pos: number): void {
    if (this.fd < 0) throw new LogIOError(`index file ${this.file} is released`, { file: this.file });
    try {
      let done = 0;
      while (done < size) done += fs.writeSync(this.fd, data, done, size - done, pos + done);
    } catch (err) {
      throw ioError('cannot write index file', this.file, err);
    }
  }

  zero(from: number, to: number): void {
    for (let pos = from; pos < to; pos += WINDOW_SIZE) this.pwrite(ZEROS, Math.min(WINDOW_SIZE, to - pos), pos);
    if (from < this.windowEnd && to > this.windowStart) this.dropWindow();
  }

  resize(newLength: number): void {
    this.dropWindow();
    try {
      fs.ftruncateSync(this.fd, newLength);
    } catch (err) {
      throw ioError('cannot resize index file', this.file, err);
    }
    this.len = newLength;
  }

  flush(): void {
    if (this.fd < 0) return;
    try {
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      throw ioError('cannot flush index file', this.file, err);
    }
  }
}
