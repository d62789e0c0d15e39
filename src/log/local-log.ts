import path from 'node:path';
import type { LogIOError } from '../errors.js';
import {
  LOG_START_OFFSET_CHECKPOINT,
  RECOVERY_POINT_CHECKPOINT,
  topicPartitionOf,
  writeCheckpoint,
  type TopicPartition,
} from '../files/checkpoint.js';
import type { TimestampType } from '../record/types.js';
import { PreparedSegmentFiles } from '../files/prepared-files.js';
import { preallocatedIndexLength } from '../index/abstract-index.js';
import { OffsetIndex } from '../index/offset-index.js';
import { TimeIndex } from '../index/time-index.js';
import { preparedReserveBytes } from '../segment/file-records.js';
import { LogSegment, type SegmentOptions } from '../segment/log-segment.js';
import type { LogSegments } from '../segment/log-segments.js';
import { assignOffsets, type EncodedBatchInfo } from './encoded-batches.js';
import { LogReader } from './log-reader.js';

/**
 * One batch between `LocalLog.beginAppend` and its completion: the batch and what the log knows
 * of it, and where it goes (segment, descriptor, position). A log keeps one and reuses it.
 */
export class PendingWrite {
  batch: Buffer = Buffer.alloc(0);
  size = 0;
  lastOffset = 0;
  maxTimestamp = 0;
  now = 0;
  recordCount = 0;
  /** Set by `beginAppend`; null once completed or abandoned. */
  segment: LogSegment | null = null;
  fd = -1;
  position = 0;
}

/** The config keys the log state reads (a structural subset of the log's resolved config). */
export interface LocalLogConfig {
  segmentBytes: number;
  segmentMs: number;
  /** Cap on a compressed batch's inflated records section when it is read. */
  maxDecompressedBytes: number;
}

/** What the owner of a `LocalLog` hears about changes it did not make itself. */
export interface LocalLogEvents {
  /** A new active segment was created: its directory entry still has to be synced. */
  rolled(segment: LogSegment): void;
  /** The recovery point went down to `offset` (a truncation): a sync in flight must not raise it past. */
  recoveryPointLowered(offset: number): void;
  /** Records from `offset` on were removed (streams go back, consumer commits are lowered). */
  truncated(offset: number): void;
}

/** How `LocalLog` starts: what the loader found. */
export interface LocalLogState {
  segments: LogSegments;
  logStartOffset: number;
  recoveryPoint: number;
}

export interface LocalLogParams {
  dir: string;
  config: LocalLogConfig;
  writable: boolean;
  /** Options of a segment created by a roll at `baseOffset`. */
  segmentOptions: (baseOffset: number) => SegmentOptions;
  events: LocalLogEvents;
}

/**
 * The next segment's files are prepared (see files/prepared-files.ts) once the active segment
 * holds this fraction of `segmentBytes`: early enough that they are made before the roll at any
 * append rate seen here (making them takes well under a millisecond, on a thread of their own), late enough that a log does
 * not hold three more descriptors for most of a segment's life.
 */
const PREPARE_AT_FRACTION = 0.5;

/** Truncations remembered for streams that look late (see `truncationsSince`). */
const RECENT_TRUNCATIONS = 64;

/**
 * The one state object of a partition, Kafka's `LocalLog`: the segments, the log end offset (the
 * next offset to assign), the log start offset and the recovery point, with the operations that
 * change them together: roll, append of an encoded batch at the end, removing and replacing
 * segments, the end moving back after a truncation. The public `Log`, retention, truncation and
 * streams all work on this one object; nothing else holds a copy of these offsets.
 *
 * It also announces appends (`waitForAppend`, woken by every append and by `close`) and keeps
 * the recent truncations, so that readers in this process can follow both.
 *
 * Not safe for concurrent use: every call runs on the owning `Log`'s thread, between its calls.
 */
