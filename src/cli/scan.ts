/**
 * A read-only scanner of segment files for the `seglog` command. Unlike `Log.open`, it never
 * refuses a directory (`listing.ts` says what is in one): it walks `.log` files batch by batch,
 * reports damage (bad framing, torn or zero-filled tails) with its byte position, and goes on at
 * the next valid batch when it can find one. It opens files with O_RDONLY only: no lock, no
 * write, no mmap, so it is safe next to a live writer in another process.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  CRC_COVERAGE_START,
  CURRENT_MAGIC,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORD_BATCH_OVERHEAD,
  readBatchSize,
  readCrc,
  readInt64,
} from '../record/batch-layout.js';
import { crc32c } from '../record/crc32c.js';
import { InputError } from './args.js';
import { VanishedFileError } from './listing.js';

// ---------------------------------------------------------------------------------------------
// Reading a `.log` file

/** Positional reads of one file into a reused buffer. */
export class FileWindow {
  readonly file: string;
  size: number;
  buf: Buffer;
  private fd: number;
  private start = 0;
  private length = 0;

  private constructor(file: string, fd: number, size: number, chunkBytes: number) {
    this.file = file;
    this.fd = fd;
    this.size = size;
    this.buf = Buffer.allocUnsafe(Math.max(4096, Math.min(chunkBytes, Math.max(size, 4096))));
  }

