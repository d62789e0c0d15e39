import fs from 'node:fs';
import path from 'node:path';
import {
  InvalidArgumentError,
  InvalidConfigError,
  LogClosedError,
  LogIOError,
  LogLockedError,
  ReadOnlyLogError,
} from '../errors.js';
import { requireOffset, requireOptions, requireTimestamp } from '../log/arguments.js';
import { describe, isCompacted, requireKeys } from '../log/config.js';
import { DirectoryLock } from '../log/lock.js';
import { Log, type AppendOptions } from '../log/log.js';
import type { PendingWrite } from '../log/local-log.js';
import { BatchWrites } from '../files/batch-writes.js';
import { BatchScratch } from '../record/batch-builder.js';
import type { StreamOptions } from '../log/stream.js';
import { checkTopicName, defaultTopicName, resolveTopicConfig, type ResolvedTopicConfig, type TopicConfig } from './config.js';
import { mergeIterators } from './merge.js';
import {
  MAX_PARTITIONS,
  TOPIC_METADATA_FILE,
  isPartitionCount,
  listPartitionDirs,
  partitionDirName,
  readTopicMetadata,
  writeTopicMetadata,
  type TopicMetadata,
} from './metadata.js';
import { AppendPlan } from './append-plan.js';
import { StickyPartitioner, keyOf, partitionForKey, stickyRecordBytes } from './partitioner.js';
import type { TopicAppendResult, TopicRecord, TopicRecordInput } from './types.js';

/** Options of `topic.stream`. */
export interface TopicStreamOptions {
  /**
   * Where each partition starts: `'earliest'` (default, its `startOffset`), `'latest'` (its
   * `endOffset` when `stream` is called), `{ timestamp }` (its first record at or after it), or
   * an array with one offset per partition.
   */
  from?: 'earliest' | 'latest' | { timestamp: number } | readonly number[];
  /** Keep waiting for appends after the last record. Default false. */
  follow?: boolean;
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /** Bytes of batches read per step and partition. Default 1 MiB. */
  maxBytes?: number;
}

const STREAM_KEYS = ['from', 'follow', 'signal', 'maxBytes'] as const;

/** A partition's encoder memory starts this small and grows to its batches (a topic may have many partitions). */
const SCRATCH_START_BYTES = 4096;

/**
 * A topic: `partitions` seglog `Log`s in one directory, named as Kafka names them
 * (`<topic>/<name>-0`, `<name>-1`, ...), with the partition count in `<topic>/topic.json`.
 * Records are spread as Kafka's Java producer spreads them (see `append`), so each key keeps its
 * order in one partition, on the same partition number a Kafka producer would pick.
 *
 * Synchronous like `Log`, and single-writer: open takes a lock on the topic directory, and each
 * partition its own. Retention and flush settings apply per partition.
 */
export class Topic {
  private closed = false;
  private readonly sticky: StickyPartitioner;
  /** `append`'s plan, kept between calls (null while a call holds it). */
  private spare: AppendPlan | null = new AppendPlan();
  /** `appendTogether`'s state, reused from call to call: the writes, the begun appends, encoder memory per batch. */
  private readonly writes = new BatchWrites();
  private readonly begun: PendingWrite[] = [];
  private readonly scratches: BatchScratch[] = [];

  private constructor(
    /** The topic directory (absolute). */
    readonly dir: string,
    /** The topic name, the prefix of the partition directories. */
    readonly name: string,
    private readonly logs: Log[],
    private readonly config: ResolvedTopicConfig,
    private readonly lock: DirectoryLock | null,
  ) {
    this.sticky = new StickyPartitioner(config.stickyBatchBytes);
  }

