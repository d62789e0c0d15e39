import fs from 'node:fs';
import path from 'node:path';
import {
  InvalidArgumentError,
  LogClosedError,
  type LogIOError,
  OffsetOutOfRangeError,
  ReadOnlyLogError,
  RecordTooLargeError,
  warnBackgroundFailure,
} from '../errors.js';
import { isCompressionType } from '../record/batch-layout.js';
import { encodeBatch, type BatchScratch } from '../record/batch-builder.js';
import { checkEncodedBatches } from './encoded-batches.js';
import type { CompressionType, LogRecord, RecordInput } from '../record/types.js';
import type { LogSegment, SegmentOptions } from '../segment/log-segment.js';
import { optionalPositive, requireOffset, requireOptions, requireTimestamp } from './arguments.js';
import {
  LOG_START_OFFSET_CHECKPOINT,
  RECOVERY_POINT_CHECKPOINT,
  fsyncDirectory,
  fsyncDirectoryAsync,
  readCheckpoint,
  topicPartitionOf,
  writeFileAtomically,
} from '../files/checkpoint.js';
import { CLEAN_SHUTDOWN_FILE } from '../files/file-names.js';
import { deletesByRetention, isCompacted, requireKeys, resolveConfig, segmentOptionsOf, type LogConfig, type ResolvedLogConfig } from './config.js';
import { prepareDirectory } from './partition-directory.js';
import { GroupCommit } from './flusher.js';
import { LocalLog, PendingWrite, type LocalLogState } from './local-log.js';
import { ReadOnlyView } from './read-only-view.js';
import { DirectoryLock } from './lock.js';
import { LogLoader, checkPartitionDirectory, type RecoveryReport } from './log-loader.js';
import { writeActiveSegmentCheckpoint } from './active-segment-checkpoint.js';
import { LogRetention, segmentDeleterFor } from '../retention/log-retention.js';
import type { SegmentDeleter } from '../retention/segment-deleter.js';
import { LogCleaner } from '../cleaner/log-cleaner.js';
import { requireKeysInBatch } from '../cleaner/record-walker.js';
import type { CompactionResult } from '../cleaner/cleaner.js';
import { followLog, type LogStream, type StreamOptions } from './stream.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { keepLayout, renewLayouts } from '../layouts.js';
import { LogSegments } from '../segment/log-segments.js';
import { clampConsumerOffsets, retainedConsumerFloor } from './consumer-offsets.js';


const DEFAULT_MAX_BYTES = 1024 * 1024;
/** The offsets `append` assigned: `baseOffset` to `lastOffset`, inclusive. */
export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

/** @internal What `appendEncoded` assigned. */
export interface EncodedAppendResult extends AppendResult {
  /** The time written into LogAppendTime batches, or -1. */
  logAppendTime: number;
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
  /** The segments and offsets (src/log/local-log.ts); everything else here is behaviour around them. */
  private readonly local: LocalLog;
  private readonly groupCommit: GroupCommit;
  /** Offsets below which retention may delete; the lowest one wins (see `addRetentionFloor`). */
  private readonly retentionFloors = new Set<() => number | null>();
  /** Retention, log start offset and truncation (src/retention/), made on first use. */
  private retentionState: LogRetention | null = null;
  /** Key compaction (src/cleaner/), made on first use. */
  private cleanerState: LogCleaner | null = null;
  private deleterState: SegmentDeleter | null = null;
  private closed = false;
  private unflushedMessages = 0;
  /** The batch of the append running (reused: an append allocates no state of its own). */
  private readonly pending = new PendingWrite();
  private directoryDirty = false;
  private flushTimer: NodeJS.Timeout | null = null;
  /** A read-only opener's view of the writer's changes (src/log/read-only-view.ts); null for the writer. */
  private readonly view: ReadOnlyView | null;
  /** A background flush failed and no `flush()`/`flushSync()` has reported it yet. */
  private backgroundFailure: unknown = null;