  /** @throws InputError when the file cannot be opened */
  static open(file: string, chunkBytes = 1 << 20): FileWindow {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new VanishedFileError(file);
      throw new InputError(`${file}: ${code ?? (err as Error).message}`);
    }
    return new FileWindow(file, fd, fs.fstatSync(fd).size, chunkBytes);
  }

  /**
   * Makes bytes [pos, pos + len) of the file available in `buf` and returns where they start in
   * it. The caller keeps `pos + len <= size`. Reads a whole chunk from `pos` on a miss.
   */
  at(pos: number, len: number): number {
    if (pos >= this.start && pos + len <= this.start + this.length) return pos - this.start;
    if (len > this.buf.length) this.buf = Buffer.allocUnsafe(len);
    const want = Math.min(this.buf.length, this.size - pos);
    let got = 0;
    while (got < want) {
      const n = fs.readSync(this.fd, this.buf, got, want - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    this.start = pos;
    this.length = got;
    if (got < len) {
      // The file shrank under us (a writer's recovery or retention); treat it as ending here.
      this.size = pos + got;
      this.length = got;
      return -1;
    }
    return 0;
  }

  /** Re-reads the file's length (to catch up with a live writer). */
  refreshSize(): number {
    this.size = fs.fstatSync(this.fd).size;
    return this.size;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export type DamageKind = 'framing' | 'torn' | 'zero-tail';

/** Bytes that are not a batch. */
export interface Damage {
  kind: DamageKind;
  /** Where the bad bytes start. */
  position: number;
  /** How many bytes were skipped (to the next valid batch or the end). */
  length: number;
  /** Where scanning went on, or null when nothing valid follows. */
  resumedAt: number | null;
  message: string;
}

export interface ScanVisitor {
  /**
   * A batch whose framing is sound (size >= 61, magic 2, inside the file): bytes [at, at + size)
   * of `buf` (only its 61 header bytes with `headersOnly`). Return false to stop the scan.
   */
  batch(buf: Buffer, at: number, position: number, size: number): boolean | void;
  damage(d: Damage): void;
}

export interface ScanResult {
  /** Position after the last byte examined. */
  end: number;
  /** True when `visitor.batch` stopped the scan. */
  stopped: boolean;
  /** Position of an incomplete batch at the end of the file (a torn or in-flight append), else null. */
  tornAt: number | null;
}

const ZEROS = Buffer.alloc(64 * 1024);

/**
 * Walks the batches of `win` from `from` to its end. Framing damage is reported and skipped to the
 * next position that holds a CRC-valid batch; the tail is reported as torn (an incomplete last
 * batch) or zero-filled (preallocated, or a crash that extended the file without writing it).
 * CRCs of the batches themselves are not checked here: the visitor does that when it wants to.
 * With `headersOnly` only each batch's header is read (batches far apart are not read whole).
 */
export function scanLog(win: FileWindow, visitor: ScanVisitor, from = 0, headersOnly = false): ScanResult {
  let pos = from;
  while (pos < win.size) {
    const remaining = win.size - pos;
    if (remaining < LOG_OVERHEAD + 5) return tail(win, visitor, pos, `${remaining} bytes at the end, too few for a batch`);
    let at = win.at(pos, LOG_OVERHEAD + 5);
    if (at < 0) break;
    const size = readBatchSize(win.buf, at);
    const magic = win.buf[at + MAGIC_OFFSET]!;
    if (size < RECORD_BATCH_OVERHEAD || magic !== CURRENT_MAGIC) {
      const why =
        magic !== CURRENT_MAGIC
          ? `magic byte ${magic}, not ${CURRENT_MAGIC}${magic === 0 || magic === 1 ? ' (message format v0/v1 is not supported)' : ''}`
          : `size ${size}, below the ${RECORD_BATCH_OVERHEAD}-byte minimum`;
      const next = damaged(win, visitor, pos, `not a record batch: ${why}`);
      if (next === null) return { end: win.size, stopped: false, tornAt: null };
      pos = next;
      continue;
    }
    if (size > remaining) {
      const next = resync(win, pos + 1);
      if (next === null) {
        visitor.damage({
          kind: 'torn',
          position: pos,
          length: remaining,
          resumedAt: null,
          message: `incomplete batch at the end: it declares ${size} bytes, ${remaining} are there`,
        });
        return { end: win.size, stopped: false, tornAt: pos };
      }
      visitor.damage({
        kind: 'framing',
        position: pos,
        length: next - pos,
        resumedAt: next,
        message: `batch size ${size} runs past the end of the file; skipped ${next - pos} bytes to the next valid batch at ${next}`,
      });
      pos = next;
      continue;
    }
    at = win.at(pos, headersOnly ? RECORD_BATCH_OVERHEAD : size);
    if (at < 0) break;
    if (visitor.batch(win.buf, at, pos, size) === false) return { end: pos + size, stopped: true, tornAt: null };
    pos += size;
  }
  return { end: pos, stopped: false, tornAt: null };
}

/** Reports the bytes from `pos` as zero-filled or torn; the scan ends there. */
function tail(win: FileWindow, visitor: ScanVisitor, pos: number, what: string): ScanResult {
  const length = win.size - pos;
  if (isZeroRange(win, pos, win.size)) {
    visitor.damage({ kind: 'zero-tail', position: pos, length, resumedAt: null, message: `${length} zero bytes at the end (preallocated or never written)` });
  } else {
    visitor.damage({ kind: 'torn', position: pos, length, resumedAt: null, message: what });
  }
  return { end: win.size, stopped: false, tornAt: pos };
}

/** Reports framing damage at `pos` and returns where the next valid batch starts, or null. */
function damaged(win: FileWindow, visitor: ScanVisitor, pos: number, what: string): number | null {
  if (isZeroRange(win, pos, win.size)) {
    const length = win.size - pos;
    visitor.damage({ kind: 'zero-tail', position: pos, length, resumedAt: null, message: `${length} zero bytes at the end (preallocated or never written)` });
    return null;
  }
  const next = resync(win, pos + 1);
  const length = (next ?? win.size) - pos;
  const after = next === null ? `no valid batch follows (${length} bytes to the end of the file)` : `skipped ${length} bytes to the next valid batch at ${next}`;
  visitor.damage({ kind: 'framing', position: pos, length, resumedAt: next, message: `${what}; ${after}` });
  return next;
}

function isZeroRange(win: FileWindow, from: number, to: number): boolean {
  for (let p = from; p < to; p += ZEROS.length) {
    const n = Math.min(ZEROS.length, to - p);
    const at = win.at(p, n);
    if (at < 0) return true;
    if (!win.buf.subarray(at, at + n).equals(ZEROS.subarray(0, n))) return false;
  }
  return true;
}

/**
 * The first position >= `from` where a batch with sound framing and a valid CRC starts, or null.
 * Candidates are found by their magic byte; the CRC makes a false match vanishingly unlikely.
 */
export function resync(win: FileWindow, from: number): number | null {
  const step = 1 << 20;
  for (let p = from; p + RECORD_BATCH_OVERHEAD <= win.size; ) {
    const n = Math.min(step, win.size - p);
    const at = win.at(p, n);
    if (at < 0) return null;
    // Copy the window's bytes: checking a candidate reads elsewhere in the file.
    const chunk = Buffer.from(win.buf.subarray(at, at + n));
    let i = chunk.indexOf(CURRENT_MAGIC, MAGIC_OFFSET);
    while (i >= 0) {
      const q = p + i - MAGIC_OFFSET;
      if (isBatchAt(win, q)) return q;
      i = chunk.indexOf(CURRENT_MAGIC, i + 1);
    }
    if (p + n >= win.size) return null;
    p += n - MAGIC_OFFSET;
  }
  return null;
}

function isBatchAt(win: FileWindow, q: number): boolean {
  if (q + RECORD_BATCH_OVERHEAD > win.size) return false;
  let at = win.at(q, RECORD_BATCH_OVERHEAD);
  if (at < 0) return false;
  const size = readBatchSize(win.buf, at);
  if (size < RECORD_BATCH_OVERHEAD || q + size > win.size || win.buf[at + MAGIC_OFFSET] !== CURRENT_MAGIC) return false;
  at = win.at(q, size);
  if (at < 0) return false;
  return readCrc(win.buf, at) === crc32c(win.buf, at + CRC_COVERAGE_START, at + size);
}

// ---------------------------------------------------------------------------------------------
// Index files, read raw (they may be damaged, untrimmed or preallocated)

export interface RawIndex {
  file: string;
  /** File length in bytes. */
  length: number;
  entrySize: number;
  /** Entries before the zero-filled tail. */
  entries: number;
  /** Zero-filled slots after the entries (preallocated, or untrimmed after a crash). */
  zeroSlots: number;
  /** Bytes after the last whole slot (length % entrySize). */
  remainder: number;
  buf: Buffer;
}

/** Reads an index file whole; null when it does not exist. */
export function readRawIndex(file: string | null, entrySize: number): RawIndex | null {
  if (file === null) return null;
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const slots = Math.floor(buf.length / entrySize);
  // The zero tail: trailing all-zero slots, found by comparing 64 KiB blocks from the end.
  let end = slots * entrySize;
  while (end > 0) {
    const blockStart = Math.max(0, end - ZEROS.length);
    if (!buf.subarray(blockStart, end).equals(ZEROS.subarray(0, end - blockStart))) break;
    end = blockStart;
  }
  let entries = Math.ceil(end / entrySize);
  while (entries > 0 && buf.subarray((entries - 1) * entrySize, entries * entrySize).equals(ZEROS.subarray(0, entrySize))) entries--;
  return { file, length: buf.length, entrySize, entries, zeroSlots: slots - entries, remainder: buf.length % entrySize, buf };
}

/** Offset-index entry n: absolute offset and position. */
export function offsetEntry(index: RawIndex, baseOffset: number, n: number): { offset: number; position: number } {
  return { offset: baseOffset + index.buf.readInt32BE(n * 8), position: index.buf.readInt32BE(n * 8 + 4) };
}

/** Time-index entry n: timestamp and absolute offset. */
export function timeEntry(index: RawIndex, baseOffset: number, n: number): { timestamp: number; offset: number } {
  const at = n * 12;
  const timestamp = readInt64(index.buf, at);
  return { timestamp, offset: baseOffset + index.buf.readInt32BE(at + 8) };
}

/** The file name without its directory, for short messages. */
export function baseName(file: string): string {
  return path.basename(file);
}
