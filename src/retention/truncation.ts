import { OffsetOutOfRangeError } from '../errors.js';
import { fsyncDirectory, writeFileAtomically } from '../files/checkpoint.js';
import { TRUNCATING_SUFFIX, logFile } from '../files/file-names.js';
import type { LocalLog } from '../log/local-log.js';
import { encodeIntent, removeFile, type TruncationPlan } from '../log/truncation-intent.js';
import { readMaxTimestamp } from '../record/batch-layout.js';
import { cutBatch } from './cut-batch.js';
import type { SegmentDeleter } from './segment-deleter.js';

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
 * 3. The later segments are renamed to `.deleted`, the last one first (directory fsynced); the
 *    segment's `.log` is cut at the position, the rewritten batch appended, the `.log`
 *    fdatasynced; the indexes are cut.
 * 4. The intent file is deleted and the directory fsynced, before any new append can happen.
 *
 * On open, the loader finds an intent file (`completePendingTruncation` in `src/log/truncation-intent.ts`) and redoes step 3 from
 * it, which is idempotent: delete every segment file above the base offset, cut the `.log` at the
 * position, write the batch there, fdatasync, delete the segment's index files (the loader then
 * rebuilds them), then removes the intent. A crash before the intent exists leaves the log as it
 * was (a leftover `.truncating.tmp` is removed); from the moment it exists, the open completes the
 * truncation. A truncation with a single write (cutting the active segment at a batch boundary) needs
 * no intent: the cut is one `ftruncate`, fdatasynced.
 */

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

/**
 * Truncates `log` to `offset` (see the module comment); later segments are retired through
 * `deleter`, and `now` becomes the creation time of a segment cut to nothing. A no-op at or after
 * the log end offset. Throws `OffsetOutOfRangeError` below the log start offset, `CorruptRecordError`
 * when the batch to cut fails its CRC, `LogIOError` when a write fails (the log is then left to
 * the next open to complete: close and reopen it).
 */
export function truncateLog(log: LocalLog, deleter: SegmentDeleter, now: number, offset: number): void {
  const start = log.startOffset;
  const end = log.endOffset;
  if (offset < start) {
    throw new OffsetOutOfRangeError(`cannot truncate ${log.dir} to ${offset}: below the log start offset ${start}`, { offset });
  }
  if (offset >= end) return;
  const { segments, dir } = log;
  const index = segments.floorIndex(offset);
  const segment = segments.at(index)!;
  const later = segments.values().slice(index + 1);
  const cursor = log.reader.cursorFor(segment);

  let position = segment.size;
  let batch: Buffer | null = null;
  if (segment.locate(offset, cursor)) {
    position = cursor.position;
    if (cursor.baseOffset < offset) {
      batch = cutBatch(segment.readBatchAtCursor(cursor), offset, {
        file: segment.log.file,
        position,
        maxDecompressedBytes: log.maxDecompressedBytes,
      });
    }
  }
  const plan: TruncationPlan = { offset, baseOffset: segment.baseOffset, position, batch };
  const intent = later.length > 0 || batch !== null ? logFile(dir, segment.baseOffset, TRUNCATING_SUFFIX) : null;

  log.lowerRecoveryPoint(offset);
  step('recovery-point-lowered');
  if (intent !== null) {
    writeFileAtomically(intent, encodeIntent(plan));
    step('intent-written');
  }
  log.removeSegments(later);
  // The last segment first: a read-only opener in another process that lists the directory
  // between two of these renames then sees the log without its tail, never a hole in the middle
  // of it, which a view would read across as a compacted log's gap of offsets.
  deleter.retire(later.reverse());
  step('later-segments-retired');
  segment.truncateTo(offset, cursor, now);
  step('segment-truncated');
  if (batch !== null) {
    segment.append(offset - 1, readMaxTimestamp(batch, 0), offset - 1, batch);
    step('batch-rewritten');
  }
  segment.flush();
  log.truncateEndTo(offset);
  step('synced');
  if (intent !== null) {
    removeFile(intent);
    fsyncDirectory(dir);
    step('intent-removed');
  }
  log.noteTruncation(offset);
}

function step(name: TruncationStep): void {
  truncationHooks.afterStep?.(name);
}

