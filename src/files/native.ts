/**
 * seglog's Node-API addon (`native/*.c`): the one place that finds and loads it, and tells the
 * rest of seglog which of its pieces run here. Every piece has a fallback, so the addon is never
 * required:
 *
 * | piece | with the addon | without |
 * |---|---|---|
 * | CRC-32C of batches | CPU instructions (AVX-512, AVX2 with VPCLMULQDQ, SSE4.2 or ARMv8 CRC) | JS tables (`crc-32`) |
 * | space reserved ahead of segments | `fallocate(KEEP_SIZE)` | files grow as written |
 * | index files of a writer | shared memory mappings | positional reads and writes |
 * | zstd writing before Node 22.15 | the system's libzstd.so.1 | refused (reading works) |
 * | two reads of a read-only point read | copies from a mapping under a SIGBUS guard (Linux), else one call, two preads | two `fs.readSync` calls |
 * | memory of bulk reads (`read`, `readBatches`, `stream`) | 8 MiB slabs on transparent huge pages (Linux) | a buffer per read |
 * | recovery's record walk, batches of 8+ records | C (`native/records.c`) | the same walk in JS |
 * | a topic's batches of one append | written by the calling thread and a worker thread together (native/writes.c) | one `fs.writeSync` after another |
 * | the next segment's files | made unnamed on a thread of their own before the roll, named by it (Linux) | created by the roll |
 *
 * Where it is looked for, inside the package only (the node-gyp-build layout): first the binary
 * shipped in the package, `prebuilds/<platform>-<arch>/seglog_native.node` (built by
 * `npm run build:native`, never at a user's install), then a local `build/Release/` from
 * `node-gyp rebuild`. Node-API is ABI-stable, so one binary serves every Node.js version.
 *
 * `SEGLOG_NO_NATIVE=1` in the environment disables the addon: every fallback runs (CI runs the
 * whole suite that way).
 *
 * `SEGLOG_CRC32C=avx512|avx2|sse42|armv8|js`, read once when the addon loads, makes every CRC of
 * the process take that path instead of the fastest the CPU has (`js`: the JS tables, with the
 * rest of the addon still in use), so that benchmarks and tests can measure, on one machine, what
 * a CPU with fewer instructions would do. A path the CPU lacks is refused (`InvalidConfigError`),
 * never silently replaced.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { InvalidConfigError } from '../errors.js';

/** The CRC path the addon takes on this CPU; 'none' when it has none (then JS computes CRCs). */
export type CrcHardware = 'avx512' | 'avx2' | 'sse42' | 'armv8' | 'none';

