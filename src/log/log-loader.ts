import fs from 'node:fs';
import path from 'node:path';
import { CorruptIndexError, CorruptRecordError, InvalidArgumentError, LogIOError } from '../errors.js';
import { OFFSET_INDEX_ENTRY_SIZE, TIME_INDEX_ENTRY_SIZE, checkOffsetIndex, checkTimeIndex, type IndexEntries } from '../index/index-check.js';
import { readInt64 } from '../record/batch-layout.js';
import { BatchCursor, VALIDATING_CHUNK_BYTES } from '../segment/batch-cursor.js';
import {
  ACTIVE_SEGMENT_CHECKPOINT,
  CLEANER_OFFSET_CHECKPOINT,
  CLEAN_SHUTDOWN_FILE,
  CONSUMER_OFFSETS_FILE,
  CONSUMER_OFFSETS_LOCK,
  DELETED_SUFFIX,
  LOCK_FILE,
  LOG_SUFFIX,
  TMP_SUFFIX,
  isIndexFile,
  isLogFile,
  logFile,
  offsetFromFileName,
  offsetIndexFile,
  timeIndexFile,
} from '../files/file-names.js';
import { LogSegment, type SegmentOptions } from '../segment/log-segment.js';
import { LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT, fsyncDirectory } from '../files/checkpoint.js';
import { LogSegments } from '../segment/log-segments.js';
import { symlinkRefused } from '../files/no-follow.js';
import { completePendingTruncation } from './truncation-intent.js';
import { readActiveSegmentCheckpoint } from './active-segment-checkpoint.js';
import {
  completeSwaps,
  isGone,
  isSegmentFileName,
  readOnlySegmentFiles,
  removeUnfinishedRewrites,
  type SegmentFile,
  type SwapRecoveryActions,
} from './swap-recovery.js';

/** A read-only open lists the directory again this many times when a listed file vanished under it. */
const READ_ONLY_LIST_ATTEMPTS = 20;

/** Files the writer keeps in a partition directory besides the segments; a leftover `<name>.tmp` of one is removed at open. */
const OWN_FILES = new Set([RECOVERY_POINT_CHECKPOINT, LOG_START_OFFSET_CHECKPOINT, CLEANER_OFFSET_CHECKPOINT, CLEAN_SHUTDOWN_FILE, LOCK_FILE, ACTIVE_SEGMENT_CHECKPOINT]);
/**
 * Other names seglog puts there (the consumers' offsets, which readers may write while the writer
 * opens, so their temporaries are theirs to manage): known, never touched by the loader.
 */
const KNOWN_FILES = new Set([CONSUMER_OFFSETS_FILE, CONSUMER_OFFSETS_LOCK, CONSUMER_OFFSETS_FILE + TMP_SUFFIX]);

/** One thing the loader repaired or removed, for the recovery report. */
export interface RecoveryAction {
  /** The file concerned (for segment-wide actions, the segment's `.log`). */
  file: string;
  action: 'deleted-leftover' | 'completed-swap' | 'deleted-orphan-index' | 'rebuilt-indexes' | 'truncated' | 'deleted-after-corruption' | 'deleted-below-start' | 'completed-truncation';
  /** For `truncated`: the byte position the `.log` was cut at (its new length). */
  position?: number;
  /** For `truncated`: the segment's next offset after the cut (the first offset lost, if any was). */
  offset?: number;
  /** Why, in words. */
  detail?: string;
}

/** What `Log.open` found and did. */
export interface RecoveryReport {
  /** False when the last writer did not close the log (a crash): segments past the recovery point were checked. */
  cleanShutdown: boolean;
  /** The checkpointed recovery point the open started from (every segment from the one holding it was checked after a crash). */
  recoveryPoint: number;
  /** Segments whose batches were validated and whose indexes were rebuilt. */
  segmentsRecovered: number;
  /** Bytes of invalid or torn data cut from the end of the log. */
  truncatedBytes: number;
  actions: RecoveryAction[];
  /**
   * Writable clean opens with an active segment: `'record'` when the last close's record of the
   * active segment's check was trusted (no header walked), `'walk'` when its batch headers were
   * walked, for `activeSegmentWalkReason`. Absent otherwise.
   */
  activeSegmentCheck?: 'record' | 'walk';
  /** Why the record was not trusted, when `activeSegmentCheck` is `'walk'`. */
  activeSegmentWalkReason?: string;
}