export class LocalLog {
  readonly dir: string;
  readonly segments: LogSegments;
  /** Reads records across the segments (one shared chunk buffer for every cursor). */
  readonly reader: LogReader;
  readonly tp: TopicPartition;
  private logStartOffset: number;
  private nextOffset: number;
  private recovery: number;
  /** The recovery point when an fsync first failed, or null (see `noteSyncFailure`). */
  private syncFailedAt: number | null = null;
  private readonly appendWaiters = new Set<() => void>();
  /** Segments sealed by rolls whose indexes wait for `trimSealedIndexes` (lowest base offset first). */
  private readonly sealedUntrimmed: LogSegment[] = [];
  private readonly recentTruncations: { count: number; offset: number }[] = [];
  private truncations = 0;
  /** The next segment's files, being made or made (see `prepareNextSegment`); null when none. */
  private nextFiles: PreparedSegmentFiles | null = null;
  /** The active segment's size from which its successor's files are prepared; Infinity: never. */
  private prepareFrom: number;

  constructor(
    private readonly params: LocalLogParams,
    state: LocalLogState,
  ) {
    this.dir = params.dir;
    this.segments = state.segments;
    this.reader = new LogReader(this.segments, params.config.maxDecompressedBytes, !params.writable);
    this.tp = topicPartitionOf(params.dir);
    this.logStartOffset = state.logStartOffset;
    this.recovery = state.recoveryPoint;
    this.nextOffset = this.readEndOffset();
    this.prepareFrom = params.writable ? Math.floor(params.config.segmentBytes * PREPARE_AT_FRACTION) : Infinity;
  }

  /** Cap on a compressed batch's inflated records section (`maxDecompressedBytes`). */
  get maxDecompressedBytes(): number {
    return this.params.config.maxDecompressedBytes;
  }

  /** The first offset that can be read. */
  get startOffset(): number {
    return this.logStartOffset;
  }

  /** The offset the next appended record gets. */
  get endOffset(): number {
    return this.nextOffset;
  }

  /** Everything below it is known to be on disk (recovery after a crash starts at its segment). */
  get recoveryPoint(): number {
    return this.recovery;
  }

  get activeSegment(): LogSegment {
    return this.segments.activeSegment;
  }

  /** Bytes of all `.log` files. */
  get size(): number {
    let total = 0;
    for (const s of this.segments.values()) total += s.size;
    return total;
  }

  /** The end offset read from the files: the active segment's next offset, or the log start offset when there is none. */
  readEndOffset(): number {
    if (this.segments.count === 0) return this.logStartOffset;
    const active = this.segments.activeSegment;
    // A start checkpoint past the end: the writer drops every segment and starts the log there
    // (LogLoader.dropIfAllBelowStart); a read-only view, which deletes nothing, shows what the
    // writer will, an empty log at the start offset, so start never passes end.
    return Math.max(active.readNextOffset(this.reader.cursorFor(active)), active.baseOffset, this.logStartOffset);
  }

  // ---- appends -------------------------------------------------------------------------------

  /**
   * Appends one encoded batch whose base offset is already `endOffset` and whose last offset is
   * `lastOffset`, rolling first when the active segment says so (Kafka's `shouldRoll`). Then the
   * end offset moves past it and every waiter is woken. The caller has checked the batch (size
   * limits, CRC); a write error leaves the state as it was (`LogSegment.append` is all or nothing).
   */
  appendBatch(batch: Buffer, size: number, lastOffset: number, maxTimestamp: number, now: number): void {
    const segment = this.segmentFor(size, lastOffset, maxTimestamp, now);
    segment.append(lastOffset, maxTimestamp, lastOffset, batch, size);
    this.appended(segment, lastOffset);
  }

  /**
   * `appendBatch` in steps, for a batch written elsewhere (see `Log.beginAppend`): rolls if due,
   * and fills `write` with where the batch goes. Nothing else may change this log until the
   * caller has called `completeAppend` or `abandonAppend` with it.
   */
  beginAppend(write: PendingWrite): void {
    const segment = this.segmentFor(write.size, write.lastOffset, write.maxTimestamp, write.now);
    write.position = segment.beginAppend(write.lastOffset, write.maxTimestamp, write.size);
    write.segment = segment;
    write.fd = segment.log.descriptor();
  }

  /** The batch of `beginAppend` is written: the end offset moves past it and waiters wake. */
  completeAppend(write: PendingWrite): void {
    const segment = write.segment!;
    segment.completeAppend(write.lastOffset, write.maxTimestamp, write.lastOffset, write.position, write.size);
    this.appended(segment, write.lastOffset);
    write.segment = null;
  }