  /**
   * Opens (creating if needed) the topic in `dir`. For a new topic `partitions` is required; for
   * an existing one it is read from `topic.json`, and a different `partitions` throws
   * `InvalidConfigError` before anything on disk changes (grow a topic with `addPartitions`).
   * A directory of Kafka partition directories (`<name>-0` ...) without `topic.json` is adopted:
   * its count is `partitions`, or the number of those directories when omitted.
   * Every key other than the topic's own (`name`, `partitions`, `partitioner`, `stickyBatchBytes`)
   * goes to each partition's `Log.open`. Throws `InvalidConfigError`, `LogLockedError`, `LogIOError`.
   */
  static open(dir: string, config?: TopicConfig): Topic {
    if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError(`dir must be a non-empty string, got ${describe(dir)}`);
    const resolved = resolveTopicConfig(config);
    const absolute = path.resolve(dir);
    prepareTopicDirectory(absolute, resolved);
    const lock = resolved.readOnly ? null : acquireTopicLock(absolute);
    try {
      const metadata = decideMetadata(absolute, resolved.name, resolved.partitions);
      if (!resolved.readOnly && metadata.write) writeTopicMetadata(absolute, metadata);
      const logs = openPartitions(absolute, metadata, 0, resolved);
      return new Topic(absolute, metadata.name, logs, resolved, lock);
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  /** The number of partitions. */
  get partitions(): number {
    return this.logs.length;
  }

  /** True after `close()`. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** True when opened with `readOnly: true`. */
  get readOnly(): boolean {
    return this.config.readOnly;
  }

  /** The `Log` of partition `p`. Throws `InvalidArgumentError` unless `p` is an integer in [0, partitions). */
  partition(p: number): Log {
    this.ensureOpen();
    return this.logs[this.checkPartition(p, 'partition')]!;
  }

  /**
   * Adds `n` partitions (new, empty `Log`s) and returns the new count. `topic.json` is updated
   * first, so a crash midway leaves a count whose missing directories the next open creates.
   *
   * Caveat, as in Kafka: the partition of a key is its hash modulo the count, so after this most
   * keys map to a different partition. Records already written stay where they are; a key's
   * records from before and after the change are then in two partitions, and ordering between
   * them is lost. Choose the count up front when ordering by key matters.
   */
  addPartitions(n: number): number {
    this.ensureWritable();
    const before = this.logs.length;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || !isPartitionCount(before + n)) {
      throw new InvalidArgumentError(`addPartitions needs a positive integer that keeps the topic at most ${MAX_PARTITIONS} partitions, got ${describe(n)}`);
    }
    const grown: TopicMetadata = { name: this.name, partitions: before + n };
    const fresh = range(before, grown.partitions).filter((p) => !fs.existsSync(this.partitionDir(p)));
    writeTopicMetadata(this.dir, grown);
    try {
      this.logs.push(...openPartitions(this.dir, grown, before, this.config));
    } catch (err) {
      writeTopicMetadata(this.dir, { name: this.name, partitions: before });
      for (const p of fresh) fs.rmSync(this.partitionDir(p), { recursive: true, force: true });
      throw err;
    }
    return grown.partitions;
  }

  /**
   * Appends records and returns `{ partition, offset }` for each, in input order. A record goes
   * to its explicit `partition`, else to the custom `partitioner`'s choice, else to Kafka's
   * choice for its key (`toPositive(murmur2(keyBytes)) % partitions`; the empty key is a key),
   * else (no key) to the sticky partition (see `partitioner.ts`: all keyless records of a call go
   * to one partition, which changes after about `stickyBatchBytes`).
   *
   * The records bound for one partition form one batch (one `Log.append`), in input order. Every
   * partition choice is validated before anything is written, so a bad `partition` or key type
   * throws (`InvalidArgumentError`, `InvalidRecordError`) with nothing appended. Each partition's
   * batch is all-or-nothing, but a call spanning partitions is not atomic: if one partition's
   * append throws (a bad value, `RecordTooLargeError`, I/O), the partitions before it (ascending
   * order) keep their batches, as with a Kafka producer without transactions.
   */
  append(records: TopicRecordInput | readonly TopicRecordInput[], options?: AppendOptions): TopicAppendResult[] {
    this.ensureWritable();
    const list = Array.isArray(records) ? (records as readonly TopicRecordInput[]) : [records as TopicRecordInput];
    if (list.length === 0) throw new InvalidArgumentError('append needs at least one record');
    // Checked for the whole call here: a keyless record for a later partition must not leave earlier ones written.
    if (isCompacted(this.config.logConfig)) requireKeys(list);
    // Borrowed for the call: a custom partitioner that appends to this topic gets a plan of its own.
    const plan = this.spare ?? new AppendPlan();
    this.spare = null;
    try {
      return this.appendPlanned(list, this.plan(list, plan), options);
    } finally {
      plan.clear();
      this.spare = plan;
    }
  }

  private appendPlanned(list: readonly TopicRecordInput[], plan: AppendPlan, options: AppendOptions | undefined): TopicAppendResult[] {
    const { touched, baseOffsets, partitions, positions } = plan;
    if (touched.length > 1 && BatchWrites.available()) {
      this.appendTogether(plan, options);
    } else {
      for (const p of touched) {
        // A call whose records all go to one partition hands the caller's array on as is.
        const batch = touched.length === 1 ? list : plan.groups[p]!;
        baseOffsets[p] = this.logs[p]!.append(batch, options).baseOffset;
      }
    }
    if (plan.stickyPartition >= 0) this.sticky.completeBatch(plan.stickyBytes, this.logs.length);
    const results = new Array<TopicAppendResult>(list.length);
    for (let i = 0; i < list.length; i++) {
      const partition = partitions[i]!;
      results[i] = { partition, offset: baseOffsets[partition]! + positions[i]! };
    }
    return results;
  }

  /**
   * The partitions' appends of one call with their writes done together (`BatchWrites`, on two
   * threads): each batch is encoded and placed (`Log.beginAppend`) and handed to the writes,
   * which may start on it while the next is encoded; once all are written, each is completed in
   * ascending order. The outcome is the one-after-another loop's: when
   * a partition's batch cannot be made or written, the partitions before it keep theirs, and
   * those after it, written already, are cut back to where they ended (a roll one of them did
   * stays, empty); the first failure in partition order is thrown.
   */
  private appendTogether(plan: AppendPlan, options: AppendOptions | undefined): void {
    const { touched, baseOffsets } = plan;
    const begun = this.begun;
    const writes = this.writes;
    let failure: unknown = null;
    try {
      for (let i = 0; i < touched.length; i++) {
        const p = touched[i]!;
        const write = this.logs[p]!.beginAppend(plan.groups[p]!, options, this.scratchFor(i));
        begun.push(write);
        // The worker writes each batch while the next is made; the first one's size stands for all.
        if (i === 0) writes.start(touched.length, write.size * touched.length);
        writes.add(write.fd, write.batch, write.size, write.position);
      }
    } catch (err) {
      failure = err; // thrown once the partitions before it are appended, as the loop would have
    }
    try {
      this.runWrites(touched, begun);
      let error: unknown = null;
      for (let i = 0; i < begun.length; i++) {
        const log = this.logs[touched[i]!]!;
        const cause = writes.failure(i);
        if (error !== null) log.abandonAppend(begun[i]!);
        else if (cause !== null) error = log.abandonAppend(begun[i]!, cause);
        else error = this.completeOne(log, begun[i]!, touched[i]!, baseOffsets);
      }
      failure = error ?? failure;
    } finally {
      writes.clear();
      begun.length = 0;
    }
    if (failure !== null) throw failure;
  }

  /** Runs the writes; if the call itself throws (bad arguments), no batch stays. */
  private runWrites(touched: readonly number[], begun: readonly PendingWrite[]): void {
    try {
      this.writes.run();
    } catch (err) {
      for (let i = 0; i < begun.length; i++) this.logs[touched[i]!]!.abandonAppend(begun[i]!);
      throw err;
    }
  }

  /** Completes one partition's written batch; returns what it threw, else null. */
  private completeOne(log: Log, write: PendingWrite, p: number, baseOffsets: number[]): unknown {
    try {
      baseOffsets[p] = log.completeAppend(write).baseOffset;
      return null;
    } catch (err) {
      return err;
    }
  }

  /** The encoder memory of the `i`-th partition of a call (each batch of a call needs its own until written). */
  private scratchFor(i: number): BatchScratch {
    while (this.scratches.length <= i) this.scratches.push(new BatchScratch(SCRATCH_START_BYTES));
    return this.scratches[i]!;
  }

  /** Chooses every record's partition and groups the records per partition, before any write. */
  private plan(list: readonly TopicRecordInput[], plan: AppendPlan): AppendPlan {
    const n = this.logs.length;
    plan.reset(n, list.length);
    for (let i = 0; i < list.length; i++) {
      const record = list[i]!;
      plan.add(i, this.choosePartition(record, i, n, plan), record);
    }
    // Ascending, so a failure midway always leaves the same kind of prefix (see append).
    if (plan.touched.length > 1) plan.touched.sort((a, b) => a - b);
    return plan;
  }

  private choosePartition(record: TopicRecordInput, i: number, n: number, plan: AppendPlan): number {
    const key = keyOf(record, i);
    const explicit = record.partition;
    if (explicit !== undefined && explicit !== null) return this.checkPartition(explicit, `Record ${i}: partition`);
    const custom = this.config.partitioner;
    if (custom !== undefined) return this.checkPartition(custom(record, n), `Record ${i}: the partitioner's choice`);
    if (key !== null) return partitionForKey(key, n);
    if (plan.stickyPartition < 0) plan.stickyPartition = this.sticky.partition(n);
    plan.stickyBytes += stickyRecordBytes(record);
    return plan.stickyPartition;
  }

  /** Each partition's `endOffset` (the next offset it will assign), indexed by partition. */
  endOffsets(): number[] {
    this.ensureOpen();
    return this.logs.map((log) => log.endOffset);
  }

  /** Each partition's `startOffset` (its first readable offset), indexed by partition. */
  startOffsets(): number[] {
    this.ensureOpen();
    return this.logs.map((log) => log.startOffset);
  }

  /**
   * Per partition, the earliest offset whose record timestamp is `>= timestamp`, or null where
   * there is none: Kafka's ListOffsets by time. Reads each partition's time index.
   */
  offsetsForTimestamp(timestamp: number): (number | null)[] {
    this.ensureOpen();
    requireTimestamp('timestamp', timestamp);
    return this.logs.map((log) => log.offsetForTimestamp(timestamp));
  }

  /**
   * An async iterator of the records of all partitions (those the topic has when called), each
   * with its `partition`, in offset order within each partition; partitions with records ready
   * take turns. Without `follow` it ends once every partition is read to its end; with
   * `follow: true` it waits for appends until `signal` aborts or the topic closes. Stopping early
   * (`break`) releases the partitions' waits at once.
   */
  stream(options?: TopicStreamOptions): AsyncIterableIterator<TopicRecord> {
    this.ensureOpen();
    const opts = requireOptions<TopicStreamOptions>('stream options', options, STREAM_KEYS);
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) {
      throw new InvalidArgumentError(`signal must be an AbortSignal, got ${describe(opts.signal)}`);
    }
    const starts = this.streamStarts(opts.from);
    const stop = new AbortController();
    const sources = this.logs.map((log, p) => {
      const from = starts[p];
      const logOptions: StreamOptions = { follow: opts.follow === true, signal: stop.signal };
      if (from !== undefined) logOptions.from = from;
      if (opts.maxBytes !== undefined) logOptions.maxBytes = opts.maxBytes;
      return withPartition(log.stream(logOptions), p);
    });
    return linkedToSignal(mergeIterators(sources, stop), stop, opts.signal);
  }

