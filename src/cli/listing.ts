/**
 * What a path on the `seglog` command line names: a partition directory (its segment files,
 * including those pending deletion and leftovers of interrupted rewrites) or one segment file,
 * and the directory's state (clean shutdown, checkpoints, a live writer). Read-only probes only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readCheckpoint, topicPartitionOf } from '../files/checkpoint.js';
import {
  CLEAN_SHUTDOWN_FILE,
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  INDEX_SUFFIX,
  LOCK_FILE,
  LOG_SUFFIX,
  SWAP_SUFFIX,
  TIME_INDEX_SUFFIX,
  TXN_INDEX_SUFFIX,
  filenamePrefixFromOffset,
  offsetFromFileName,
} from '../files/file-names.js';
import { InputError } from './args.js';

// ---------------------------------------------------------------------------------------------
// Directory listing

/** The files of one segment (paths joined to the directory as the user named it). */
export interface SegmentFiles {
  baseOffset: number;
  log: string | null;
  index: string | null;
  timeIndex: string | null;
  txnIndex: string | null;
  /** The files carry `.deleted`: the segment is waiting for its delayed deletion. */
  deleted: boolean;
  /** Length of the `.log` when listed. */
  logSize: number | null;
}

export interface PartitionListing {
  dir: string;
  /** Live segments, by base offset. */
  segments: SegmentFiles[];
  /** Segments renamed `.deleted`, by base offset. */
  deleted: SegmentFiles[];
  /** Index files with no `.log` beside them. */
  orphans: string[];
  /** `.cleaned` / `.swap` files left by an interrupted rewrite. */
  leftovers: string[];
}

const SEGMENT_SUFFIXES = [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX] as const;

/**
 * Lists the segment files of `dir`.
 * @throws InputError when `dir` is missing, not a directory, or holds no segment file
 */