  /**
   * The batch of `beginAppend` does not stay: its write failed with `cause` (the error to throw
   * is returned), or, with `cause` undefined, it was written but an earlier one failed. Whatever
   * of it landed is cut off; the state is as before `beginAppend` (bar a roll it did).
   */
  abandonAppend(write: PendingWrite, cause?: unknown): LogIOError | null {
    const segment = write.segment!;
    write.segment = null;
    if (cause === undefined) {
      segment.log.abandonAppend(write.position);
      return null;
    }
    return segment.log.failedAppend(write.position, write.size, cause);
  }

  /** The active segment, or a new one when the batch is due to roll it (Kafka's `shouldRoll`). */
  private segmentFor(size: number, lastOffset: number, maxTimestamp: number, now: number): LogSegment {
    const { segmentBytes, segmentMs } = this.params.config;
    const segment = this.segments.activeSegment;
    if (segment.shouldRoll(size, maxTimestamp, lastOffset, segmentBytes, segmentMs, now)) return this.rollAt(this.nextOffset, true);
    return segment;
  }

  private appended(segment: LogSegment, lastOffset: number): void {
    this.nextOffset = lastOffset + 1;
    if (segment.size >= this.prepareFrom && this.nextFiles === null) this.prepareNextSegment();
    this.wakeWaiters();
  }

  /**
   * Starts making the next segment's files on a thread of their own, so that the roll only names them.
   * Where that cannot be done (no addon, not Linux), it is not asked again.
   */
  private prepareNextSegment(): void {
    const options = this.params.segmentOptions(this.nextOffset);
    // The `.log`'s blocks, reserved there rather than by its appends (see preparedReserveBytes).
    const reserve = preparedReserveBytes(options.reserveLimit, this.segments.activeSegment.log.largestAppendBytes);
    const { maxIndexSize } = options;
    const offsetIndexLength = preallocatedIndexLength(maxIndexSize, OffsetIndex.ENTRY_SIZE);
    const timeIndexLength = preallocatedIndexLength(maxIndexSize, TimeIndex.ENTRY_SIZE);
    this.nextFiles = PreparedSegmentFiles.start(this.dir, offsetIndexLength, timeIndexLength, reserve);
    if (this.nextFiles === null) this.prepareFrom = Infinity;
  }

  /** The prepared files when they are made (taken from `nextFiles`), else undefined: the roll creates its files. */
  private takeNextFiles(): PreparedSegmentFiles | undefined {
    const files = this.nextFiles;
    if (files === null) return undefined;
    const state = files.state();
    if (state === 'making') return undefined; // still being made: they serve the roll after this one
    this.nextFiles = null;
    if (state === 'made') return files;
    this.prepareFrom = Infinity; // the file system cannot make them: rolls create their files from now on
    return undefined;
  }

  /**
   * Appends a producer's record set (`checkEncodedBatches` has checked every batch in it): each
   * batch gets its offsets from `endOffset` on written in place (see `assignOffsets`) and is
   * appended as it is. Returns the first and last offsets assigned.
   */
  appendEncodedBatches(records: Buffer, batches: readonly EncodedBatchInfo[], timestampType: TimestampType, now: number): { baseOffset: number; lastOffset: number } {
    const baseOffset = this.nextOffset;
    for (const batch of batches) {
      const first = this.nextOffset;
      assignOffsets(records, batch, first, timestampType, now);
      const bytes = records.subarray(batch.position, batch.position + batch.size);
      this.appendBatch(bytes, batch.size, first + batch.lastOffsetDelta, batch.maxTimestamp, now);
    }
    return { baseOffset, lastOffset: this.nextOffset - 1 };
  }

  /** Starts a new active segment at the end offset; a no-op (returning it) when the active segment is empty. */
  roll(): LogSegment {
    const active = this.segments.activeSegment;
    return active.size === 0 ? active : this.rollAt(this.nextOffset, false);
  }

  /**
   * `trimLater`: the sealed segment's indexes are trimmed by the background flush the roll starts
   * (`trimSealedIndexes`), not in this call: so in a roll inside `append`, while a roll asked for
   * does it at once, as Kafka's roll does.
   */
  private rollAt(baseOffset: number, trimLater: boolean): LogSegment {
    const previous = this.segments.activeSegment;
    if (previous.size === 0 && previous.baseOffset === baseOffset) return previous;
    // The new segment's files first: a create that fails (ENOSPC) leaves the active segment as it was.
    const segment = LogSegment.create(this.dir, baseOffset, this.params.segmentOptions(baseOffset), '', this.takeNextFiles());
    previous.onBecomeInactiveSegment(trimLater);
    if (trimLater) this.sealedUntrimmed.push(previous);
    this.segments.add(segment);
    this.params.events.rolled(segment);
    return segment;
  }