  /** Each partition's `from` for `Log.stream`: undefined for its start offset. */
  private streamStarts(from: TopicStreamOptions['from']): (StreamOptions['from'] | undefined)[] {
    const n = this.logs.length;
    if (from === undefined || from === 'earliest') return new Array(n).fill(undefined);
    if (from === 'latest') return this.logs.map((log) => log.endOffset);
    if (Array.isArray(from)) {
      if (from.length !== n) throw new InvalidArgumentError(`from has ${from.length} offsets for ${n} partitions`);
      return from.map((offset: unknown, p) => requireOffset(`from[${p}]`, offset));
    }
    if (typeof from === 'object' && from !== null && 'timestamp' in from) {
      return new Array(n).fill({ timestamp: requireTimestamp('from.timestamp', from.timestamp) });
    }
    throw new InvalidArgumentError(`from must be 'earliest', 'latest', { timestamp } or an array of offsets, got ${describe(from)}`);
  }

  /** Resolves once everything appended to any partition before the call is durable on disk. */
  async flush(): Promise<void> {
    if (this.closed) throw new LogClosedError(`topic ${this.dir} is closed`);
    await Promise.all(this.logs.map((log) => log.flush()));
  }

  /**
   * Closes every partition (see `Log.close`) and releases the topic lock; `follow` streams end.
   * A second call does nothing; any other call after it throws `LogClosedError`. If a partition
   * fails to close, the others are still closed and the first error is thrown.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    let failure: unknown = null;
    for (const log of this.logs) {
      try {
        log.close();
      } catch (err) {
        failure ??= err;
      }
    }
    this.lock?.release();
    if (failure !== null) throw failure;
  }

  private checkPartition(p: unknown, what: string): number {
    const n = this.logs.length;
    if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0 || p >= n) {
      throw new InvalidArgumentError(`${what} must be an integer in [0, ${n - 1}] (topic ${this.name} has ${n} partitions), got ${describe(p)}`);
    }
    return p;
  }

  private partitionDir(p: number): string {
    return path.join(this.dir, partitionDirName(this.name, p));
  }

  private ensureOpen(): void {
    if (this.closed) throw new LogClosedError(`topic ${this.dir} is closed`);
  }

  private ensureWritable(): void {
    this.ensureOpen();
    if (this.config.readOnly) throw new ReadOnlyLogError(`topic ${this.dir} was opened read-only`);
  }
}

/**
 * Creates a missing topic directory once nothing can fail any more for lack of input: a new
 * topic needs `partitions` and a legal name, and a read-only open needs the directory.
 */
function prepareTopicDirectory(dir: string, config: ResolvedTopicConfig): void {
  if (isDirectory(dir)) return;
  config.name ??= defaultTopicName(dir);
  if (config.partitions === undefined) {
    throw new InvalidConfigError(`config partitions is required to create a topic (${dir} does not exist)`, { file: dir });
  }
  if (config.readOnly) throw new LogIOError(`topic directory ${dir} does not exist`, { file: dir });
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw new LogIOError(`cannot create topic directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
  }
}

/** True when `dir` is an existing directory, false when missing; throws for a file. */
function isDirectory(dir: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return false;
  }
  if (!stat.isDirectory()) throw new InvalidArgumentError(`${dir} is not a directory`, { file: dir });
  return true;
}

function acquireTopicLock(dir: string): DirectoryLock {
  try {
    return DirectoryLock.acquire(dir);
  } catch (err) {
    if (err instanceof LogLockedError) throw new LogLockedError(`topic directory ${dir} is open in another writer`, { file: dir, cause: err });
    throw err;
  }
}

interface DecidedMetadata extends TopicMetadata {
  /** True when `topic.json` must be written (a new or adopted topic). */
  write: boolean;
}

/**
 * The topic's name and count from `topic.json`, checked against the config; or, without one, from
 * the config and the partition directories present. Reads only: throws before anything changes.
 */
function decideMetadata(dir: string, givenName: string | undefined, partitions: number | undefined): DecidedMetadata {
  const file = path.join(dir, TOPIC_METADATA_FILE);
  const recorded = readTopicMetadata(dir);
  if (recorded !== null) {
    checkTopicName(recorded.name, `the name in ${file}`);
    if (givenName !== undefined && givenName !== recorded.name) {
      throw new InvalidConfigError(`topic in ${dir} is named '${recorded.name}' (${file}), not '${givenName}'`, { file });
    }
    if (partitions !== undefined && partitions !== recorded.partitions) {
      throw new InvalidConfigError(
        `topic ${recorded.name} has ${recorded.partitions} partitions (${file}), not ${partitions}; use addPartitions to grow it, or omit partitions`,
        { file },
      );
    }
    checkNoStrayPartitions(dir, recorded.name, recorded.partitions);
    return { ...recorded, write: false };
  }
  const name = givenName ?? defaultTopicName(dir);
  const present = listPartitionDirs(dir, name);
  const count = partitions ?? adoptedCount(dir, name, present);
  checkNoStrayPartitions(dir, name, count);
  return { name, partitions: count, write: true };
}

/** Without `topic.json` or `partitions`: the count of `<name>-0` ... `<name>-(k-1)`, which must have no gaps. */
function adoptedCount(dir: string, name: string, present: number[]): number {
  if (present.length === 0) {
    throw new InvalidConfigError(`config partitions is required to create topic ${name} in ${dir} (no topic.json, no partition directories)`, { file: dir });
  }
  const count = present[present.length - 1]! + 1;
  if (present.length !== count) {
    throw new InvalidConfigError(`partition directories of ${name} in ${dir} have gaps (${present.join(', ')}); pass config partitions`, { file: dir });
  }
  return count;
}

/** A partition directory past the count would be silently ignored data: refuse instead. */
function checkNoStrayPartitions(dir: string, name: string, count: number): void {
  const stray = listPartitionDirs(dir, name).filter((p) => p >= count);
  if (stray.length > 0) {
    throw new InvalidConfigError(
      `${dir} holds partition directories past the count ${count}: ${stray.map((p) => partitionDirName(name, p)).join(', ')}`,
      { file: dir },
    );
  }
}

/** Opens partitions [from, metadata.partitions); on a failure closes those it opened. */
function openPartitions(dir: string, metadata: TopicMetadata, from: number, config: ResolvedTopicConfig): Log[] {
  const logs: Log[] = [];
  try {
    for (const p of range(from, metadata.partitions)) {
      logs.push(Log.open(path.join(dir, partitionDirName(metadata.name, p)), config.logConfig));
    }
    return logs;
  } catch (err) {
    for (const log of logs) log.close();
    throw err;
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Tags each record of partition `p`'s stream with its partition number, in place (records are fresh objects). */
async function* withPartition(records: AsyncIterableIterator<TopicRecord | Omit<TopicRecord, 'partition'>>, p: number): AsyncGenerator<TopicRecord> {
  for await (const record of records) {
    (record as TopicRecord).partition = p;
    yield record as TopicRecord;
  }
}

/** Aborts `stop` when the caller's `signal` does, for as long as the merged stream runs. */
async function* linkedToSignal(merged: AsyncGenerator<TopicRecord>, stop: AbortController, signal: AbortSignal | undefined): AsyncGenerator<TopicRecord> {
  const onAbort = (): void => stop.abort();
  if (signal?.aborted === true) stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    yield* merged;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
