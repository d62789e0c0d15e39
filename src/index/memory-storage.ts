/**
 * An index file's entries held in memory: the backing of mode `'read'` (a reader next to a live
 * writer, possibly in another process, and read-only openers in general).
 *
 * Why memory and not a mapping: a writer trims, truncates and deletes index files, and a mapped
 * page past a file's new end raises SIGBUS in every process mapping it. Why not positional reads
 * per probe: a binary search then costs one or more `pread`s per lookup (measured at 8-10 times a
 * mapped lookup). Held in memory, a lookup is the writer's: plain loads, no system call. A sparse
 * index is small (8 or 12 bytes per `index.interval.bytes` of log, 0.3% of the `.log` at the
 * defaults), so holding the entries costs little.
 *
 * What is read: the entries from the start of the file up to the first slot that is not an
 * entry: keys strictly increase, so a slot whose key is not above the previous one (the
 * zero-filled tail of a preallocated file, or damage) ends the entries; a time index's last entry
 * waits while the file goes on past it (see TIME_ENTRY_BYTES). `refresh()` reads only the new tail
 * when the file is the same file and the last entry held is still there, and everything again
 * otherwise (the writer truncated or replaced it). No descriptor is kept open between calls, so a
 * reader holds none per segment. Entries can also be handed in directly (`fromBytes`): a read-only
 * opener builds them from the `.log` when a segment has no usable index files.
 */

import fs from 'node:fs';

import { LogIOError, ReadOnlyLogError } from '../errors.js';
import { readInt64 } from '../record/batch-layout.js';
import { readInt64 as readViewInt64, type IndexStorage } from './storage.js';
import { closeDescriptor } from '../files/descriptors.js';

/** Bytes read per `pread` while loading: 64 KiB holds 8,192 offset entries. */
const READ_CHUNK = 64 * 1024;
/** First read of a refresh: a live writer adds an entry per 4 KiB of log, so a few at a time. */
const TAIL_CHUNK = 4096;
const EMPTY = Buffer.alloc(0);
/**
 * A time index slot. Its key, a timestamp, is 8 bytes that a writer stores as two 4-byte halves
 * after the value (`writeInt64`), so a reader in another process can copy a slot being written
 * with its key 0 or its high half only: a timestamp below the writer's, which would send lookups
 * past records that reach the one looked for. A later slot shows such a key as not above the one
 * before it; the first slot has none before it (seen: a key of 0 and one of 395 * 2^32 where the
 * writer wrote T0 + offset). So the last entry of a time index that goes on past its entries (a
 * live writer's preallocated file) is left out until a later read finds it followed by another,
 * or the file trimmed to it at roll. The offset index's 4-byte key is one store, and a reader
 * checks each entry it starts from against the `.log` anyway.
 */
const TIME_ENTRY_BYTES = 12;

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

function ioError(message: string, file: string, cause: unknown): LogIOError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new LogIOError(`${message} ${file}${detail}`, { file, cause });
}

export class MemoryStorage implements IndexStorage {
  readonly kind = 'memory' as const;
  file: string;
  private bytes: Buffer = EMPTY;
  private view: DataView = new DataView(new ArrayBuffer(0));
  private len = 0;
  private ino = -1;
  private dev = -1;
  private found = false;

  private constructor(
    file: string,
    /** 8 (offset index: int32 key) or 12 (time index: int64 key). */
    private readonly entrySize: number,
    /** False: hold the whole file as it is (every byte; `length` is the file's length). */
    private readonly entriesOnly: boolean,
  ) {
    this.file = file;
  }

  /**
   * The entries of `file` (none when it does not exist; see `exists`); with `entriesOnly` false,
   * every byte of it, unchecked (a sanity check of the file as it is).
   */
  static load(file: string, entrySize: number, entriesOnly: boolean): MemoryStorage {
    const storage = new MemoryStorage(file, entrySize, entriesOnly);
    storage.reload();
    return storage;
  }

  /** Entries built elsewhere (`bytes` is taken over, not copied); `refresh` never reads a file. */
  static fromBytes(file: string, entrySize: number, bytes: Buffer): MemoryStorage {
    const storage = new MemoryStorage(file, entrySize, true);
    storage.setBytes(bytes, bytes.length - (bytes.length % entrySize));
    storage.found = true;
    return storage;
  }

  /** Bytes held: a whole number of entries (with `entriesOnly`), or the file's length. */
  get length(): number {
    return this.len;
  }

  /** True when the file existed at the last load (or the entries were handed in). */
  get exists(): boolean {
    return this.found;
  }

  int32(pos: number): number {
    return this.view.getInt32(pos);
  }

  int64(pos: number): number {
    const view = this.view;
    return readViewInt64(view, pos);
  }