export interface LoadParams {
  dir: string;
  writable: boolean;
  cleanShutdown: boolean;
  recoveryPoint: number;
  logStartOffset: number;
  segmentOptions: (baseOffset: number) => SegmentOptions;
}

export interface LoadedLog {
  segments: LogSegments;
  logStartOffset: number;
  recoveryPoint: number;
  report: RecoveryReport;
}

/**
 * Opens a partition directory, following Kafka's LogLoader:
 *
 * 1. Leftovers of interrupted operations (writable opens only): `*.deleted` and `*.cleaned` files
 *    are removed; a `*.swap` file at or above the lowest `.cleaned` base offset belongs to an
 *    unfinished split and is removed; the other `.swap` files are completed: every segment file
 *    whose base offset lies in [lowest swap base offset, highest swap next offset) is deleted and
 *    the `.swap` suffix is dropped. Temporary checkpoint files (`*.tmp`) and index files without a
 *    `.log` are removed.
 * 2. Every `.log` is opened. Its indexes are not (Kafka's lazy indexes) but they get a cheap sanity
 *    check: present, length a whole number of entries, first entry before the last, last entry
 *    inside the `.log` and below the next segment's base offset. A segment whose index fails is
 *    rebuilt from its `.log` (`rebuilt-indexes`); an index is never trusted on its word, nor fatal.
 *    Segments from the recovery point on skip the check after a crash: they are rebuilt anyway.
 * 3. After an unclean shutdown, every segment from the one holding the recovery point on is
 *    recovered: each batch's framing, magic, CRC and offsets are checked, indexes rebuilt, the
 *    `.log` cut at the first invalid byte; the segments after a cut are deleted.
 *    After a clean one, the active segment's batch headers are still walked (unless the last close
 *    recorded that walk and nothing changed the files since): if they break a rule or do not end
 *    on a whole batch, that segment is recovered too.
 *
 * Only seglog's own files are touched: names made of a 20-digit base offset and a segment suffix,
 * and the checkpoint, clean-shutdown and lock files. Anything else is left alone (see
 * `checkPartitionDirectory` for the one case that is refused). A read-only load changes nothing on
 * disk and recovers nothing.
 */
export class LogLoader {
  private readonly report: RecoveryReport;
  private recoveryChunk: Buffer | null = null;
  private directoryChanged = false;
  private readonly recovered = new Set<LogSegment>();

  constructor(private readonly params: LoadParams) {
    this.report = {
      cleanShutdown: params.cleanShutdown,
      recoveryPoint: params.recoveryPoint,
      segmentsRecovered: 0,
      truncatedBytes: 0,
      actions: [],
    };
  }

  load(): LoadedLog {
    const { params } = this;
    const segments = params.writable ? this.openSegments(writableSegmentFiles(this.removeLeftovers())) : this.openReadOnly();
    if (params.writable && !params.cleanShutdown) this.recoverFrom(segments, params.recoveryPoint);
    if (params.writable && params.cleanShutdown) this.checkActiveTail(segments);
    let logStartOffset = params.logStartOffset;
    const first = segments.firstSegment;
    if (first !== undefined) logStartOffset = Math.max(logStartOffset, first.baseOffset);
    if (params.writable) logStartOffset = this.dropIfAllBelowStart(segments, logStartOffset);
    if (segments.count === 0 && params.writable) {
      segments.add(LogSegment.create(params.dir, logStartOffset, params.segmentOptions(logStartOffset)));
      this.directoryChanged = true;
    }
    // A recovered segment that is not the active one gets its indexes trimmed, as a roll would.
    const active = segments.count === 0 ? undefined : segments.activeSegment;
    for (const segment of this.recovered) if (segment !== active) segment.onBecomeInactiveSegment();
    if (params.writable && this.directoryChanged) fsyncDirectory(params.dir);
    const end = this.endOffsetOf(segments, logStartOffset);
    // Kafka: the recovery point moves only with a flush; recovery itself does not advance it.
    const recoveryPoint = params.cleanShutdown ? end : Math.min(params.recoveryPoint, end);
    return { segments, logStartOffset, recoveryPoint, report: this.report };
  }