  /**
   * Resolves at the next append or `close()`, when `signal` aborts, or after `timeoutMs` (default:
   * never). A reader of another process's log passes a timeout: it cannot hear that writer's appends.
   */
  waitForAppend(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.appendWaiters.delete(done);
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs ?? 2 ** 31 - 1);
      this.appendWaiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wakeWaiters(): void {
    if (this.appendWaiters.size === 0) return;
    const waiters = [...this.appendWaiters];
    this.appendWaiters.clear();
    for (const wake of waiters) wake();
  }

  // ---- segments ------------------------------------------------------------------------------

  /** Takes `segments` (a prefix or a suffix of the list) out of the log; the caller retires their files. */
  removeSegments(segments: readonly LogSegment[]): void {
    for (const segment of segments) this.segments.remove(segment.baseOffset);
  }

  /**
   * Puts `replacements` in the place of `replaced` in one step (compaction's swap): afterwards no
   * reader sees both. The caller owns the files of both: it renames the replacements into place
   * and retires the replaced ones.
   */
  replaceSegments(replacements: readonly LogSegment[], replaced: readonly LogSegment[]): void {
    for (const segment of replaced) this.segments.remove(segment.baseOffset);
    for (const segment of replacements) this.segments.add(segment);
  }

  /**
   * A read-only view reloaded the directory: the segments and the log start offset as listed now.
   * A segment whose `.log` is the same file as before, under the same name, is kept, with its open
   * file and the index entries it holds in memory (re-read only if the file changed); the others
   * (gone, renamed, or replaced after a truncation) are closed.
   */
  replaceAll(segments: LogSegments, logStartOffset: number): void {
    const kept = new Map(this.segments.values().map((s) => [s.baseOffset, s]));
    this.segments.clear();
    for (const segment of segments.values()) {
      const old = kept.get(segment.baseOffset);
      // Under the same name too: a `.swap` file the writer has since renamed to `.log` is taken
      // afresh, so that every segment kept answers for the name it is listed under.
      if (old !== undefined && old.log.sameFileAs(segment.log) && old.log.file === segment.log.file) {
        kept.delete(segment.baseOffset);
        segment.closeHandlers();
        if (old.log.refresh()) old.invalidate();
        this.segments.add(old);
      } else {
        this.segments.add(segment);
      }
    }
    for (const old of kept.values()) old.closeHandlers();
    this.logStartOffset = logStartOffset;
  }

  /** True while `trimSealedIndexes` has segments to trim. */
  get hasSealedUntrimmed(): boolean {
    return this.sealedUntrimmed.length > 0;
  }

  /**
   * Trims the indexes of the segments rolls have sealed since the last call (Kafka trims them in
   * the roll itself: two ftruncates and remaps, a third of a roll's cost, which the appending call
   * no longer pays). Called by each flush, before its syncs, so the trimmed lengths are what
   * the sync makes durable. Throws `LogIOError`.
   */
  trimSealedIndexes(): void {
    const sealed = this.sealedUntrimmed;
    while (sealed.length > 0) {
      sealed[0]!.trimIndexes();
      sealed.shift();
    }
  }

  /**
   * The base offset of the first segment whose indexes a roll left untrimmed (Infinity when
   * none): the recovery point must not pass it, since recovery trusts the indexes of the segments
   * below the recovery point, and Kafka would read an untrimmed index's zero slots as entries.
   */
  private untrimmedFrom(): number {
    for (const segment of this.sealedUntrimmed) if (segment.indexesTrimPending) return segment.baseOffset;
    return Infinity;
  }

  /** The segments an fsync must cover: from the one holding the recovery point to the end. */
  segmentsToSync(): LogSegment[] {
    const from = Math.max(0, this.segments.floorIndex(this.recovery));
    return this.segments.values().slice(from);
  }

  // ---- offsets -------------------------------------------------------------------------------

