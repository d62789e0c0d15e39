/**
 * The writer's index storage where seglog's addon can map files (see storage.ts for the backings
 * and files/native.ts for the addon): a read-write shared mapping of the whole file.
 */
import fs from 'node:fs';

import { LogIOError } from '../errors.js';
import type { NativeAddon } from '../files/native.js';
import { keepLayout } from '../layouts.js';
import { INT32_MAX } from '../record/batch-layout.js';
import { type IndexStorage, ioError, openForWrite, readInt64, writeInt64 } from './storage.js';
import { closeDescriptor } from '../files/descriptors.js';

const EMPTY = new DataView(new ArrayBuffer(0));

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
  // The mapping's memory; unmapped explicitly (`unmap`) before the file shrinks and at release,
  // which also detaches it, so a stale view throws instead of touching unmapped memory.
  private mapping: Uint8Array | null = null;
  private len = 0;
  /** Bytes from 0 known to have real blocks behind them (see BACKING_CHUNK). */
  private backedTo = 0;

  /**
   * Open `file` read-write with `addon`'s mapping. A missing file is created and given
   * `createLength` bytes (sparse zeros). Returns whether it was created.
   */
  static open(file: string, createLength: number, addon: NativeAddon): { storage: MmapStorage; created: boolean } {
    const { fd, created } = openForWrite(file, createLength);
    const storage = MmapStorage.make(file, fd, addon);
    try {
      storage.mapWhole(fs.fstatSync(fd).size);
    } catch (err) {
      storage.release();
      if (created) fs.rmSync(file, { force: true });
      throw err instanceof LogIOError ? err : ioError('cannot prepare index file', file, err);
    }
    return { storage, created };
  }

  /** A new file already open at `fd` and of its full length (a prepared file), mapped. Throws `LogIOError`. */
  static adopt(file: string, fd: number, addon: NativeAddon): MmapStorage {
    const storage = MmapStorage.make(file, fd, addon);
    try {
      storage.mapWhole(fs.fstatSync(fd).size);
    } catch (err) {
      storage.release();
      fs.rmSync(file, { force: true });
      throw err instanceof LogIOError ? err : ioError('cannot prepare index file', file, err);
    }
    return storage;
  }

  private constructor(file: string, fd: number, private readonly addon: NativeAddon) {
    this.file = file;
    this.fd = fd;
  }

  /** Whether the layout is kept (src/layouts.ts): by a storage of no file, made with the first addon given. */
  private static anchored = false;

  private static make(file: string, fd: number, addon: NativeAddon): MmapStorage {
    if (!MmapStorage.anchored) {
      keepLayout(() => new MmapStorage('', -1, addon));
      MmapStorage.anchored = true;
    }
    return new MmapStorage(file, fd, addon);
  }

  get length(): number {
    return this.len;
  }

  private mapWhole(length: number): void {
    if (length > INT32_MAX) {
      throw new LogIOError(`index file ${this.file} is ${length} bytes, over the 2 GiB mapping limit`, {
        file: this.file,
      });
    }
    this.len = length;
    if (length === 0) return; // mmap(2) rejects a zero length; an empty view serves
    try {
      this.mapping = new Uint8Array(this.addon.map(this.fd, length, true));
    } catch (err) {
      this.len = 0;
      throw ioError('cannot map index file', this.file, err);
    }
    this.view = new DataView(this.mapping.buffer);
  }

  private unmap(): void {
    if (this.mapping !== null) this.addon.unmap(this.mapping.buffer as ArrayBuffer);
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
    return readInt64(view, pos);
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
      this.addon.msync(this.mapping.buffer as ArrayBuffer, 0, bytes);
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
        closeDescriptor(fd);
      } catch (err) {
        throw ioError('cannot close index file', this.file, err);
      }
    }
  }
}

