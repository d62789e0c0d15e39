import fs from 'node:fs';
import path from 'node:path';
import {
  InvalidArgumentError,
  LogClosedError,
  LogIOError,
  OffsetOutOfRangeError,
  ReadOnlyLogError,
  RecordTooLargeError,
} from '../errors.js';
import { encodeBatch } from '../record/batch-builder.js';
import type { CompressionType, LogRecord, RecordInput } from '../record/types.js';
import { LogSegment, type SegmentOptions } from '../segment/log-segment.js';
import { optionalPositive, requireOffset, requireOptions, requireTimestamp } from './arguments.js';
import {
  LOG_START_OFFSET_CHECKPOINT,
  RECOVERY_POINT_CHECKPOINT,
  fsyncDirectory,
  fsyncDirectoryAsync,
  readCheckpoint,
  topicPartitionOf,
  writeCheckpoint,
  writeFileAtomically,
  type TopicPartition,
} from '../files/checkpoint.js';
import { deletesByRetention, isCompacted, requireKeys, resolveConfig, type LogConfig, type ResolvedLogConfig } from './config.js';
import { GroupCommit } from './flusher.js';
import { DirectoryLock } from './lock.js';
import { LogLoader, checkPartitionDirectory, type RecoveryReport } from './log-loader.js';
import { LogReader } from './log-reader.js';
import { LogSegments } from '../segment/log-segments.js';
import { LogRetention, segmentDeleterFor } from '../retention/log-retention.js';
import type { SegmentDeleter } from '../retention/segment-deleter.js';
import { LogCleaner } from '../cleaner/log-cleaner.js';
import type { CompactionResult } from '../cleaner/cleaner.js';
import { followLog, type LogStream, type StreamOptions } from './stream.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { clampConsumerOffsets, retainedConsumerFloor } from './consumer-offsets.js';

/** Kafka's clean-shutdown mark; its existence is what counts. seglog keeps it in the partition directory. */
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';

const DEFAULT_MAX_BYTES = 1024 * 1024;

/** The offsets `append` assigned: `baseOffset` to `lastOffset`, inclusive. */
export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

export interface AppendOptions {
  /** Codec of this batch, overriding the log's `compression`. */
  compression?: CompressionType;
}

export interface ReadOptions {
  /** Stop before the encoded batches read would pass this many bytes (at least one record is returned). Default 1 MiB. */
  maxBytes?: number;
  /** Return at most this many records. Default: no limit. */
  maxRecords?: number;
}

/** One segment as `segments()` describes it. */
export interface SegmentInfo {
  baseOffset: number;
  /** Exclusive: the offset after the segment's last batch. */
  endOffset: number;
  /** Length of the `.log` file in bytes. */
  sizeBytes: number;
  /** Largest record timestamp, or -1 for an empty segment. */
  maxTimestamp: number;
  /** Path of the `.log` file. */
  path: string;
}

/**
 * A partition: a directory of segments with Kafka's on-disk format. See the README and
 * `docs/ARCHITECTURE.md`; every method is synchronous unless it returns a promise.
 */
export class Log {
  private readonly segmentsList: LogSegments;
  private readonly reader: LogReader;
  private readonly tp: TopicPartition;
  private readonly groupCommit: GroupCommit;
  private readonly appendWaiters = new Set<() => void>();
  /** Offsets below which retention may delete; the lowest one wins (see `addRetentionFloor`). */
  private readonly retentionFloors = new Set<() => number | null>();
  /** Retention, log start offset and truncation (src/retention/), made on first use. */
  private retentionState: LogRetention | null = null;
  /** Key compaction (src/cleaner/), made on first use. */
  private cleanerState: LogCleaner | null = null;
  private deleterState: SegmentDeleter | null = null;
  /** Recent truncations `{ count, offset }`, newest last (see `truncationsSince`). */
  private readonly recentTruncations: { count: number; offset: number }[] = [];
  /** @internal How many truncations this log has seen (streams compare it). */
  truncationCount = 0;
  private logStartOffset: number;
  private nextOffset: number;
  private recoveryPoint: number;
  private closed = false;
  private unflushedMessages = 0;
  private directoryDirty = false;
  /** The recovery point when an fsync first failed, or null (see `noteSyncFailure`). */
  private syncFailedAt: number | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private dirMtimeMs = 0;

