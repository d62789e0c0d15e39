import fs from 'node:fs';
import { O_NOFOLLOW, isNoFollowRefusal, symlinkRefused } from '../files/no-follow.js';
import path from 'node:path';
import { CorruptRecordError, LogIOError, OffsetOutOfRangeError } from '../errors.js';
import { fsyncDirectory, writeFileAtomically } from '../files/checkpoint.js';
import { readMaxTimestamp } from '../record/batch-layout.js';
import {
  TRUNCATING_SUFFIX,
  isIndexFile,
  isLogFile,
  logFile,
  offsetFromFileName,
  offsetIndexFile,
  timeIndexFile,
} from '../segment/file-names.js';
import { cutBatch } from './cut-batch.js';
import type { RetentionHost } from './log-retention.js';

/**
 * `truncateTo(offset)`: removes every record at and after `offset`, so that the log end offset
 * becomes exactly `offset`. Kafka's `UnifiedLog.truncateTo` (delete the later segments, truncate
 * the one holding the offset, indexes included) with one difference: where `offset` falls inside
 * a batch, Kafka drops the whole batch, and seglog keeps its first records, rewriting the batch
 * with only them (see `cutBatch`).
 *
 * Crash safety. Deleting later segments, cutting the `.log` and writing the rewritten batch are
 * several writes; a crash between two of them must leave either the log as it was or the log as
 * truncated, never a log that ends early or holds a torn batch. The protocol:
 *
 * 1. The recovery point is lowered to `offset` and checkpointed, so a crash from here on makes
 *    the next open recover (re-validate, re-index) the segment being cut.
 * 2. When there is more than one write to do (later segments to delete, or a batch to rewrite),
 *    an intent file `<base>.log.truncating` is written atomically (temp file, fdatasync, rename,
 *    directory fsync): the cut offset, the segment, the byte position of the cut and the rewritten
 *    batch. Its appearance under that name is the commit point.
 * 3. The later segments are renamed to `.deleted` (directory fsynced); the segment's `.log` is cut
 *    at the position, the rewritten batch appended, the `.log` fdatasynced; the indexes are cut.
 * 4. The intent file is deleted and the directory fsynced, before any new append can happen.
 *
 * On open, the loader finds an intent file (`completePendingTruncation`) and redoes step 3 from
 * it, which is idempotent: delete every segment file above the base offset, cut the `.log` at the
 * position, write the batch there, fdatasync, delete the segment's index files (the loader then
 * rebuilds them), then removes the intent. A crash before the intent exists leaves the log as it
 * was (a leftover `.truncating.tmp` is removed); from the moment it exists, the open completes the
 * truncation. A truncation with a single write (cutting the active segment at a batch boundary) needs
 * no intent: the cut is one `ftruncate`, fdatasynced.
 */

/** What a truncation writes, as recorded in the intent file. */
export interface TruncationPlan {
  /** The new log end offset. */
  offset: number;
  /** Base offset of the segment that holds `offset` (it is cut; every later segment goes). */
  baseOffset: number;
  /** Byte position in that segment's `.log` of the first batch that goes (or is rewritten). */
  position: number;
  /** The rewritten batch written at `position`, or null when the cut is at a batch boundary. */
  batch: Buffer | null;
}

/** The steps of `truncateLog`, in order (for tests that simulate a crash after each one). */
export type TruncationStep =
  | 'recovery-point-lowered'
  | 'intent-written'
  | 'later-segments-retired'
  | 'segment-truncated'
  | 'batch-rewritten'
  | 'synced'
  | 'intent-removed';

/** @internal Test hook: called after each step of a truncation. */
export const truncationHooks: { afterStep: ((step: TruncationStep) => void) | null } = { afterStep: null };

const INTENT_VERSION = 0;

/**
 * Truncates the log behind `host` to `offset` (see the module comment). A no-op at or after the
 * log end offset. Throws `OffsetOutOfRangeError` below the log start offset, `CorruptRecordError`
 * when the batch to cut fails its CRC, `LogIOError` when a write fails (the log is then left to
 * the next open to complete: close and reopen it).
 */