/** What the addon exports (native/addon.c). */
export interface NativeAddon {
  readonly crcHardware: CrcHardware;
  /** CRC-32C of `buf[start, end)`, unsigned; throws where `crcHardware` is 'none'. */
  crc32c(buf: Uint8Array, start: number, end: number): number;
  /**
   * The same function on each path this CPU has, by name (`crcHardware`'s is one of them).
   * Absent from a binary built before it (a stale `prebuilds/`).
   */
  readonly crc32cPaths?: Readonly<Partial<Record<Exclude<CrcHardware, 'none'>, (buf: Uint8Array, start: number, end: number) => number>>>;
  /**
   * Shared mapping of the first `length` (> 0) bytes of `fd`, read-write or read-only. It counts
   * as V8 external memory while the ArrayBuffer lives (see native/files.c for why it must).
   */
  map(fd: number, length: number, writable: boolean): ArrayBuffer;
  /** munmap now; the ArrayBuffer is detached (length 0). A second call does nothing. */
  unmap(mapping: ArrayBuffer): void;
  /** msync(MS_SYNC) of `[offset, offset + length)` of a live mapping. */
  msync(mapping: ArrayBuffer, offset: number, length: number): void;
  /**
   * Fills `first` from the file at `firstPosition`, then `second` at `secondPosition`, in one call
   * (two preads); false when the file ended before either was full. Throws on a read error.
   * Absent from a binary built before it (a stale `prebuilds/`): callers fall back.
   */
  readTwo?(fd: number, first: Uint8Array, firstPosition: number, second: Uint8Array, secondPosition: number): boolean;
  /**
   * Linux: fills `first` from the mapped file at `firstPosition`, then `second` at
   * `secondPosition`, under a SIGBUS guard; false when a range lies outside the mapping or a page
   * of it past the file's end (a writer in another process cut it). Absent elsewhere and from a
   * binary built before it.
   */
  copyTwo?(mapping: ArrayBuffer, first: Uint8Array, firstPosition: number, second: Uint8Array, secondPosition: number): boolean;
  /**
   * True when the `count` records in `buf[start, end)` of an uncompressed batch fill it with
   * offset deltas strictly increasing within `[0, lastOffsetDelta]`, as `checkRecordOffsets`'s
   * loop decides; false when it does not, or cannot tell (native/records.c). Absent from a binary
   * built before it (a stale `prebuilds/`).
   */
  recordOffsetsHold?(buf: Uint8Array, start: number, end: number, count: number, lastOffsetDelta: number): boolean;
  /**
   * Linux: madvise(MADV_HUGEPAGE) on the 2 MiB pages inside the buffer's (untouched) memory;
   * returns its address modulo 4096, or -1 when nothing was advised. Absent from a stale binary.
   */
  adviseHugePages?(buffer: ArrayBuffer): number;
  /**
   * Linux: the address of the buffer's memory when it lies in the heap that brk grows (below the
   * program break), else -1. Absent from a stale binary.
   */
  heapAddress?(buffer: ArrayBuffer): number;
  /** Bound on zstdCompress's output for `size` bytes; throws where libzstd.so.1 is missing. */
  zstdCompressBound(size: number): number;
  /** One zstd frame of `src` into `dst` at `level`; returns its length (native/zstd.c). */
  zstdCompress(src: Uint8Array, dst: Uint8Array, level: number): number;
  /**
   * Linux only (native/prepare.c): unnamed files (O_TMPFILE) of `lengths` made in `dir` on a
   * thread of their own, `reserve` bytes of blocks reserved in the first; `takeFiles` gives null while
   * they are being made, the errno if that failed, else their descriptors (once); `dropFiles`
   * waits for them and closes what was not taken; `linkFile` names one (0 or the errno).
   */
  prepareFiles?(dir: string, lengths: number[], reserve: number): unknown;
  takeFiles?(handle: unknown): { fds: number[]; reserved: number } | number | null;
  dropFiles?(handle: unknown): void;
  linkFile?(fd: number, path: string): number;
  /** Closes a descriptor `takeFiles` gave (0 or the errno): see src/files/descriptors.ts. */
  closeFile?(fd: number): number;
  /**
   * Writes `buffers[i][0, lengths[i])` to `fds[i]` at `positions[i]` for each i < count, sharing
   * the writes with a worker thread (native/writes.c); `results[i]` gets the bytes written or
   * -errno. Returns the number of threads that wrote (1 or 2). Absent from a stale binary.
   */
  writeBatches?(fds: Int32Array, buffers: readonly Uint8Array[], lengths: Float64Array, positions: Float64Array, results: Float64Array, count: number): number;
  /**
   * Linux only (native/writes.c): the same writes handed to the worker one by one as the caller
   * makes them. `startWrites` takes the worker (false when it cannot be had), `queueWrite` adds a
   * write (false when 256 are queued), `finishWrites` writes what is left, waits for the worker
   * and fills `results`; it must be called before control returns to the event loop.
   */
  startWrites?(): boolean;
  queueWrite?(fd: number, buffer: Uint8Array, length: number, position: number): boolean;
  finishWrites?(results: Float64Array): number;
  /** Linux only: fallocate(FALLOC_FL_KEEP_SIZE); 0 or the errno. */
  fallocate?(fd: number, offset: number, length: number): number;
  /**
   * glibc only: keep freed heap memory for reuse instead of trimming it back to the kernel (a
   * process-wide malloc setting, so only for a process seglog owns: `seglog serve`); true when applied.
   */
  retainFreedMemory?(): boolean;
}

const ADDON_FILE = 'seglog_native.node';
const CHECK_INPUT = Buffer.from('123456789');
const CHECK_VALUE = 0xe3069283;

/** undefined: not tried yet; null: absent, disabled or broken here. */
let addon: NativeAddon | null | undefined;
let unavailableReason = '';

/** True when `SEGLOG_NO_NATIVE` asks for every fallback. */
export function nativeDisabled(): boolean {
  const value = process.env.SEGLOG_NO_NATIVE;
  return value !== undefined && value !== '' && value !== '0';
}

/** The package's root: the nearest directory above this module whose package.json names seglog. */
export function packageRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'seglog') return dir;
    } catch {
      // no package.json here (or unreadable): keep going up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Where the addon may be, most preferred first. */
export function addonCandidates(root: string): string[] {
  return [path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, ADDON_FILE), path.join(root, 'build', 'Release', ADDON_FILE)];
}