  /**
   * Moves the log start offset up to `offset` (never down) and writes it to the log-start-offset
   * checkpoint first, so that a crash after this never brings back offsets below it.
   */
  advanceStartOffset(offset: number): void {
    if (offset <= this.logStartOffset) return;
    writeCheckpoint(path.join(this.dir, LOG_START_OFFSET_CHECKPOINT), this.tp, offset);
    this.logStartOffset = offset;
  }

  /**
   * The records from `offset` on are gone from the segments (the caller cut them and synced the
   * cut): the end offset becomes `offset`.
   */
  truncateEndTo(offset: number): void {
    this.nextOffset = offset;
  }

  /** A read-only view re-reads the end from the files; a lower end means the writer truncated. */
  refreshEndOffset(): void {
    const end = this.readEndOffset();
    if (end < this.nextOffset) this.noteTruncation(end);
    this.nextOffset = end;
  }

  /** recoveryPoint = min(recoveryPoint, offset), checkpointed when it moved. */
  lowerRecoveryPoint(offset: number): void {
    this.params.events.recoveryPointLowered(offset);
    if (offset >= this.recovery) return;
    this.recovery = offset;
    this.writeRecoveryCheckpoint();
  }

  /**
   * Everything below `end` is on disk: the recovery point moves up to it, checkpointed when it
   * changes segment (recovery restarts at the segment holding the recovery point, so a checkpoint
   * inside the same segment would change nothing and cost a sync). Returns false when it did not move.
   */
  markFlushedTo(end: number): boolean {
    end = Math.min(end, this.untrimmedFrom());
    if (end <= this.recovery) return false;
    const before = this.segments.floorIndex(this.recovery);
    this.recovery = end;
    if (this.segments.floorIndex(end) !== before) this.writeRecoveryCheckpoint();
    return true;
  }

  /**
   * A failed fsync may have dropped dirty pages (Linux marks them clean), so a later successful
   * one proves nothing about the bytes written before: from now on the recovery point on disk
   * stays where it was, so the next open checks every batch from there by CRC.
   */
  noteSyncFailure(): void {
    this.syncFailedAt ??= this.recovery;
  }

  /** True once an fsync failed: the log must not be marked as cleanly shut down. */
  get syncFailed(): boolean {
    return this.syncFailedAt !== null;
  }

  /**
   * On a clean close (everything synced): the recovery point becomes the end offset, and the
   * log-start-offset checkpoint is written by Kafka's rule (no entry when it equals the first
   * segment's base offset).
   */
  writeClosingCheckpoints(): void {
    this.recovery = this.nextOffset;
    this.writeRecoveryCheckpoint();
    const first = this.segments.firstSegment?.baseOffset ?? 0;
    writeCheckpoint(path.join(this.dir, LOG_START_OFFSET_CHECKPOINT), this.tp, this.logStartOffset > first ? this.logStartOffset : null);
  }

  private writeRecoveryCheckpoint(): void {
    const point = this.syncFailedAt === null ? this.recovery : Math.min(this.recovery, this.syncFailedAt);
    writeCheckpoint(path.join(this.dir, RECOVERY_POINT_CHECKPOINT), this.tp, point);
  }

  // ---- truncations, as readers see them ------------------------------------------------------

  /** How many truncations this log has seen (streams compare it with what they took into account). */
  get truncationCount(): number {
    return this.truncations;
  }

  /** Notes that records from `offset` on were removed, and tells the owner. */
  noteTruncation(offset: number): void {
    this.truncations++;
    this.recentTruncations.push({ count: this.truncations, offset });
    if (this.recentTruncations.length > RECENT_TRUNCATIONS) this.recentTruncations.shift();
    this.params.events.truncated(offset);
  }

  /**
   * The truncations so far and the lowest offset cut since the caller had seen `seen` of them
   * (null when none; 0 when more happened than are remembered).
   */
  truncationsSince(seen: number): { count: number; lowest: number | null } {
    let lowest: number | null = null;
    if (seen < this.truncations - this.recentTruncations.length) lowest = 0;
    for (const t of this.recentTruncations) {
      if (t.count > seen && (lowest === null || t.offset < lowest)) lowest = t.offset;
    }
    return { count: this.truncations, lowest };
  }

  /** Closes every segment's files without writing (the owner wrote what it had to) and wakes every waiter. */
  closeHandlers(): void {
    this.nextFiles?.drop();
    this.nextFiles = null;
    for (const segment of this.segments.values()) segment.closeHandlers();
    this.wakeWaiters();
  }
}