  private endOffsetOf(segments: LogSegments, fallback: number): number {
    if (segments.count === 0) return fallback;
    const active = segments.activeSegment;
    return active.readNextOffset(new BatchCursor(active.log));
  }

  // -------------------------------------------------------------------------------------------
  // Step 1: leftovers of interrupted operations.

  /** Returns the regular files of the directory after the clean-up. */
  private removeLeftovers(): string[] {
    const dir = this.params.dir;
    let names = listFiles(dir);
    // A `truncateTo` cut short by a crash is finished first (see src/retention/truncation.ts).
    completePendingTruncation(dir, names, (file, detail) => {
      this.directoryChanged = true;
      this.report.actions.push({ file, action: 'completed-truncation', detail });
    });
    if (this.directoryChanged) names = listFiles(dir);
    const actions: SwapRecoveryActions = {
      remove: (name, detail) => this.remove(name, 'deleted-leftover', detail),
      completed: (name, target) => {
        this.directoryChanged = true;
        this.report.actions.push({ file: target, action: 'completed-swap', detail: `renamed from ${name}` });
      },
    };
    // The cleaner's unfinished output first (see swap-recovery.ts), then the other leftovers.
    names = removeUnfinishedRewrites(names, actions);
    for (const name of names) {
      if (!isSegmentFileName(name) && !isOwnTemporary(name)) continue;
      if (name.endsWith(DELETED_SUFFIX)) this.remove(name, 'deleted-leftover', 'segment file scheduled for deletion');
      else if (name.endsWith(TMP_SUFFIX)) this.remove(name, 'deleted-leftover', 'unfinished write of a temporary file');
    }
    // Listing again only after a change: a clean open of a large log lists its directory once.
    if (this.directoryChanged) names = listFiles(dir);
    if (completeSwaps(dir, names, actions)) names = listFiles(dir);
    const logs = new Set(names.filter(isLogFile).map(offsetFromFileName));
    let orphans = false;
    for (const name of names) {
      if (isIndexFile(name) && !logs.has(offsetFromFileName(name))) {
        this.remove(name, 'deleted-orphan-index', 'no .log for this index');
        orphans = true;
      }
    }
    return orphans ? listFiles(dir) : names;
  }

  // -------------------------------------------------------------------------------------------
  // Step 2: open the segments, sanity-check their indexes.

  /**
   * A read-only opener next to a live writer: the writer may rename or delete a file between our
   * listing and our open (a retention pass, a cleaner swap). Such a listing is stale, not an
   * error: list again and open what is there then.
   */
  private openReadOnly(): LogSegments {
    for (let attempt = 0; ; attempt++) {
      try {
        return this.openSegments(readOnlySegmentFiles(this.params.dir, listFiles(this.params.dir)));
      } catch (err) {
        if (!isGone(err) || attempt >= READ_ONLY_LIST_ATTEMPTS) throw err;
      }
    }
  }

  private openSegments(files: SegmentFile[]): LogSegments {
    const { dir, writable, cleanShutdown, recoveryPoint } = this.params;
    const segments = new LogSegments();
    const logs: LogSegment[] = [];
    try {
      for (const f of files) logs.push(LogSegment.open(dir, f.baseOffset, this.params.segmentOptions(f.baseOffset), f.suffix));
    } catch (err) {
      for (const segment of logs) segment.closeHandlers();
      throw err;
    }
    // After a crash, segments from the one holding the recovery point on are rebuilt anyway.
    let firstUnflushed = logs.length;
    if (!cleanShutdown) {
      firstUnflushed = 0;
      while (firstUnflushed + 1 < logs.length && logs[firstUnflushed + 1]!.baseOffset <= recoveryPoint) firstUnflushed++;
    }
    const scratch = Buffer.alloc(32);
    for (let i = 0; i < logs.length; i++) {
      const segment = logs[i]!;
      if (writable && i < firstUnflushed) {
        const problem = indexProblem(segment, logs[i + 1]?.baseOffset, scratch);
        if (problem !== null) this.recoverSegment(segment, problem);
      }
      segments.add(segment);
    }
    return segments;
  }