export function truncateLog(host: RetentionHost, offset: number): void {
  const start = host.startOffset();
  const end = host.endOffset();
  if (offset < start) {
    throw new OffsetOutOfRangeError(`cannot truncate ${host.dir} to ${offset}: below the log start offset ${start}`, { offset });
  }
  if (offset >= end) return;
  const { segments, dir } = host;
  const index = segments.floorIndex(offset);
  const segment = segments.at(index)!;
  const later = segments.values().slice(index + 1);
  const cursor = host.cursorFor(segment);

  let position = segment.size;
  let batch: Buffer | null = null;
  if (segment.locate(offset, cursor)) {
    position = cursor.position;
    if (cursor.baseOffset < offset) {
      batch = cutBatch(segment.readBatchAtCursor(cursor), offset, {
        file: segment.log.file,
        position,
        maxDecompressedBytes: host.config.maxDecompressedBytes,
      });
    }
  }
  const plan: TruncationPlan = { offset, baseOffset: segment.baseOffset, position, batch };
  const intent = later.length > 0 || batch !== null ? logFile(dir, segment.baseOffset, TRUNCATING_SUFFIX) : null;

  host.lowerRecoveryPoint(offset);
  step('recovery-point-lowered');
  if (intent !== null) {
    writeFileAtomically(intent, encodeIntent(plan));
    step('intent-written');
  }
  for (const s of later) segments.remove(s.baseOffset);
  host.deleter.retire(later);
  step('later-segments-retired');
  segment.truncateTo(offset, cursor, host.config.clock());
  step('segment-truncated');
  if (batch !== null) {
    segment.append(offset - 1, readMaxTimestamp(batch, 0), offset - 1, batch);
    step('batch-rewritten');
  }
  segment.flush();
  host.setEndOffset(offset);
  step('synced');
  if (intent !== null) {
    removeFile(intent);
    fsyncDirectory(dir);
    step('intent-removed');
  }
  host.truncated(offset);
}

function step(name: TruncationStep): void {
  truncationHooks.afterStep?.(name);
}

function encodeIntent(plan: TruncationPlan): string {
  return `${JSON.stringify({
    version: INTENT_VERSION,
    offset: plan.offset,
    baseOffset: plan.baseOffset,
    position: plan.position,
    batch: plan.batch === null ? null : plan.batch.toString('base64'),
  })}\n`;
}

function decodeIntent(file: string): TruncationPlan {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new CorruptRecordError(`truncation intent ${file} cannot be read: ${(cause as Error).message}`, { file, cause });
  }
  const p = parsed as Record<string, unknown>;
  const ok =
    typeof p === 'object' &&
    p !== null &&
    p.version === INTENT_VERSION &&
    isOffset(p.offset) &&
    isOffset(p.baseOffset) &&
    isOffset(p.position) &&
    (p.batch === null || typeof p.batch === 'string') &&
    p.baseOffset === offsetFromFileName(file) &&
    (p.offset as number) >= (p.baseOffset as number);
  if (!ok) throw new CorruptRecordError(`truncation intent ${file} is not valid`, { file });
  return {
    offset: p.offset as number,
    baseOffset: p.baseOffset as number,
    position: p.position as number,
    batch: p.batch === null ? null : Buffer.from(p.batch as string, 'base64'),
  };
}

function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The loader's part (writable opens, before anything else is looked at): finishes every
 * truncation whose intent file is in `dir` (see the module comment) and calls `report` for each.
 * Throws `CorruptRecordError` for an intent file that cannot be parsed (it was written
 * atomically, so that is damage, not a crash) and `LogIOError` when a write fails.
 */
export function completePendingTruncation(dir: string, report: (file: string, detail: string) => void): void {
  const intents = listNames(dir).filter((n) => n.endsWith(`.log${TRUNCATING_SUFFIX}`) && !Number.isNaN(offsetFromFileName(n)));
  for (const name of intents) {
    const file = path.join(dir, name);
    const plan = decodeIntent(file);
    redo(dir, plan);
    removeFile(file);
    fsyncDirectory(dir);
    report(logFile(dir, plan.baseOffset), `finished truncateTo(${plan.offset}) interrupted by a crash`);
  }
}

/** Step 3 of the protocol from the intent alone; idempotent. */
function redo(dir: string, plan: TruncationPlan): void {
  for (const name of listNames(dir)) {
    if ((isLogFile(name) || isIndexFile(name)) && offsetFromFileName(name) > plan.baseOffset) removeFile(path.join(dir, name));
  }
  const file = logFile(dir, plan.baseOffset);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | O_NOFOLLOW);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
    if (isNoFollowRefusal(cause)) throw symlinkRefused(file, cause);
    throw new LogIOError(`cannot open ${file}: ${(cause as Error).message}`, { file, cause });
  }
  try {
    // Shorter than the cut position: not a state the protocol leaves; recovery deals with the file.
    if (fs.fstatSync(fd).size >= plan.position) {
      fs.ftruncateSync(fd, plan.position);
      const batch = plan.batch;
      if (batch !== null) {
        let written = 0;
        while (written < batch.length) written += fs.writeSync(fd, batch, written, batch.length - written, plan.position + written);
      }
      fs.fdatasyncSync(fd);
    }
  } catch (cause) {
    throw new LogIOError(`cannot finish the truncation of ${file}: ${(cause as Error).message}`, { file, position: plan.position, cause });
  } finally {
    fs.closeSync(fd);
  }
  // The indexes may hold entries past the cut: the loader rebuilds missing indexes from the `.log`.
  removeFile(offsetIndexFile(dir, plan.baseOffset));
  removeFile(timeIndexFile(dir, plan.baseOffset));
  fsyncDirectory(dir);
}

function listNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch (cause) {
    throw new LogIOError(`cannot list partition directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
  }
}

function removeFile(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch (cause) {
    throw new LogIOError(`cannot remove ${file}: ${(cause as Error).message}`, { file, cause });
  }
}