  /**
   * Take in the writer's changes: the new entries after the last one held when the path still
   * names the same file and that entry is unchanged; otherwise everything again. A file that
   * disappeared (renamed or deleted by the writer) keeps the entries held. Returns whether the
   * entries changed.
   */
  refresh(): boolean {
    if (this.ino < 0 && this.found) return false; // built from the log: no file behind it
    const fd = this.openFile();
    if (fd < 0) return false;
    try {
      const stat = fs.fstatSync(fd);
      if (!this.entriesOnly) {
        this.readWhole(fd, stat);
        return true;
      }
      if (stat.ino !== this.ino || stat.dev !== this.dev || stat.size < this.len || !this.lastEntryStillThere(fd)) {
        this.readEntries(fd, stat, 0);
        return true;
      }
      const before = this.len;
      this.readEntries(fd, stat, this.len);
      return this.len !== before;
    } catch (err) {
      throw err instanceof LogIOError ? err : ioError('cannot read index file', this.file, err);
    } finally {
      closeDescriptor(fd);
    }
  }

  private reload(): void {
    const fd = this.openFile();
    if (fd < 0) {
      this.found = false;
      this.setBytes(EMPTY, 0);
      return;
    }
    try {
      const stat = fs.fstatSync(fd);
      if (this.entriesOnly) this.readEntries(fd, stat, 0);
      else this.readWhole(fd, stat);
    } catch (err) {
      throw err instanceof LogIOError ? err : ioError('cannot read index file', this.file, err);
    } finally {
      closeDescriptor(fd);
    }
  }

  /** A read-only descriptor of the file, or -1 when it does not exist. */
  private openFile(): number {
    try {
      return fs.openSync(this.file, fs.constants.O_RDONLY);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return -1;
      throw ioError('cannot open index file', this.file, err);
    }
  }

  private lastEntryStillThere(fd: number): boolean {
    const size = this.entrySize;
    if (this.len === 0) return true;
    const at = this.len - size;
    const probe = Buffer.allocUnsafe(size);
    if (fs.readSync(fd, probe, 0, size, at) < size) return false;
    return probe.equals(this.bytes.subarray(at, at + size));
  }

  /**
   * Reads entries from byte `from` (a whole number of entries already held and checked) up to the
   * first slot that does not continue them, or the end of the file.
   */
  private readEntries(fd: number, stat: fs.Stats, from: number): void {
    const size = this.entrySize;
    const fileEnd = stat.size - (stat.size % size);
    let buf = from === 0 ? EMPTY : this.bytes;
    let end = from;
    // A refresh usually finds a few new entries: start small, double while the entries go on.
    let chunk = from === 0 ? READ_CHUNK : TAIL_CHUNK;
    while (end < fileEnd) {
      const want = Math.min(chunk - (chunk % size), fileEnd - end);
      chunk = Math.min(chunk * 2, READ_CHUNK);
      if (buf.length < end + want) buf = grow(buf, end, Math.max(end + want, Math.min(fileEnd, buf.length * 2)));
      const got = readFully(fd, buf, end, want);
      const whole = got - (got % size);
      const valid = validEntries(buf, end, end + whole, size);
      end += valid;
      if (valid < want) break;
    }
    if (size === TIME_ENTRY_BYTES && end > from && end < fileEnd) end -= size;
    this.ino = stat.ino;
    this.dev = stat.dev;
    this.found = true;
    this.setBytes(buf, end);
  }

  private readWhole(fd: number, stat: fs.Stats): void {
    const buf = Buffer.allocUnsafe(stat.size);
    const got = readFully(fd, buf, 0, stat.size);
    this.ino = stat.ino;
    this.dev = stat.dev;
    this.found = true;
    this.setBytes(buf, got);
  }

  private setBytes(bytes: Buffer, len: number): void {
    this.bytes = bytes;
    this.len = len;
    this.view = new DataView(bytes.buffer as ArrayBuffer, bytes.byteOffset, len);
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

  release(): void {
    this.setBytes(EMPTY, 0);
  }
}

function grow(buf: Buffer, keep: number, capacity: number): Buffer {
  const bigger = Buffer.allocUnsafe(capacity);
  buf.copy(bigger, 0, 0, keep);
  return bigger;
}

function readFully(fd: number, into: Buffer, at: number, length: number): number {
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, into, at + got, length - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Bytes of [from, to) that continue the entries before `from`: each slot's key above the previous
 * one (the rule of `AbstractIndex`'s zero-tail detection, which also decides whether a lone
 * all-zero first slot is an entry). `to - from` when all do.
 */
function validEntries(buf: Buffer, from: number, to: number, entrySize: number): number {
  const wide = entrySize === 12;
  let at = from;
  let prevKey = at === 0 ? -Infinity : keyOf(buf, at - entrySize, wide);
  for (; at < to; at += entrySize) {
    const key = keyOf(buf, at, wide);
    if (key <= prevKey) break;
    prevKey = key;
  }
  return at - from;
}

function keyOf(buf: Buffer, at: number, wide: boolean): number {
  return wide ? readInt64(buf, at) : buf.readInt32BE(at);
}