export function listPartition(dir: string): PartitionListing {
  const stat = statOrThrow(dir);
  if (!stat.isDirectory()) throw new InputError(`${dir} is not a directory`);
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (err) {
    throw new InputError(`cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const live = new Map<number, SegmentFiles>();
  const deleted = new Map<number, SegmentFiles>();
  const leftovers: string[] = [];
  for (const name of names) {
    const base = offsetFromFileName(name);
    if (Number.isNaN(base)) continue;
    let rest = name.slice(20);
    let isDeleted = false;
    if (rest.endsWith(DELETED_SUFFIX)) {
      isDeleted = true;
      rest = rest.slice(0, -DELETED_SUFFIX.length);
    } else if (rest.endsWith(CLEANED_SUFFIX) || rest.endsWith(SWAP_SUFFIX)) {
      leftovers.push(path.join(dir, name));
      continue;
    }
    const suffix = SEGMENT_SUFFIXES.find((s) => s === rest);
    if (suffix === undefined) continue;
    const map = isDeleted ? deleted : live;
    let files = map.get(base);
    if (files === undefined) {
      files = { baseOffset: base, log: null, index: null, timeIndex: null, txnIndex: null, deleted: isDeleted, logSize: null };
      map.set(base, files);
    }
    const file = path.join(dir, name);
    if (suffix === LOG_SUFFIX) {
      files.log = file;
      files.logSize = sizeOf(file);
    }    else if (suffix === INDEX_SUFFIX) files.index = file;
    else if (suffix === TIME_INDEX_SUFFIX) files.timeIndex = file;
    else files.txnIndex = file;
  }
  const byBase = (a: SegmentFiles, b: SegmentFiles): number => a.baseOffset - b.baseOffset;
  const segments = [...live.values()].filter((s) => s.log !== null).sort(byBase);
  const orphans = [...live.values()]
    .filter((s) => s.log === null)
    .flatMap((s) => [s.index, s.timeIndex, s.txnIndex].filter((f): f is string => f !== null));
  const pending = [...deleted.values()].filter((s) => s.log !== null).sort(byBase);
  if (segments.length === 0 && pending.length === 0) throw new InputError(notAPartition(dir, names));
  return { dir, segments, deleted: pending, orphans, leftovers };
}

function sizeOf(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch {
    return null;
  }
}

export type SegmentFileType = 'log' | 'index' | 'timeindex';

/** The type of a segment file from its name (`N.log`, `N.index`, `N.timeindex`, also with `.deleted`/`.swap`/`.cleaned`), or null. */
export function segmentFileType(file: string): SegmentFileType | null {
  const name = path.basename(file).replace(/\.(deleted|swap|cleaned)$/, '');
  if (Number.isNaN(offsetFromFileName(name))) return null;
  const rest = name.slice(20);
  if (rest === LOG_SUFFIX) return 'log';
  if (rest === INDEX_SUFFIX) return 'index';
  if (rest === TIME_INDEX_SUFFIX) return 'timeindex';
  return null;
}

/** What a path on the command line names. */
export type Target =
  | { kind: 'dir'; listing: PartitionListing }
  | { kind: 'file'; type: SegmentFileType; file: string; segment: SegmentFiles; active: boolean };

/**
 * A partition directory, or one segment file (with the other files of its segment found beside it).
 * @throws InputError for a missing path or a file that is not a segment file
 */
export function resolveTarget(target: string): Target {
  const stat = statOrThrow(target);
  if (stat.isDirectory()) return { kind: 'dir', listing: listPartition(target) };
  const type = segmentFileType(target);
  if (type === null || !stat.isFile()) throw new InputError(notASegmentFile(target));
  const dir = path.dirname(target);
  const name = path.basename(target);
  const base = offsetFromFileName(name);
  const extra = /\.(deleted|swap|cleaned)$/.exec(name)?.[0] ?? '';
  const prefix = name.slice(0, 20);
  const sibling = (suffix: string): string | null => {
    const f = path.join(dir, prefix + suffix + extra);
    return fs.existsSync(f) ? f : null;
  };
  const log = sibling(LOG_SUFFIX);
  const segment: SegmentFiles = {
    baseOffset: base,
    log,
    index: sibling(INDEX_SUFFIX),
    timeIndex: sibling(TIME_INDEX_SUFFIX),
    txnIndex: sibling(TXN_INDEX_SUFFIX),
    deleted: extra === DELETED_SUFFIX,
    logSize: log === null ? null : sizeOf(log),
  };
  let active = extra === '';
  if (active) {
    try {
      active = !fs.readdirSync(dir).some((n) => n.endsWith(LOG_SUFFIX) && n.length === 24 && offsetFromFileName(n) > base);
    } catch {
      active = false;
    }
  }
  return { kind: 'file', type, file: target, segment, active };
}

export function notASegmentFile(file: string): string {
  return `${file} is not a segment file: expected a partition directory or a file named like 00000000000000000000.log, .index or .timeindex`;
}

function notAPartition(dir: string, names: string[]): string {
  const partitions = names.filter((n) => {
    try {
      return fs.statSync(path.join(dir, n)).isDirectory() && fs.readdirSync(path.join(dir, n)).some((f) => f.endsWith(LOG_SUFFIX));
    } catch {
      return false;
    }
  });
  if (partitions.length > 0) {
    const shown = partitions.slice(0, 5).join(', ') + (partitions.length > 5 ? ', ...' : '');
    return `${dir} is not a partition directory but holds ${partitions.length} of them (${shown}): name one, e.g. ${path.join(dir, partitions[0]!)}`;
  }
  return `${dir} is not a partition directory: it has no segment files (00000000000000000000.log, ...)`;
}

// ---------------------------------------------------------------------------------------------
// Listings a live writer changes

/**
 * A segment file listed a moment ago is gone: a writer next to the command deleted it (retention,
 * truncation) or renamed it away (a cleaner's swap, `.deleted`). Commands on a directory list it
 * again (`onSteadyListing`); on one named file it is the user's error as any missing path is.
 */
export class VanishedFileError extends InputError {
  constructor(readonly file: string) {
    super(`${file}: no such file or directory`);
  }

  /** The base offset of the segment the file belonged to. */
  get baseOffset(): number {
    return offsetFromFileName(path.basename(this.file));
  }
}

/** Blocks this thread for `ms` (the CLI is synchronous; a live writer gets time to finish a step). */
export function sleep(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * How long a segment that showed problems is left before its files are compared with what they
 * were: a cleaner's swap renames files in over several of the writer's turns.
 */
const SETTLE_MS = 10;

/** How many times one base offset is read before a writer's changes to it count as the answer. */
const SEGMENT_ATTEMPTS = 5;

/** Test hook: runs before each read of a segment by `visitLiveSegments` (a test renames files there). */
export const listingHooks: { beforeVisit: ((seg: SegmentFiles, attempt: number) => void) | null } = { beforeVisit: null };

/**
 * The segment's files, each with its inode, length and modification time, or '' for a file the
 * listing did not find. A file that appears later shows the listing was out of date: a swap
 * renames files in one at a time, and `readdir` next to a writer that creates files is no
 * snapshot (a new segment's `.log` can be listed while an older segment's `.index`, created just
 * before it, is not).
 */
function identitiesOf(seg: SegmentFiles, dir: string): Map<string, string> {
  const ids = new Map<string, string>();
  const prefix = path.join(dir, filenamePrefixFromOffset(seg.baseOffset));
  const listed = [seg.log, seg.index, seg.timeIndex, seg.txnIndex];
  SEGMENT_SUFFIXES.forEach((suffix, i) => ids.set(prefix + suffix, listed[i] === null ? '' : identityOf(prefix + suffix)));
  return ids;
}

function identityOf(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return '';
  }
}

/**
 * True while every file of `ids` is still there, the same file (a swap renames another file onto
 * the name) and unwritten (a roll trims the indexes of the segment it seals just after the new
 * segment appears, so a listing between the two sees untrimmed indexes on a sealed segment).
 */
function identitiesHold(ids: Map<string, string>): boolean {
  for (const [file, id] of ids) if (identityOf(file) !== id) return false;
  return true;
}

/**
 * Reads the live segments of `listing` in order, as a reader next to a live writer must: a
 * segment whose files vanished when their turn came (`VanishedFileError`: retention deleted them,
 * a cleaner swapped them away), or that showed problems while its files were replaced or written
 * under the read (a swap renames the new `.log` and indexes in one at a time; a roll trims the
 * sealed segment's indexes), is not a problem of the directory. The directory is then listed again and the walk goes on from that base offset. The
 * problems `visit` reports go to `sink` only for the read that stands.
 */
export function visitLiveSegments<T, P>(
  listing: PartitionListing,
  visit: (seg: SegmentFiles, active: boolean, sink: (p: P) => void) => T,
  accept: (seg: SegmentFiles, active: boolean, result: T) => void,
  sink: (p: P) => void,
): void {
  let segments = listing.segments;
  let attempt = 1;
  for (let i = 0; i < segments.length; ) {
    const seg = segments[i]!;
    const active = i === segments.length - 1;
    const ids = identitiesOf(seg, listing.dir);
    listingHooks.beforeVisit?.(seg, attempt);
    const problems: P[] = [];
    let result: { value: T } | null = null;
    try {
      result = { value: visit(seg, active, (p) => problems.push(p)) };
    } catch (err) {
      if (!(err instanceof VanishedFileError) || attempt >= SEGMENT_ATTEMPTS) throw err;
    }
    if (problems.length > 0) sleep(SETTLE_MS);
    const moved = result === null || (problems.length > 0 && !identitiesHold(ids));
    if (moved && attempt < SEGMENT_ATTEMPTS) {
      segments = listPartition(listing.dir).segments;
      i = segments.findIndex((s) => s.baseOffset >= seg.baseOffset);
      if (i < 0) return;
      // The segment is gone (retention took it): the walk moved on. Still there: it is read again.
      attempt = segments[i]!.baseOffset > seg.baseOffset ? 1 : attempt + 1;
      continue;
    }
    for (const p of problems) sink(p);
    accept(seg, active, result!.value);
    attempt = 1;
    i++;
  }
}

export function statOrThrow(file: string): fs.Stats {
  try {
    return fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${file}: no such file or directory`);
    if (code === 'EACCES') throw new InputError(`${file}: permission denied`);
    throw new InputError(`${file}: ${code ?? (err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Partition state (read-only probes)

export interface PartitionState {
  /** True/false from the clean-shutdown mark (in the directory for seglog, its parent for Kafka). */
  cleanShutdown: boolean;
  /** From `recovery-point-offset-checkpoint` (directory or parent), or null. */
  recoveryPoint: number | null;
  /** From `log-start-offset-checkpoint` (directory or parent), or null. */
  logStartCheckpoint: number | null;
  /** A live writer holds the directory's lock (seen in /proc/locks; false where that cannot be seen). */
  writerLive: boolean;
  /** Its process id, when the kernel shows it. */
  writerPid: number | null;
}

export function partitionState(dir: string): PartitionState {
  const parent = path.dirname(path.resolve(dir));
  const tp = topicPartitionOf(dir);
  const clean = fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE)) || fs.existsSync(path.join(parent, CLEAN_SHUTDOWN_FILE));
  const holder = lockHolder(path.join(dir, LOCK_FILE));
  const checkpoint = (name: string): number | null => readCheckpoint(path.join(dir, name), tp) ?? readCheckpoint(path.join(parent, name), tp);
  return {
    cleanShutdown: clean,
    recoveryPoint: checkpoint('recovery-point-offset-checkpoint'),
    logStartCheckpoint: checkpoint('log-start-offset-checkpoint'),
    writerLive: holder !== null,
    writerPid: holder !== null && holder > 0 ? holder : null,
  };
}

/**
 * Whether a process holds a lock on `lockFile` (seglog's writer lock), read from /proc/locks
 * (Linux) without touching the lock: taking it, even briefly, could make a writer's open fail.
 * Returns the holder's pid when the kernel shows it (flock and POSIX locks), -1 for an
 * open-file-description lock (no pid), or null when there is no lock or no way to tell.
 */
function lockHolder(lockFile: string): number | null {
  let stat: fs.Stats;
  let locks: string;
  try {
    stat = fs.statSync(lockFile);
    locks = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return null;
  }
  const dev = stat.dev;
  const major = ((dev >> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >> 12) & ~0xff);
  for (const line of locks.split('\n')) {
    // "1: OFDLCK ADVISORY  WRITE -1 fe:00:2155088 0 EOF" (also FLOCK, POSIX; "->" marks waiters)
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[1] === '->') continue;
    const [maj, min, inode] = f[5]!.split(':');
    if (inode === undefined || Number(inode) !== stat.ino) continue;
    if (parseInt(maj!, 16) !== major || parseInt(min!, 16) !== minor) continue;
    const pid = Number(f[4]);
    return Number.isInteger(pid) && pid > 0 ? pid : -1;
  }
  return null;
}