  // -------------------------------------------------------------------------------------------
  // Step 3: recovery.

  private recoverFrom(segments: LogSegments, recoveryPoint: number): void {
    const list = segments.values();
    const startIndex = Math.max(0, segments.floorIndex(recoveryPoint));
    for (let i = startIndex; i < list.length; i++) {
      const truncated = this.recoverSegment(list[i]!, 'unclean shutdown: at or after the recovery point');
      if (truncated > 0) {
        for (const later of list.slice(i + 1)) {
          this.deleteSegment(segments, later, 'deleted-after-corruption', `after the cut in ${list[i]!.log.file}`);
        }
        return;
      }
    }
  }

  /**
   * After a clean shutdown the active segment's batch headers are walked from its first batch
   * (the end offset is found that way too): appends go after what is there, so it must keep the
   * offset rules all through (a batch replayed at its end, a base offset rewritten anywhere in
   * it), end exactly at the end of the file (a clean close never leaves a torn tail), and the
   * offset index's last entry must name one of its batches. Otherwise the segment is recovered,
   * which cuts it at the first damage as after a crash. The walk reads headers only (through the
   * writer's mapping), and the reads of this segment then start from it (see `BatchChain`).
   * Not when the last close recorded that check and the segment's `.log` and offset index are
   * still the files it describes (src/log/active-segment-checkpoint.ts): nothing changed them.
   */
  private checkActiveTail(segments: LogSegments): void {
    if (segments.count === 0) return;
    const active = segments.activeSegment;
    if (this.recovered.has(active)) return;
    const recorded = readActiveSegmentCheckpoint(this.params.dir, active);
    if (typeof recorded !== 'string') {
      this.report.activeSegmentCheck = 'record';
      active.chainChecked(recorded.end, recorded.lastOffset);
      return;
    }
    this.report.activeSegmentCheck = 'walk';
    this.report.activeSegmentWalkReason = recorded;
    const problem = walkActive(active);
    if (problem !== null) {
      active.invalidate();
      this.recoverSegment(active, problem);
    }
  }

  private recoverSegment(segment: LogSegment, why: string): number {
    this.recoveryChunk ??= Buffer.allocUnsafe(VALIDATING_CHUNK_BYTES);
    const sizeBefore = segment.log.size;
    const result = segment.recover(new BatchCursor(segment.log, this.recoveryChunk));
    this.recovered.add(segment);
    this.report.segmentsRecovered++;
    this.report.actions.push({ file: segment.log.file, action: 'rebuilt-indexes', detail: why });
    if (result.truncatedBytes > 0) {
      const position = sizeBefore - result.truncatedBytes;
      this.report.truncatedBytes += result.truncatedBytes;
      this.report.actions.push({
        file: segment.log.file,
        action: 'truncated',
        position,
        offset: segment.readNextOffset(new BatchCursor(segment.log)),
        detail: `cut ${result.truncatedBytes} bytes at position ${position}: ${result.reason ?? 'invalid data'}`,
      });
    }
    return result.truncatedBytes;
  }

  /** Kafka: when the whole log ends below the checkpointed start offset, nothing in it is kept. */
  private dropIfAllBelowStart(segments: LogSegments, logStartOffset: number): number {
    if (segments.count === 0) return logStartOffset;
    const end = this.endOffsetOf(segments, logStartOffset);
    if (end >= logStartOffset) return logStartOffset;
    for (const segment of segments.values()) {
      this.deleteSegment(segments, segment, 'deleted-below-start', `the log ends at ${end}, below the log start offset ${logStartOffset}`);
    }
    return logStartOffset;
  }

  private deleteSegment(segments: LogSegments, segment: LogSegment, action: RecoveryAction['action'], detail: string): void {
    const files = [segment.log.file, ...siblingIndexFiles(segment)];
    segment.closeHandlers();
    for (const file of files) fs.rmSync(file, { force: true });
    segments.remove(segment.baseOffset);
    this.recovered.delete(segment);
    this.directoryChanged = true;
    this.report.actions.push({ file: logFile(this.params.dir, segment.baseOffset), action, detail });
  }