  private constructor(
    /** The partition directory. */
    readonly dir: string,
    private readonly config: ResolvedLogConfig,
    private readonly lock: DirectoryLock | null,
    loaded: { segments: LogSegments; logStartOffset: number; recoveryPoint: number },
    /** What opening found and repaired. */
    readonly recovery: RecoveryReport,
  ) {
    this.segmentsList = loaded.segments;
    this.reader = new LogReader(this.segmentsList);
    this.tp = topicPartitionOf(dir);
    this.logStartOffset = loaded.logStartOffset;
    this.recoveryPoint = loaded.recoveryPoint;
    this.nextOffset = this.readEndOffset();
    this.groupCommit = new GroupCommit(
      {
        currentEndOffset: () => this.nextOffset,
        syncAsync: (end) => this.syncAsync(end),
        isClosed: () => this.closed,
      },
      this.recoveryPoint,
    );
  }

  /**
   * Opens (creating if needed) the partition directory `dir`: takes the single-writer lock,
   * loads the segments and, when the last writer did not close cleanly, recovers them.
   * Synchronous. Throws `InvalidConfigError`, `LogLockedError`, `LogIOError`.
   */
  static open(dir: string, config?: LogConfig): Log {
    if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError(`dir must be a non-empty string, got ${String(dir)}`);
    const resolved = resolveConfig(config);
    const absolute = path.resolve(dir);
    prepareDirectory(absolute, resolved.readOnly);
    if (!resolved.readOnly) checkPartitionDirectory(absolute);
    const lock = resolved.readOnly ? null : DirectoryLock.acquire(absolute);
    try {
      return Log.load(absolute, resolved, lock);
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  private static load(dir: string, config: ResolvedLogConfig, lock: DirectoryLock | null): Log {
    const tp = topicPartitionOf(dir);
    const writable = lock !== null;
    const markFile = path.join(dir, CLEAN_SHUTDOWN_FILE);
    const cleanShutdown = fs.existsSync(markFile) || (!writable && true);
    // Removed before loading, as Kafka does: a crash while loading makes the next open unclean.
    if (writable && cleanShutdown) {
      fs.rmSync(markFile, { force: true });
      fsyncDirectory(dir);
    }
    const recoveryPoint = readCheckpoint(path.join(dir, RECOVERY_POINT_CHECKPOINT), tp) ?? 0;
    const logStartOffset = readCheckpoint(path.join(dir, LOG_START_OFFSET_CHECKPOINT), tp) ?? 0;
    const segmentOptions = (baseOffset: number): SegmentOptions => segmentOptionsOf(config, writable, baseOffset);
    const loaded = new LogLoader({ dir, writable, cleanShutdown, recoveryPoint, logStartOffset, segmentOptions }).load();
    if (writable) loaded.segments.activeSegment.prepareForAppends();
    const log = new Log(dir, config, lock, loaded, loaded.report);
    if (writable) log.startTimers();
    else log.dirMtimeMs = fs.statSync(dir).mtimeMs;
    return log;
  }

  /** The log start offset: the first offset that can be read. */
  get startOffset(): number {
    this.ensureOpen();
    this.refresh();
    return this.logStartOffset;
  }

  /** The offset the next appended record will get. */
  get endOffset(): number {
    this.ensureOpen();
    this.refresh();
    return this.nextOffset;
  }

  /** Bytes of all `.log` files. */
  get size(): number {
    this.ensureOpen();
    this.refresh();
    let total = 0;
    for (const s of this.segmentsList.values()) total += s.size;
    return total;
  }

  /** True after `close()`. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** True when opened with `readOnly: true`. */
  get readOnly(): boolean {
    return this.config.readOnly;
  }

  /** The segments, oldest first. */
  segments(): SegmentInfo[] {
    this.ensureOpen();
    this.refresh();
    const list = this.segmentsList.values();
    return list.map((s, i) => ({
      baseOffset: s.baseOffset,
      endOffset: i === list.length - 1 ? this.nextOffset : s.readNextOffset(this.reader.cursorFor(s)),
      sizeBytes: s.size,
      maxTimestamp: s.maxTimestamp,
      path: s.log.file,
    }));
  }

  /**
   * Appends one record or an array of records as one record batch and returns the offsets
   * assigned. Synchronous: returns once the batch is in the OS page cache (see `flush()` for
   * durability). All or nothing: a batch that is invalid, too large or fails to write leaves no
   * trace. Throws `InvalidRecordError`, `RecordTooLargeError`, `LogIOError`.
   */
  append(records: RecordInput | readonly RecordInput[], options?: AppendOptions): AppendResult {
    this.ensureWritable();
    const list = Array.isArray(records) ? (records as readonly RecordInput[]) : [records as RecordInput];
    if (list.length === 0) throw new InvalidArgumentError('append needs at least one record');
    if (isCompacted(this.config)) requireKeys(list);
    const compression = options === undefined ? this.config.compression : this.appendCompression(options);
    const now = this.config.clock();
    const baseOffset = this.nextOffset;
    const batch = encodeBatch(list, baseOffset, { compression, timestampType: this.config.timestampType, now });
    const size = batch.buffer.length;
    this.checkBatchSize(size);
    const lastOffset = baseOffset + batch.lastOffsetDelta;
    let segment = this.segmentsList.activeSegment;
    if (segment.shouldRoll(size, batch.maxTimestamp, lastOffset, this.config.segmentBytes, this.config.segmentMs, now)) {
      segment = this.rollAt(baseOffset);
    }
    segment.append(lastOffset, batch.maxTimestamp, lastOffset, batch.buffer, size);
    this.nextOffset = lastOffset + 1;
    this.afterAppend(batch.recordCount);
    return { baseOffset, lastOffset };
  }

  private appendCompression(options: AppendOptions): CompressionType {
    const opts = requireOptions<AppendOptions>('append options', options, ['compression']);
    if (opts.compression === undefined) return this.config.compression;
    if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(opts.compression as string)) {
      throw new InvalidArgumentError(`compression must be 'none', 'gzip', 'snappy', 'lz4' or 'zstd', got ${String(opts.compression)}`);
    }
    return opts.compression;
  }

  private checkBatchSize(size: number): void {
    if (size > this.config.maxMessageBytes) {
      throw new RecordTooLargeError(`batch of ${size} bytes is over maxMessageBytes (${this.config.maxMessageBytes})`);
    }
    if (size > this.config.segmentBytes) {
      throw new RecordTooLargeError(`batch of ${size} bytes is over segmentBytes (${this.config.segmentBytes})`);
    }
  }

  private afterAppend(recordCount: number): void {
    this.unflushedMessages += recordCount;
    const { flushMessages } = this.config;
    if (flushMessages !== null && this.unflushedMessages >= flushMessages) {
      this.unflushedMessages = 0;
      this.flush().catch(() => undefined);
    }
    if (this.appendWaiters.size > 0) {
      const waiters = [...this.appendWaiters];
      this.appendWaiters.clear();
      for (const wake of waiters) wake();
    }
  }

  /**
   * Records from exactly `offset` on, in order, across segments. At `endOffset` returns [].
   * Throws `OffsetOutOfRangeError` below `startOffset` or above `endOffset`, and
   * `InvalidArgumentError` for an offset that is not a safe non-negative integer.
   */
  read(offset: number, options?: ReadOptions): LogRecord[] {
    this.ensureOpen();
    requireOffset('offset', offset);
    const opts = requireOptions<ReadOptions>('read options', options, ['maxBytes', 'maxRecords']);
    const maxBytes = optionalPositive('maxBytes', opts.maxBytes, DEFAULT_MAX_BYTES);
    const maxRecords = optionalPositive('maxRecords', opts.maxRecords, Number.MAX_SAFE_INTEGER);
    this.refresh();
    this.checkReadable(offset);
    if (offset === this.nextOffset) return [];
    return this.reader.read(offset, this.nextOffset, maxBytes, maxRecords);
  }

  /**
   * The raw bytes of whole Kafka v2 batches, starting with the batch that holds `offset`: at
   * least one batch, then as many as fit in `maxBytes` (default 1 MiB). Empty at `endOffset`.
   */
  readBatches(offset: number, options?: { maxBytes?: number }): Buffer {
    this.ensureOpen();
    requireOffset('offset', offset);
    const opts = requireOptions<ReadOptions>('readBatches options', options, ['maxBytes']);
    const maxBytes = optionalPositive('maxBytes', opts.maxBytes, DEFAULT_MAX_BYTES);
    this.refresh();
    this.checkReadable(offset);
    if (offset === this.nextOffset) return Buffer.alloc(0);
    return this.reader.readBatches(offset, this.nextOffset, maxBytes);
  }

  /** The earliest offset whose record timestamp is >= `timestamp`, or null when there is none. */
  offsetForTimestamp(timestamp: number): number | null {
    this.ensureOpen();
    requireTimestamp('timestamp', timestamp);
    this.refresh();
    const found = this.reader.offsetForTimestamp(timestamp, this.logStartOffset);
    return found !== null && found < this.nextOffset ? found : null;
  }

  /**
   * An async iterator of records from `from` (an offset, or `{ timestamp }`; default
   * `startOffset`). Without `follow` it ends after the last record; with `follow: true` it waits
   * for appends until `signal` aborts or the log closes.
   */
  stream(options?: StreamOptions): LogStream {
    this.ensureOpen();
    return followLog(this, options);
  }

  /**
   * A named consumer whose committed position survives restarts (see `Consumer`): `committed()`,
   * `await commit(offset)`, and `stream()` from the committed offset.
   */
  consumer(name: string, options?: ConsumerOptions): Consumer {
    this.ensureOpen();
    return new Consumer(this, name, options);
  }

  /** Starts a new active segment now (a no-op when the active segment is empty). */
  roll(): void {
    this.ensureWritable();
    if (this.segmentsList.activeSegment.size === 0) return;
    this.rollAt(this.nextOffset);
  }

  private rollAt(baseOffset: number): LogSegment {
    const previous = this.segmentsList.activeSegment;
    if (previous.size === 0 && previous.baseOffset === baseOffset) return previous;
    previous.onBecomeInactiveSegment();
    const segment = LogSegment.create(this.dir, baseOffset, segmentOptionsOf(this.config, true, baseOffset));
    this.segmentsList.add(segment);
    this.directoryDirty = true;
    // Kafka's roll: everything below the new segment is flushed in the background, which moves
    // the recovery point past the rolled segment (the round covers offsets below `baseOffset`).
    this.flush().catch(() => undefined);
    return segment;
  }

  /**
   * Runs one compaction pass now, whatever the dirty ratio (see docs/COMPACTION.md): every key
   * keeps its latest record at its original offset, tombstones go once `deleteRetentionMs` has
   * passed since the pass that first kept them, the active segment is never touched. The pass
   * works in slices of a few milliseconds between appends. Resolves with what it did. Rejects
   * with `InvalidConfigError` on a log whose `cleanupPolicy` is `'delete'`, `LogClosedError`
   * when the log closes meanwhile, `LogIOError`, `CorruptRecordError`.
   */
  compact(): Promise<CompactionResult> {
    if (this.closed) return Promise.reject(new LogClosedError(`log ${this.dir} is closed`));
    if (this.config.readOnly) return Promise.reject(new ReadOnlyLogError(`log ${this.dir} was opened read-only`));
    return this.cleaner.compact();
  }

  /** @internal The log's cleaner (the CLI and tests read its checkpoint and dirty state). */
  get cleaner(): LogCleaner {
    this.cleanerState ??= new LogCleaner({
      dir: this.dir,
      config: this.config,
      segments: this.segmentsList,
      retirer: this.deleter,
      segmentOptions: (base) => ({ ...segmentOptionsOf(this.config, true, base), reserveLimit: 0 }),
      truncations: () => this.truncationCount,
      isClosed: () => this.closed,
      startOffset: () => this.logStartOffset,
      endOffset: () => this.nextOffset,
    });
    return this.cleanerState;
  }

  private get deleter(): SegmentDeleter {
    this.deleterState ??= segmentDeleterFor(this.dir, this.config, () => this.groupCommit.rounds);
    return this.deleterState;
  }

  /**
   * Runs one retention pass (also run every `retentionCheckIntervalMs` by an `unref`ed timer) and
   * returns the number of segments it deleted. Kafka's steps and order: segments wholly below
   * `startOffset`, then the oldest while the log is over `retentionBytes` by at least a whole
   * segment, then those whose newest record timestamp is more than `retentionMs` before `now`
   * (ms on the log's clock; default `clock()`). Oldest first, stopping at the first segment kept,
   * and never a segment holding an offset a consumer asked to keep. When every segment would go it
   * rolls first, so `endOffset` stays. `startOffset` moves to the first segment kept (checkpointed)
   * before the files are renamed `.deleted`; they are deleted `fileDeleteDelayMs` later. Cost: a
   * few system calls per deleted segment, whatever its size; no record data is read.
   * Throws `InvalidArgumentError` (bad `now`), `ReadOnlyLogError`, `LogClosedError`, `LogIOError`.
   */
  applyRetention(now?: number): number {
    this.ensureWritable();
    const at = now === undefined ? this.config.clock() : requireTimestamp('now', now);
    const deleted = this.retention.applyRetention(at);
    return deleted['log-start-offset'] + deleted.size + deleted.time;
  }

  /**
   * Advances `startOffset` to `offset` (never backwards: a lower one changes nothing), writes the
   * log-start-offset checkpoint, and deletes at once (two-step) the segments now wholly below it.
   * From then on reads below `startOffset` throw `OffsetOutOfRangeError`, even where the bytes
   * are still in the segment holding `offset`. Returns the new `startOffset`. Throws
   * `InvalidArgumentError` (not a safe non-negative integer), `OffsetOutOfRangeError` (past
   * `endOffset`), `ReadOnlyLogError`, `LogClosedError`, `LogIOError`.
   */
  deleteRecordsBefore(offset: number): number {
    this.ensureWritable();
    requireOffset('offset', offset);
    return this.retention.deleteRecordsBefore(offset);
  }

  /**
   * Removes every record at `offset` and after it, so that `endOffset` becomes exactly `offset`:
   * later segments are deleted (two-step), the segment holding `offset` is cut along with its
   * indexes, and a batch that `offset` falls inside is rewritten with its first records only
   * (same offsets, timestamps, compression and timestamp type). Synchronous; what it writes is
   * synced before it returns, and a crash in the middle is completed by the next open. A no-op at
   * or after `endOffset`. Throws `InvalidArgumentError`, `OffsetOutOfRangeError` (below
   * `startOffset`), `ReadOnlyLogError`, `LogClosedError`, `LogIOError`.
   */
  truncateTo(offset: number): void {
    this.ensureWritable();
    requireOffset('offset', offset);
    this.retention.truncateTo(offset);
    this.cleanerState?.truncated(offset);
  }

  private get retention(): LogRetention {
    this.retentionState ??= new LogRetention({
      dir: this.dir,
      // With 'compact' alone only the log start offset deletes (Kafka's cleanup.policy).
      config: deletesByRetention(this.config) ? this.config : { ...this.config, retentionMs: -1, retentionBytes: -1 },
      segments: this.segmentsList,
      deleter: this.deleter,
      cursorFor: (segment) => this.reader.cursorFor(segment),
      startOffset: () => this.logStartOffset,
      setStartOffset: (offset) => {
        this.logStartOffset = offset;
      },
      endOffset: () => this.nextOffset,
      setEndOffset: (offset) => {
        this.nextOffset = offset;
      },
      lowerRecoveryPoint: (offset) => {
        this.groupCommit.truncateTo(offset);
        if (offset >= this.recoveryPoint) return;
        this.recoveryPoint = offset;
        this.writeRecoveryCheckpoint();
      },
      roll: () => this.roll(),
      retentionFloor: () => this.retentionFloor(),
      truncated: (offset) => this.noteTruncation(offset),
      isClosed: () => this.closed,
    });
    return this.retentionState;
  }

  /**
   * Resolves once everything appended before the call is durable on disk: fdatasync of every
   * segment written since the last flush, off the main thread, shared by concurrent callers.
   */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new LogClosedError(`log ${this.dir} is closed`));
    if (this.config.readOnly) return Promise.resolve();
    return this.groupCommit.flush();
  }

  /** Like `flush()`, in place: blocks until everything appended so far is durable. */
  flushSync(): void {
    this.ensureWritable();
    const end = this.nextOffset;
    try {
      for (const segment of this.segmentsToSync()) segment.flush();
      if (this.directoryDirty) {
        fsyncDirectory(this.dir);
        this.directoryDirty = false;
      }
    } catch (err) {
      this.noteSyncFailure();
      throw err;
    }
    this.afterSync(end);
  }

  private segmentsToSync(): LogSegment[] {
    const list = this.segmentsList.values();
    const from = Math.max(0, this.segmentsList.floorIndex(this.recoveryPoint));
    return list.slice(from);
  }

  /**
   * One group-commit round, every sync on the thread pool: the `.log` of each segment from the
   * one holding the recovery point on, the indexes of those the recovery point will move past
   * (they are trusted after a crash), and the directory when segment files were created.
   */
  private async syncAsync(end: number): Promise<void> {
    const segments = this.segmentsToSync();
    const truncations = this.groupCommit.truncations;
    const directory = this.directoryDirty;
    this.directoryDirty = false;
    try {
      await Promise.all([
        ...segments.map((s, i) => (i < segments.length - 1 ? s.flushAsync() : s.log.flushAsync())),
        directory ? fsyncDirectoryAsync(this.dir) : undefined,
      ]);
    } catch (err) {
      if (directory) this.directoryDirty = true;
      if (!this.closed) this.noteSyncFailure();
      throw err;
    }
    // A truncation meanwhile cut what this round synced: the recovery point must not pass it.
    if (!this.closed && truncations === this.groupCommit.truncations) this.afterSync(end);
  }

  /**
   * A failed fsync may have dropped dirty pages (Linux marks them clean), so a later successful
   * one proves nothing about the bytes written before: from now on the recovery point on disk
   * stays where it was and `close()` leaves no clean-shutdown mark, so the next open checks every
   * batch from there by CRC.
   */
  private noteSyncFailure(): void {
    this.syncFailedAt ??= this.recoveryPoint;
  }

  /** After a sync: recovery point advanced (checkpointed when it changes segment). */
  private afterSync(end: number): void {
    if (end <= this.recoveryPoint) return;
    const before = this.segmentsList.floorIndex(this.recoveryPoint);
    this.recoveryPoint = end;
    this.groupCommit.markDurable(end);
    this.unflushedMessages = 0;
    // Recovery restarts at the segment holding the recovery point, so a checkpoint that stays
    // inside the same segment would change nothing; writing it only on a new segment saves syncs.
    if (this.segmentsList.floorIndex(end) !== before) this.writeRecoveryCheckpoint();
  }

  private writeRecoveryCheckpoint(): void {
    const point = this.syncFailedAt === null ? this.recoveryPoint : Math.min(this.recoveryPoint, this.syncFailedAt);
    writeCheckpoint(path.join(this.dir, RECOVERY_POINT_CHECKPOINT), this.tp, point);
  }

  /**
   * Flushes, writes the closing time-index entry, trims the indexes, writes the checkpoints and
   * the clean-shutdown mark, and releases the lock. A second call does nothing.
   */
  close(): void {
    if (this.closed) return;
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    this.cleanerState?.close();
    this.retentionState?.close();
    this.deleterState?.close();
    try {
      if (!this.config.readOnly) this.closeWriter();
    } finally {
      this.closed = true;
      for (const segment of this.segmentsList.values()) segment.closeHandlers();
      this.lock?.release();
      const waiters = [...this.appendWaiters];
      this.appendWaiters.clear();
      for (const wake of waiters) wake();
    }
  }

  private closeWriter(): void {
    this.flushSync();
    for (const segment of this.segmentsList.values()) segment.close();
    this.recoveryPoint = this.nextOffset;
    this.writeRecoveryCheckpoint();
    const start = this.logStartOffset > (this.segmentsList.firstSegment?.baseOffset ?? 0) ? this.logStartOffset : null;
    writeCheckpoint(path.join(this.dir, LOG_START_OFFSET_CHECKPOINT), this.tp, start);
    if (this.syncFailedAt === null) writeFileAtomically(path.join(this.dir, CLEAN_SHUTDOWN_FILE), '{"version":0,"brokerEpoch":0}');
  }

  /**
   * @internal Registers a function giving an offset that retention must keep: no segment holding
   * an offset at or above it is deleted (consumers with `retainUncommitted` use this). A function
   * may return null to set no floor. Returns the unregister function.
   */
  addRetentionFloor(floor: () => number | null): () => void {
    this.retentionFloors.add(floor);
    return () => this.retentionFloors.delete(floor);
  }

  /** @internal The lowest registered retention floor, or null when none applies. */
  retentionFloor(): number | null {
    // Consumers with `retainUncommitted`, of this process or any other, are in the offsets file.
    let min: number | null = retainedConsumerFloor(this.dir);
    for (const floor of this.retentionFloors) {
      const value = floor();
      if (value !== null && (min === null || value < min)) min = value;
    }
    return min;
  }

  /**
   * @internal Notes that records from `offset` on were removed (`truncateTo` calls it; a read-only
   * view calls it when it sees the end move back): streams past `offset` go back to it, and the
   * writer lowers consumer commits past it to it.
   */
  noteTruncation(offset: number): void {
    this.truncationCount++;
    this.recentTruncations.push({ count: this.truncationCount, offset });
    if (this.recentTruncations.length > 64) this.recentTruncations.shift();
    if (!this.config.readOnly) clampConsumerOffsets(this.dir, offset);
  }

  /**
   * @internal The truncations so far and the lowest offset cut since the caller had seen `seen`
   * of them (null when none; 0 when more happened than are remembered).
   */
  truncationsSince(seen: number): { count: number; lowest: number | null } {
    let lowest: number | null = null;
    if (seen < this.truncationCount - this.recentTruncations.length) lowest = 0;
    for (const t of this.recentTruncations) {
      if (t.count > seen && (lowest === null || t.offset < lowest)) lowest = t.offset;
    }
    return { count: this.truncationCount, lowest };
  }

  /** @internal Resolves at the next append or close; used by `stream({ follow: true })`. */
  waitForAppend(signal?: AbortSignal, pollMs = 100): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.appendWaiters.delete(done);
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      // A read-only log cannot hear another process's appends; it polls.
      const timer = setTimeout(done, this.config.readOnly ? pollMs : 2 ** 31 - 1);
      this.appendWaiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private startTimers(): void {
    this.retention.startTimer();
    if (isCompacted(this.config)) this.cleaner.startTimer();
    const { flushMs } = this.config;
    if (flushMs !== null) {
      this.flushTimer = setInterval(() => {
        this.flush().catch(() => undefined);
      }, Math.max(1, flushMs));
      this.flushTimer.unref();
    }
  }

  private checkReadable(offset: number): void {
    if (offset < this.logStartOffset || offset > this.nextOffset) {
      throw new OffsetOutOfRangeError(
        `offset ${offset} is out of range [${this.logStartOffset}, ${this.nextOffset}] of ${this.dir}`,
        { offset },
      );
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new LogClosedError(`log ${this.dir} is closed`);
  }

  private ensureWritable(): void {
    this.ensureOpen();
    if (this.config.readOnly) throw new ReadOnlyLogError(`log ${this.dir} was opened read-only`);
  }

  private readEndOffset(): number {
    const active = this.segmentsList.count === 0 ? undefined : this.segmentsList.activeSegment;
    if (active === undefined) return this.logStartOffset;
    return Math.max(active.readNextOffset(this.reader.cursorFor(active)), active.baseOffset);
  }

  /**
   * A read-only log catches up with the writer: new or removed segment files (the directory's
   * mtime moved) are reloaded, and the active segment's end is re-read from its file.
   */
  private refresh(): void {
    if (!this.config.readOnly || this.closed) return;
    const mtime = fs.statSync(this.dir).mtimeMs;
    if (mtime !== this.dirMtimeMs) {
      this.dirMtimeMs = mtime;
      this.reloadSegments();
    }
    if (this.segmentsList.count === 0) return;
    const active = this.segmentsList.activeSegment;
    const before = active.size;
    if (active.log.refreshSize() !== before) active.invalidate();
    const end = this.readEndOffset();
    if (end < this.nextOffset) this.noteTruncation(end);
    this.nextOffset = end;
  }

  private reloadSegments(): void {
    const fresh = new LogLoader({
      dir: this.dir,
      writable: false,
      cleanShutdown: true,
      recoveryPoint: 0,
      logStartOffset: readCheckpoint(path.join(this.dir, LOG_START_OFFSET_CHECKPOINT), this.tp) ?? 0,
      segmentOptions: (base) => segmentOptionsOf(this.config, false, base),
    }).load();
    for (const old of this.segmentsList.values()) old.closeHandlers();
    this.segmentsList.clear();
    for (const segment of fresh.segments.values()) this.segmentsList.add(segment);
    this.logStartOffset = fresh.logStartOffset;
  }
}