  private constructor(
    /** The partition directory. */
    readonly dir: string,
    private readonly config: ResolvedLogConfig,
    private readonly lock: DirectoryLock | null,
    loaded: LocalLogState,
    /** What opening found and repaired. */
    readonly recovery: RecoveryReport,
  ) {
    const writable = !config.readOnly;
    this.local = new LocalLog(
      {
        dir,
        config,
        writable,
        segmentOptions: () => segmentOptionsOf(config, writable),
        events: {
          rolled: () => this.afterRoll(),
          recoveryPointLowered: (offset) => this.groupCommit.truncateTo(offset),
          truncated: (offset) => {
            if (writable) clampConsumerOffsets(this.dir, offset);
          },
        },
      },
      loaded,
    );
    this.view = config.readOnly ? new ReadOnlyView(this.local, config, () => this.closed) : null;
    this.groupCommit = new GroupCommit(
      {
        currentEndOffset: () => this.local.endOffset,
        syncAsync: (end) => this.syncAsync(end),
        isClosed: () => this.closed,
      },
      this.local.recoveryPoint,
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
    const segmentOptions = (): SegmentOptions => segmentOptionsOf(config, writable);
    const loaded = new LogLoader({ dir, writable, cleanShutdown, recoveryPoint, logStartOffset, segmentOptions }).load();
    if (writable) loaded.segments.activeSegment.prepareForAppends();
    const log = new Log(dir, config, lock, loaded, loaded.report);
    if (writable) log.startTimers();
    return log;
  }

  /** The log start offset: the first offset that can be read. */
  get startOffset(): number {
    this.ensureOpen();
    return this.catchingUp(() => this.local.startOffset);
  }

  /** The offset the next appended record will get. */
  get endOffset(): number {
    this.ensureOpen();
    return this.catchingUp(() => this.local.endOffset);
  }

  /** Bytes of all `.log` files. */
  get size(): number {
    this.ensureOpen();
    return this.catchingUp(() => this.local.size);
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
    return this.catchingUp(() => {
      const list = this.local.segments.values();
      return list.map((s, i) => ({
        baseOffset: s.baseOffset,
        endOffset: i === list.length - 1 ? this.local.endOffset : s.readNextOffset(this.local.reader.cursorFor(s)),
        sizeBytes: s.size,
        maxTimestamp: s.maxTimestamp,
        path: s.log.file,
      }));
    });
  }

  /**
   * Appends one record or an array of records as one record batch and returns the offsets
   * assigned. Synchronous: returns once the batch is in the OS page cache (see `flush()` for
   * durability). All or nothing: a batch that is invalid, too large or fails to write leaves no
   * trace. Throws `InvalidRecordError`, `RecordTooLargeError`, `LogIOError`.
   */
  append(records: RecordInput | readonly RecordInput[], options?: AppendOptions): AppendResult {
    const write = this.encodeAppend(records, options, undefined);
    this.local.appendBatch(write.batch, write.size, write.lastOffset, write.maxTimestamp, write.now);
    this.afterAppend(write.recordCount);
    return { baseOffset: write.lastOffset - write.recordCount + 1, lastOffset: write.lastOffset };
  }

  /**
   * @internal `append` in steps, for a caller that writes several logs' batches together (a
   * topic): checks and encodes the records (into `scratch`), rolls if due, and returns where the
   * batch goes (`fd`, `position`). The caller writes `batch[0, size)` there, then calls
   * `completeAppend`, or `abandonAppend` to cut it off again; nothing else may use this log
   * between. Throws what `append` throws before its write.
   */
  beginAppend(records: RecordInput | readonly RecordInput[], options: AppendOptions | undefined, scratch: BatchScratch): PendingWrite {
    const write = this.encodeAppend(records, options, scratch);
    this.local.beginAppend(write);
    return write;
  }

  /** @internal The batch of `beginAppend` is written: it is appended (offsets, indexes, waiters, flush policy). */
  completeAppend(write: PendingWrite): AppendResult {
    this.local.completeAppend(write);
    this.afterAppend(write.recordCount);
    return { baseOffset: write.lastOffset - write.recordCount + 1, lastOffset: write.lastOffset };
  }

  /**
   * @internal The batch of `beginAppend` does not stay: cuts off what of it landed. With the
   * write's `cause`, returns the `LogIOError` to throw (as `append` would have); else null.
   */
  abandonAppend(write: PendingWrite, cause?: unknown): LogIOError | null {
    return this.local.abandonAppend(write, cause);
  }

  /** Checks and encodes the records of an append as the log's next batch, into the log's `PendingWrite`. */
  private encodeAppend(records: RecordInput | readonly RecordInput[], options: AppendOptions | undefined, scratch: BatchScratch | undefined): PendingWrite {
    this.ensureWritable();
    const list = Array.isArray(records) ? (records as readonly RecordInput[]) : [records as RecordInput];
    if (list.length === 0) throw new InvalidArgumentError('append needs at least one record');
    if (isCompacted(this.config)) requireKeys(list);
    const compression = options === undefined ? this.config.compression : this.appendCompression(options);
    const now = this.config.clock();
    const baseOffset = this.local.endOffset;
    const batch = encodeBatch(list, baseOffset, { compression, timestampType: this.config.timestampType, now }, scratch);
    const size = batch.buffer.length;
    this.checkBatchSize(size);
    const write = this.pending;
    write.batch = batch.buffer;
    write.size = size;
    write.lastOffset = baseOffset + batch.lastOffsetDelta;
    write.maxTimestamp = batch.maxTimestamp;
    write.now = now;
    write.recordCount = batch.recordCount;
    return write;
  }

  /**
   * @internal Appends a Kafka producer's record set (one or more encoded v2 batches) as it is:
   * every batch is checked first (`checkEncodedBatches`), then each gets its offsets written in
   * place and goes to the segment unchanged. Returns the offsets assigned and the append time
   * (-1 for CreateTime). Throws `InvalidRecordError`, `RecordTooLargeError`, `LogIOError`.
   */
  appendEncoded(records: Buffer): EncodedAppendResult {
    this.ensureWritable();
    const batches = checkEncodedBatches(records, this.config.maxMessageBytes);
    for (const batch of batches) this.checkBatchSize(batch.size);
    if (isCompacted(this.config)) for (const batch of batches) requireKeysInBatch(records, batch.position, batch.size);
    const now = this.config.clock();
    const { baseOffset, lastOffset } = this.local.appendEncodedBatches(records, batches, this.config.timestampType, now);
    let count = 0;
    for (const batch of batches) count += batch.recordCount;
    this.afterAppend(count);
    return { baseOffset, lastOffset, logAppendTime: this.config.timestampType === 'LogAppendTime' ? now : -1 };
  }

  /** @internal Resolves at the next append or close, or when `signal` aborts (the broker's Fetch long-poll). */
  waitForAppend(signal?: AbortSignal): Promise<void> {
    return this.local.waitForAppend(signal);
  }

  private appendCompression(options: AppendOptions): CompressionType {
    const opts = requireOptions<AppendOptions>('append options', options, ['compression']);
    if (opts.compression === undefined) return this.config.compression;
    if (!isCompressionType(opts.compression)) {
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
      this.flushInBackground();
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
    return this.catchingUp(() => {
      this.checkReadable(offset);
      const end = this.local.endOffset;
      if (offset === end) return [];
      return this.local.reader.read(offset, end, maxBytes, maxRecords);
    }, hasRecords);
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
    return this.catchingUp(() => {
      this.checkReadable(offset);
      const end = this.local.endOffset;
      if (offset === end) return Buffer.alloc(0);
      return this.local.reader.readBatches(offset, end, maxBytes);
    }, hasBytes);
  }

  /** The earliest offset whose record timestamp is >= `timestamp`, or null when there is none. */
  offsetForTimestamp(timestamp: number): number | null {
    this.ensureOpen();
    requireTimestamp('timestamp', timestamp);
    return this.catchingUp(() => {
      const found = this.local.reader.offsetForTimestamp(timestamp, this.local.startOffset);
      return found !== null && found < this.local.endOffset ? found : null;
    }, isFound);
  }

  /**
   * An async iterator of records from `from` (an offset, or `{ timestamp }`; default
   * `startOffset`). Without `follow` it ends after the last record; with `follow: true` it waits
   * for appends until `signal` aborts or the log closes.
   */
  stream(options?: StreamOptions): LogStream {
    this.ensureOpen();
    return followLog(this, this.local, options);
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
    this.local.roll();
  }

  /** After any roll (appends, `roll()`, retention): the new segment's directory entry needs a sync. */
  private afterRoll(): void {
    this.directoryDirty = true;
    // Kafka's roll: everything below the new segment is flushed in the background, which moves
    // the recovery point past the rolled segment (the round covers offsets below its base offset).
    this.flushInBackground();
  }

  /**
   * A flush nobody awaits (roll, `flushMessages`, `flushMs`). Its failure is reported as a
   * `SEGLOG_FLUSH` process warning and thrown by the next `flush()` or `flushSync()`, whose
   * caller is relying on exactly what failed.
   */
  private flushInBackground(): void {
    if (this.closed || this.config.readOnly) return;
    this.groupCommit.flush().catch((err: unknown) => {
      if (this.closed) return;
      this.backgroundFailure ??= err;
      warnBackgroundFailure('SEGLOG_FLUSH', `background flush of ${this.dir} failed: ${(err as Error).message}`, err);
    });
  }

  /** Throws (once) what a background flush left to report. */
  private throwBackgroundFailure(): void {
    const failure = this.backgroundFailure;
    if (failure === null) return;
    this.backgroundFailure = null;
    throw failure;
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
      log: this.local,
      config: this.config,
      retirer: this.deleter,
      segmentOptions: () => ({ ...segmentOptionsOf(this.config, true), reserveLimit: 0 }),
      isClosed: () => this.closed,
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
      log: this.local,
      // With 'compact' alone only the log start offset deletes (Kafka's cleanup.policy).
      config: deletesByRetention(this.config) ? this.config : { ...this.config, retentionMs: -1, retentionBytes: -1 },
      deleter: this.deleter,
      retentionFloor: () => this.retentionFloor(),
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
    try {
      this.throwBackgroundFailure();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.groupCommit.flush();
  }

  /** Like `flush()`, in place: blocks until everything appended so far is durable. */
  flushSync(): void {
    this.ensureWritable();
    this.throwBackgroundFailure();
    const end = this.local.endOffset;
    try {
      this.local.trimSealedIndexes();
      for (const segment of this.local.segmentsToSync()) segment.flush();
      if (this.directoryDirty) {
        fsyncDirectory(this.dir);
        this.directoryDirty = false;
      }
    } catch (err) {
      this.local.noteSyncFailure();
      throw err;
    }
    this.afterSync(end);
  }

  /**
   * One group-commit round, every sync on the thread pool: the `.log` of each segment from the
   * one holding the recovery point on, the indexes of those the recovery point will move past
   * (they are trusted after a crash), and the directory when segment files were created.
   */
  private async syncAsync(end: number): Promise<void> {
    const truncations = this.groupCommit.truncations;
    if (this.local.hasSealedUntrimmed) {
      // A roll starts this round from inside `append`: the indexes it sealed are trimmed once
      // that call has returned, and before the syncs, which make the trimmed lengths durable.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closed) return;
      this.local.trimSealedIndexes();
    }
    const segments: LogSegment[] = this.local.segmentsToSync();
    const directory = this.directoryDirty;
    this.directoryDirty = false;
    try {
      await Promise.all([
        ...segments.map((s, i) => (i < segments.length - 1 ? s.flushAsync() : s.log.flushAsync())),
        directory ? fsyncDirectoryAsync(this.dir) : undefined,
      ]);
    } catch (err) {
      if (directory) this.directoryDirty = true;
      // A failed fsync may have dropped dirty pages (see `LocalLog.noteSyncFailure`).
      if (!this.closed) this.local.noteSyncFailure();
      throw err;
    }
    // A truncation meanwhile cut what this round synced: the recovery point must not pass it.
    if (!this.closed && truncations === this.groupCommit.truncations) this.afterSync(end);
  }

  /** After a sync: the recovery point moves up to `end`. */
  private afterSync(end: number): void {
    if (!this.local.markFlushedTo(end)) return;
    this.groupCommit.markDurable(end);
    this.unflushedMessages = 0;
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
      this.local.closeHandlers();
      this.lock?.release();
      renewLayouts();
    }
  }

  private closeWriter(): void {
    this.flushSync();
    for (const segment of this.local.segments.values()) segment.close();
    this.local.writeClosingCheckpoints();
    // After a failed fsync the next open must check everything from the recovery point by CRC.
    if (this.local.syncFailed) return;
    writeFileAtomically(path.join(this.dir, CLEAN_SHUTDOWN_FILE), '{"version":0,"brokerEpoch":0}');
    // Last: the later it is written, the likelier the files' last change is of an earlier clock tick.
    writeActiveSegmentCheckpoint(this.dir, this.local.segments.count === 0 ? undefined : this.local.segments.activeSegment);
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

  private startTimers(): void {
    this.retention.startTimer();
    if (isCompacted(this.config)) this.cleaner.startTimer();
    const { flushMs } = this.config;
    if (flushMs !== null) {
      this.flushTimer = setInterval(() => this.flushInBackground(), Math.max(1, flushMs));
      this.flushTimer.unref();
    }
  }

  private checkReadable(offset: number): void {
    const { startOffset, endOffset } = this.local;
    if (offset < startOffset || offset > endOffset) {
      throw new OffsetOutOfRangeError(
        `offset ${offset} is out of range [${startOffset}, ${endOffset}] of ${this.dir}`,
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

  /** Runs `read`; a read-only log first catches its view up with the writer (see `ReadOnlyView.read`). */
  private catchingUp<T>(read: () => T, answered?: (result: T) => boolean): T {
    return this.view === null ? read() : this.view.read(read, answered);
  }

  static {
    // The layouts of a log, its state, reader and flusher, and of a stream (src/layouts.ts): a
    // writer's log of no segments that is never opened (no lock, timer or file). Its directory is
    // absolute, so that nothing asks for the working directory, which may have been removed.
    const report: RecoveryReport = { cleanShutdown: true, recoveryPoint: 0, segmentsRecovered: 0, truncatedBytes: 0, actions: [] };
    keepLayout(() => {
      const log = new Log('/', resolveConfig(undefined), null, { segments: new LogSegments(), logStartOffset: 0, recoveryPoint: 0 }, report);
      return [log, log.stream()];
    });
  }
}

function hasRecords(records: LogRecord[]): boolean {
  return records.length > 0;
}

function hasBytes(bytes: Buffer): boolean {
  return bytes.length > 0;
}

function isFound(offset: number | null): boolean {
  return offset !== null;
}