  private remove(name: string, action: RecoveryAction['action'], detail: string): void {
    const file = path.join(this.params.dir, name);
    try {
      fs.rmSync(file, { force: true });
    } catch (cause) {
      throw new LogIOError(`cannot remove ${file}: ${(cause as Error).message}`, { file, cause });
    }
    this.directoryChanged = true;
    this.report.actions.push({ file, action, detail });
  }
}

/**
 * The cheap index check of a segment at open: the rules of `src/index/index-check.ts` applied to
 * the first and last entries only (both files present, whole entries, offsets from the base offset
 * and below the next segment's, first entry before the last, last position inside the `.log`).
 * Costs an open, an fstat and two small preads per index file, with no mapping, so a clean open of
 * 1,000 segments stays in the tens of milliseconds; the full scan of every entry is what recovery
 * does. Returns what is wrong, or null.
 */
function indexProblem(segment: LogSegment, nextBaseOffset: number | undefined, scratch: Buffer): string | null {
  const { dir, baseOffset } = segment;
  const bounds = { baseOffset, logSize: segment.log.size, nextBaseOffset };
  try {
    const offsetFile = offsetIndexFile(dir, baseOffset);
    const offsets = readEnds(offsetFile, OFFSET_INDEX_ENTRY_SIZE, scratch);
    checkOffsetIndex(offsetFile, offsets.length, bounds, ends(offsets.entries, (at) => ({ offset: baseOffset + scratch.readInt32BE(at), position: scratch.readInt32BE(at + 4) })), false);
    const timeFile = timeIndexFile(dir, baseOffset);
    const times = readEnds(timeFile, TIME_INDEX_ENTRY_SIZE, scratch);
    checkTimeIndex(timeFile, times.length, bounds, ends(times.entries, (at) => ({ timestamp: readInt64(scratch, at), offset: baseOffset + scratch.readInt32BE(at + 8) })), false);
    return null;
  } catch (err) {
    if (err instanceof CorruptIndexError) return err.message;
    throw err;
  }
}

/** The first and last of `count` entries, as `readEnds` left them in the scratch buffer (at 0 and 16). */
function ends<E>(count: number, read: (at: number) => E): IndexEntries<E> {
  return { count, entry: (n) => read(n === 0 ? 0 : 16) };
}

/**
 * Reads the first entry of an index file into `scratch[0, entrySize)` and the last into
 * `scratch[16, 16 + entrySize)`; returns the file's length and its whole entries. Throws
 * `CorruptIndexError` when the file is missing.
 */
function readEnds(file: string, entrySize: number, scratch: Buffer): { length: number; entries: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CorruptIndexError(`index file ${file} is missing`, { file });
    throw new LogIOError(`cannot open index file ${file}: ${(err as Error).message}`, { file, cause: err });
  }
  try {
    const length = fs.fstatSync(fd).size;
    const entries = Math.floor(length / entrySize);
    if (entries > 0) {
      fs.readSync(fd, scratch, 0, entrySize, 0);
      fs.readSync(fd, scratch, 16, entrySize, (entries - 1) * entrySize);
    }
    return { length, entries };
  } catch (err) {
    throw new LogIOError(`cannot read index file ${file}: ${(err as Error).message}`, { file, cause: err });
  } finally {
    fs.closeSync(fd);
  }
}

/** The `.log` files of a writable directory whose leftovers were dealt with, by base offset. */
function writableSegmentFiles(names: string[]): SegmentFile[] {
  return names
    .filter(isLogFile)
    .map((name) => ({ baseOffset: offsetFromFileName(name), suffix: '' as const }))
    .sort((a, b) => a.baseOffset - b.baseOffset);
}

function siblingIndexFiles(segment: LogSegment): string[] {
  const base = segment.log.file.slice(0, -LOG_SUFFIX.length);
  return [`${base}.index`, `${base}.timeindex`, `${base}.txnindex`];
}