function segmentOptionsOf(config: ResolvedLogConfig, writable: boolean, baseOffset: number): SegmentOptions {
  const jitter = config.segmentJitterMs === 0 ? 0 : Math.floor(Math.random() * Math.min(config.segmentJitterMs, config.segmentMs));
  void baseOffset;
  return {
    indexIntervalBytes: config.indexIntervalBytes,
    maxIndexSize: config.segmentIndexBytes,
    rollJitterMs: jitter,
    writable,
    now: config.clock(),
    reserveLimit: config.preallocate ? config.segmentBytes : 0,
  };
}

function prepareDirectory(dir: string, readOnly: boolean): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = undefined;
  }
  if (stat !== undefined && !stat.isDirectory()) {
    throw new InvalidArgumentError(`${dir} is not a directory`, { file: dir });
  }
  if (stat === undefined) {
    if (readOnly) throw new LogIOError(`partition directory ${dir} does not exist`, { file: dir });
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new LogIOError(`cannot create partition directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
    }
  }
  try {
    fs.accessSync(dir, readOnly ? fs.constants.R_OK | fs.constants.X_OK : fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (cause) {
    throw new LogIOError(`no permission to ${readOnly ? 'read' : 'write'} partition directory ${dir}`, { file: dir, cause });
  }
}