function isAddon(value: unknown): value is NativeAddon {
  const a = value as Partial<NativeAddon> | null;
  return (
    typeof a === 'object' && a !== null && typeof a.crcHardware === 'string' && typeof a.crc32c === 'function' &&
    typeof a.map === 'function' && typeof a.unmap === 'function' && typeof a.msync === 'function' &&
    typeof a.zstdCompress === 'function'
  );
}

function loadFile(): NativeAddon | null {
  if (nativeDisabled()) {
    unavailableReason = 'SEGLOG_NO_NATIVE is set';
    return null;
  }
  const root = packageRoot();
  const candidates = root === null ? [] : addonCandidates(root).filter((file) => fs.existsSync(file));
  if (candidates.length === 0) {
    unavailableReason = `no ${ADDON_FILE} for ${process.platform}-${process.arch} in the package`;
    return null;
  }
  const require = createRequire(import.meta.url);
  for (const file of candidates) {
    try {
      const loaded: unknown = require(file);
      // A CRC that disagrees with the check value would corrupt every batch: use none of it.
      if (isAddon(loaded) && (loaded.crcHardware === 'none' || loaded.crc32c(CHECK_INPUT, 0, CHECK_INPUT.length) === CHECK_VALUE)) {
        return loaded;
      }
      unavailableReason = `${file} failed its self-test`;
    } catch (err) {
      unavailableReason = `${file} does not load here (${(err as Error).message.split('\n')[0]})`;
    }
  }
  return null;
}

const CRC_PATHS = ['avx512', 'avx2', 'sse42', 'armv8', 'js'] as const;
/** A value of `SEGLOG_CRC32C`. */
export type CrcPathChoice = (typeof CRC_PATHS)[number];

/** `SEGLOG_CRC32C`, checked; undefined when unset or empty. */
export function crcPathAsked(): CrcPathChoice | undefined {
  const value = process.env.SEGLOG_CRC32C;
  if (value === undefined || value === '') return undefined;
  if (!(CRC_PATHS as readonly string[]).includes(value)) {
    throw new InvalidConfigError(`SEGLOG_CRC32C=${value}: expected one of ${CRC_PATHS.join(', ')}`);
  }
  return value as CrcPathChoice;
}

/** `loaded` with its CRC on the path `choice` names (unchanged when undefined); refuses a path it lacks. */
function withCrcPath(loaded: NativeAddon, choice: CrcPathChoice | undefined): NativeAddon {
  if (choice === undefined) return loaded;
  if (choice === 'js') return { ...loaded, crcHardware: 'none' };
  const crc32c = loaded.crc32cPaths?.[choice];
  if (crc32c === undefined || crc32c(CHECK_INPUT, 0, CHECK_INPUT.length) !== CHECK_VALUE) {
    const has = Object.keys(loaded.crc32cPaths ?? {}).join(', ') || 'none';
    throw new InvalidConfigError(`SEGLOG_CRC32C=${choice}: this CPU (or this build of the addon) has no such CRC path; it has: ${has}, js`);
  }
  return { ...loaded, crcHardware: choice, crc32c };
}

/** The addon with the CRC path `SEGLOG_CRC32C` asks for; throws when it is not available. */
function load(): NativeAddon | null {
  const choice = crcPathAsked();
  const loaded = loadFile();
  if (loaded !== null) return withCrcPath(loaded, choice);
  if (choice === undefined || choice === 'js') return null;
  throw new InvalidConfigError(`SEGLOG_CRC32C=${choice}: the addon is not loaded (${unavailableReason})`);
}

/** The addon, loaded on first use; null when it is absent, disabled or broken. */
export function nativeAddon(): NativeAddon | null {
  if (addon === undefined) addon = load();
  return addon;
}

/** Why `nativeAddon()` is null (empty while it is loaded). */
export function nativeUnavailableReason(): string {
  nativeAddon();
  return addon === null ? unavailableReason : '';
}

const noticesGiven = new Set<string>();

/**
 * Writes `message` to stderr as one line, the first time `key` is given in this process: a
 * fallback that makes seglog slower is said once, not per log or per file.
 */
export function noticeOnce(key: string, message: string): void {
  if (noticesGiven.has(key)) return;
  noticesGiven.add(key);
  process.stderr.write(`seglog: ${message}\n`);
}