/** The `.tmp` of one of seglog's own files (a checkpoint or the clean-shutdown mark). */
function isOwnTemporary(name: string): boolean {
  return name.endsWith(TMP_SUFFIX) && OWN_FILES.has(name.slice(0, -TMP_SUFFIX.length));
}

/** True for any name seglog (or Kafka's segment layout) can have put in a partition directory. */
function isOwnName(name: string): boolean {
  return isSegmentFileName(name) || OWN_FILES.has(name) || KNOWN_FILES.has(name) || isOwnTemporary(name);
}

/** The regular files of `dir`, sorted; subdirectories and other entries are never seglog's. */
function listFiles(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (cause) {
    throw new LogIOError(`cannot list partition directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
  }
  return entries
    .filter((e) => isFileEntry(dir, e))
    .map((e) => e.name)
    .sort();
}

/** A regular file, or a symbolic link to one. */
function isFileEntry(dir: string, entry: fs.Dirent): boolean {
  return entry.isFile() || (entry.isSymbolicLink() && isRegularFile(path.join(dir, entry.name)));
}

function isRegularFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Refuses, before anything is written, the layouts a writer cannot safely open:
 * - a file with one of seglog's names (segment files, checkpoints, lock, clean-shutdown mark and
 *   their temporaries) that is a symbolic link: `InvalidArgumentError` naming it (see
 *   `files/no-follow.ts`; read-only opens may read through links);
 * - a directory that holds no log yet but other things (every entry foreign, hidden files aside):
 *   most likely the wrong path, and seglog would scatter its files among someone else's;
 * - a segment file name (`<20 digits>.log`, `.index`, `.timeindex`) that is not a regular file.
 * Foreign files beside an existing log are ignored and never touched (as Kafka ignores them).
 * Throws `InvalidArgumentError` naming the directory and the entries concerned.
 */
export function checkPartitionDirectory(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (cause) {
    throw new LogIOError(`cannot list partition directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
  }
  // A writer writes, truncates or creates every file with one of its names: none may be a link.
  const link = entries.find((e) => e.isSymbolicLink() && isOwnName(e.name));
  if (link !== undefined) throw symlinkRefused(path.join(dir, link.name));
  const notFiles = entries.filter((e) => (isLogFile(e.name) || isIndexFile(e.name)) && !isFileEntry(dir, e));
  if (notFiles.length > 0) {
    const file = path.join(dir, notFiles[0]!.name);
    throw new InvalidArgumentError(`${file} is not a regular file: refusing to open the partition directory ${dir}`, { file });
  }
  const visible = entries.filter((e) => !e.name.startsWith('.') || OWN_FILES.has(e.name));
  if (visible.length === 0 || visible.some((e) => isOwnName(e.name) && isFileEntry(dir, e))) return;
  const sample = visible.slice(0, 3).map((e) => e.name + (e.isDirectory() ? '/' : ''));
  throw new InvalidArgumentError(
    `${dir} is not empty and holds no log (${sample.join(', ')}${visible.length > 3 ? ', ...' : ''}): ` +
      'refusing to create a log among foreign files; use a new or empty directory',
    { file: dir },
  );
}

/** What is wrong with the active segment's batch headers, walked from the first; null when nothing (then its chain is known). */
function walkActive(active: LogSegment): string | null {
  const cursor = new BatchCursor(active.log);
  try {
    const last = active.offsetIndex.lookup(Number.MAX_SAFE_INTEGER);
    let entryFound = last.position === 0;
    let lastOffset = active.baseOffset - 1;
    cursor.seek(0, active.log.size, lastOffset);
    while (cursor.next()) {
      if (cursor.position === last.position && cursor.lastOffset === last.offset) entryFound = true;
      lastOffset = cursor.lastOffset;
    }
    if (cursor.validEnd !== active.log.size) return `the active segment ends inside a batch at position ${cursor.validEnd} of ${active.log.size}`;
    if (!entryFound) return `the offset index's last entry (offset ${last.offset} at position ${last.position}) names no batch of ${active.log.file}`;
    active.chainChecked(cursor.validEnd, lastOffset);
    return null;
  } catch (err) {
    if (!(err instanceof CorruptRecordError)) throw err;
    return err.message;
  }
}
