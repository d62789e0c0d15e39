import fs from 'node:fs';
import { InvalidArgumentError, OffsetOutOfRangeError } from '../errors.js';
import { LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD, readBaseOffset, readBatchSize } from '../record/batch-layout.js';
import { crc32c } from '../record/crc32c.js';
import type { LogRecord } from '../record/types.js';
import { CONSUMER_OFFSETS_FILE, CONSUMER_OFFSETS_LOCK, LOCK_FILE, TMP_SUFFIX } from '../files/file-names.js';
import { isWriterRace } from './log-reader.js';
import { optionalPositive, requireOffset, requireOptions, requireTimestamp } from './arguments.js';

export interface StreamOptions {
  /** Where to start: an offset, or `{ timestamp }` (the first record at or after it). Default: `startOffset`. */
  from?: number | { timestamp: number };
  /** Keep waiting for new appends after the last record. Default false. */
  follow?: boolean;
  /** Ends the stream (cleanly: the iterator just finishes) when aborted. */
  signal?: AbortSignal;
  /** Bytes of batches read per step; memory stays bounded by it (at least one batch is read). Default 1 MiB. */
  maxBytes?: number;
}

/** What a stream reads through: the public reads of a `Log` (each one catches a read-only view up with the writer). */
export interface StreamSource {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly isClosed: boolean;
  readonly startOffset: number;
  readonly endOffset: number;
  read(offset: number, options?: { maxBytes?: number; maxRecords?: number }): LogRecord[];
  readBatches(offset: number, options?: { maxBytes?: number }): Buffer;
  offsetForTimestamp(timestamp: number): number | null;
}

/** What a stream hears from the log state (`LocalLog`): truncations, and appends of this process. */
export interface LogChanges {
  readonly truncationCount: number;
  truncationsSince(seen: number): { count: number; lowest: number | null };
  /** Resolves at the next append or close, when `signal` aborts, or after `timeoutMs` (default: never). */
  waitForAppend(signal?: AbortSignal, timeoutMs?: number): Promise<void>;
}

const STREAM_KEYS = ['from', 'follow', 'signal', 'maxBytes'] as const;
const DEFAULT_MAX_BYTES = 1024 * 1024;
/** Poll period of a read-only follower when file-system notification is unavailable. */
const POLL_MS = 100;
/** Poll period of a read-only follower while file-system notification works (a safety net). */
const SAFETY_POLL_MS = 1000;
/** How many recently yielded records a stream remembers to find where a truncation cut the log. */
const HISTORY = 16;
/** Consecutive reads that may fail because the writer moved the log under a read-only view (retried after 1, 2, ... ms). */
const MAX_RACE_RETRIES = 5;
/** Files whose changes say nothing about new records (checkpoints are written as `<name>.tmp`, then renamed). */
const QUIET_SUFFIXES = [TMP_SUFFIX, LOCK_FILE, CONSUMER_OFFSETS_FILE, CONSUMER_OFFSETS_LOCK];

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** What a stream remembers of a record it yielded, to tell whether the log still holds it. */
interface Fingerprint {
  offset: number;
  timestamp: number;
  key: number;
  value: number;
}

/**
 * `Log.stream`: validates the options and returns the iterator. Throws `InvalidArgumentError` for
 * bad options and `OffsetOutOfRangeError` for a `from` offset past `endOffset`.
 */
export function followLog(log: StreamSource, changes: LogChanges, options?: StreamOptions): LogStream {
  const opts = requireOptions<StreamOptions>('stream options', options, STREAM_KEYS);
  const maxBytes = optionalPositive('maxBytes', opts.maxBytes, DEFAULT_MAX_BYTES);
  if (opts.follow !== undefined && typeof opts.follow !== 'boolean') {
    throw new InvalidArgumentError(`follow must be a boolean, got ${typeof opts.follow}`);
  }
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal must be an AbortSignal');
  }
  const from = startOf(log, opts.from);
  return new LogStream(log, changes, from, opts.follow === true, maxBytes, opts.signal);
}

/**
 * An async iterator over a log's records in offset order. It pulls: each step reads at most
 * `maxBytes` of batches (`Log.read`), yields them, and reads the next step only when the consumer
 * asks, so a slow consumer never makes memory grow.
 *
 * - Records that retention removed before the stream reached them are skipped: it goes on from
 *   `startOffset`.
 * - A log truncated below the stream's position: the stream goes on at the new end (the cut),
 *   reading what is appended from there, and drops records it had read ahead past the cut.
 *   `truncateTo` in this process tells streams exactly where it cut; a read-only view notes the
 *   cut when it sees the end move back. When another process truncated and appended again
 *   before this view looked, the stream finds the cut by re-reading the last records of its
 *   recent steps (a checksum of each is kept) and resumes after the newest one that is
 *   unchanged: nothing is lost, some records may come twice.
 * - With `follow`, it waits for appends: woken at once by appends of this process (through
 *   `LocalLog.waitForAppend`), and for a read-only log by file-system notification (`fs.watch` on the
 *   partition directory: a writer's append changes the active `.log` file) with polling as a
 *   fallback (every 100 ms when notification is unavailable, every second as a safety net).
 * - It ends, without an error, when `signal` aborts, when the log closes, or on `return()`
 *   (a `break` out of `for await`); `return()` also ends a `next()` that is waiting, and frees
 *   every watcher, timer and listener.
 */
export class LogStream implements AsyncIterableIterator<LogRecord> {
  private position: number;
  private batch: LogRecord[] = [];
  private index = 0;
  private finished = false;
  /** Aborted when the stream ends for any reason: wakes a pending wait. */
  private readonly stop = new AbortController();
  private readonly onUserAbort = (): void => this.finish();
  private watch: DirectoryWatch | null = null;
  /** Chains `next()` calls so that they run one at a time, in order. */
  private tail: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  /** Fingerprints of the last record of recent steps, oldest first. */
  private readonly history: Fingerprint[] = [];
  /** How many truncations of the log this stream has taken into account. */
  private truncationsSeen: number;

  constructor(
    private readonly log: StreamSource,
    private readonly changes: LogChanges,
    from: number,
    private readonly follow: boolean,
    private readonly maxBytes: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.position = from;
    this.truncationsSeen = changes.truncationCount;
    if (signal?.aborted === true) this.finish();
    else signal?.addEventListener('abort', this.onUserAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The offset of the next record this stream will read (after those already read ahead in the current step). */
  get nextOffset(): number {
    return this.index < this.batch.length ? this.batch[this.index]!.offset : this.position;
  }

  next(): Promise<IteratorResult<LogRecord>> {
    if (this.inFlight === 0 && this.index < this.batch.length && !this.shouldEnd() && this.changes.truncationCount === this.truncationsSeen) {
      return Promise.resolve({ done: false, value: this.take() });
    }
    this.inFlight++;
    const result = this.tail.then(() => this.pull()).finally(() => this.inFlight--);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Ends the stream now (what `break` in `for await` calls), even while a `next()` is waiting. */
  return(): Promise<IteratorResult<LogRecord>> {
    this.finish();
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<LogRecord>> {
    this.finish();
    return Promise.reject(err);
  }

  private take(): LogRecord {
    const record = this.batch[this.index]!;
    this.index++;
    return record;
  }

  private shouldEnd(): boolean {
    if (this.finished) return true;
    if (this.log.isClosed) {
      this.finish();
      return true;
    }
    return false;
  }

  private async pull(): Promise<IteratorResult<LogRecord>> {
    try {
      let retries = 0;
      for (;;) {
        if (this.shouldEnd()) return DONE;
        if (this.changes.truncationCount !== this.truncationsSeen) this.applyTruncations();
        if (this.index < this.batch.length) return { done: false, value: this.take() };
        const seen = this.watch?.seq ?? 0;
        let progressed: boolean;
        try {
          progressed = this.step();
          retries = 0;
        } catch (err) {
          if (!this.isRace(err) || ++retries > MAX_RACE_RETRIES) throw err;
          await new Promise((resolve) => setTimeout(resolve, retries));
          continue;
        }
        if (progressed) continue;
        if (!this.follow) {
          this.finish();
          return DONE;
        }
        await this.waitForMore(seen);
      }
    } catch (err) {
      this.finish();
      throw err;
    }
  }

  /**
   * A read-only view can see the writer delete or truncate segments between two of its calls
   * (each call refreshes the view), or a batch whose bytes are still being written: the read then
   * fails, and the stream tries again a few milliseconds later (a few times; then the error is
   * real and the stream throws it).
   */
  private isRace(err: unknown): boolean {
    if (!this.log.readOnly || this.log.isClosed) return false;
    return err instanceof OffsetOutOfRangeError || isWriterRace(err);
  }

  /** Reads the next step into `batch`. Returns false when there is nothing to read now. */
  private step(): boolean {
    const start = this.log.startOffset;
    const end = this.log.endOffset;
    this.applyTruncations();
    if (this.position > end) this.position = this.resync(start, end);
    if (this.position < start) this.position = start;
    if (this.position >= end) return false;
    const last = this.history[this.history.length - 1];
    // Only another process can rewrite the log without telling this stream (`changes` reports
    // this process's truncations), so only a read-only view pays for re-reading that record.
    const verify = this.log.readOnly && last !== undefined && last.offset === this.position - 1 && last.offset >= start;
    let records = this.log.read(verify ? last.offset : this.position, { maxBytes: this.maxBytes });
    if (verify) {
      const first = records[0];
      if (first === undefined || !matches(first, last)) {
        // The record before our position changed: the log was truncated and appended to again.
        this.position = this.resync(start, end);
        return true;
      }
      records = records.length > 1 ? records.slice(1) : this.log.read(this.position, { maxBytes: this.maxBytes });
    }
    if (records.length === 0) {
      // Only control batches (transaction markers) here: move past them.
      const after = this.afterBatches(this.position);
      if (after <= this.position) return false;
      this.position = after;
      return true;
    }
    const tail = records[records.length - 1]!;
    this.position = tail.offset + 1;
    this.batch = records;
    this.index = 0;
    this.remember(tail);
    return true;
  }

  private remember(record: LogRecord): void {
    this.history.push(fingerprint(record));
    if (this.history.length > HISTORY) this.history.shift();
  }

  /**
   * Truncations the log reported since the last look (`truncateTo` in this process, or a
   * read-only view that saw the end move back): the stream goes back to the lowest cut if it was
   * past it, and drops what it had read ahead from there.
   */
  private applyTruncations(): void {
    const { count, lowest } = this.changes.truncationsSince(this.truncationsSeen);
    this.truncationsSeen = count;
    if (lowest === null) return;
    if (this.index < this.batch.length && this.batch[this.batch.length - 1]!.offset >= lowest) {
      this.batch = this.batch.slice(this.index).filter((r) => r.offset < lowest);
      this.index = 0;
    }
    if (this.position > lowest) this.position = lowest;
    while (this.history.length > 0 && this.history[this.history.length - 1]!.offset >= lowest) this.history.pop();
  }

  /**
   * The log changed below the stream's position without telling (another process truncated it
   * and appended again before this view looked): the newest remembered record the log still holds
   * unchanged, and the stream goes on after it (records between it and the cut may come again:
   * at-least-once). When none is left, it goes on from the oldest remembered offset or the new
   * end, whichever is lower.
   */
  private resync(start: number, end: number): number {
    let fallback = Math.min(end, this.position);
    while (this.history.length > 0) {
      const newest = this.history.pop()!;
      if (newest.offset < start) break;
      if (newest.offset < end) {
        const [record] = this.log.read(newest.offset, { maxRecords: 1, maxBytes: 1 });
        if (record !== undefined && matches(record, newest)) {
          this.history.push(newest);
          return newest.offset + 1;
        }
      }
      fallback = Math.min(fallback, newest.offset);
    }
    this.history.length = 0;
    return Math.max(start, fallback);
  }

  /** The offset after the batches `readBatches` returns for `offset` (all control batches). */
  private afterBatches(offset: number): number {
    const bytes = this.log.readBatches(offset, { maxBytes: this.maxBytes });
    let next = offset;
    for (let at = 0; at + RECORD_BATCH_OVERHEAD <= bytes.length; ) {
      next = Math.max(next, readBaseOffset(bytes, at) + bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) + 1);
      const size = readBatchSize(bytes, at);
      if (size < LOG_OVERHEAD) break;
      at += size;
    }
    return next;
  }

  /** Waits for an append, the end of the stream, or (read-only) a change in the directory. */
  private async waitForMore(seen: number): Promise<void> {
    if (this.log.readOnly) {
      if (this.watch === null) {
        // Arm notification, then look again: an append between the last read and now sent no event.
        this.watch = DirectoryWatch.acquire(this.log.dir);
        return;
      }
      if (this.watch.seq !== seen) return;
    }
    if (this.stop.signal.aborted) return;
    const wake = new AbortController();
    const onStop = (): void => wake.abort();
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    const unsubscribe = this.watch?.subscribe(onStop);
    try {
      const pollMs = this.watch?.watching === true ? SAFETY_POLL_MS : POLL_MS;
      // A read-only view cannot hear another process's appends: it polls.
      await this.changes.waitForAppend(wake.signal, this.log.readOnly ? pollMs : undefined);
    } finally {
      this.stop.signal.removeEventListener('abort', onStop);
      unsubscribe?.();
    }
  }

  /** Ends the stream and frees what it holds. Idempotent. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.batch = [];
    this.index = 0;
    this.history.length = 0;
    this.signal?.removeEventListener('abort', this.onUserAbort);
    this.stop.abort();
    this.watch?.release();
    this.watch = null;
  }
}

function startOf(log: StreamSource, from: StreamOptions['from']): number {
  if (from === undefined) return log.startOffset;
  if (typeof from === 'number') {
    requireOffset('from', from);
    const end = log.endOffset;
    if (from > end) {
      throw new OffsetOutOfRangeError(`from ${from} is past the end offset ${end} of ${log.dir}`, { offset: from });
    }
    return Math.max(from, log.startOffset);
  }
  if (typeof from === 'object' && from !== null && 'timestamp' in from) {
    const found = log.offsetForTimestamp(requireTimestamp('from.timestamp', from.timestamp));
    return found ?? log.endOffset;
  }
  throw new InvalidArgumentError('from must be an offset or { timestamp }');
}

function fingerprint(record: LogRecord): Fingerprint {
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? -1 : crc32c(record.key),
    value: record.value === null ? -1 : crc32c(record.value),
  };
}

function matches(record: LogRecord, print: Fingerprint): boolean {
  const other = fingerprint(record);
  return other.offset === print.offset && other.timestamp === print.timestamp && other.key === print.key && other.value === print.value;
}

/** @internal Partition directories this process watches now (for leak tests). */
export function watchedDirectoryCount(): number {
  return DirectoryWatch.count;
}

/**
 * One `fs.watch` per partition directory in this process, shared by every read-only follower of
 * it. `seq` counts the events that may mean new records; subscribers are called on each.
 * The watcher does not keep the process alive (`persistent: false`); a waiting stream's poll
 * timer does, as `tail -f` would. When watching fails (no inotify instances left, a file system
 * without notification), `watching` turns false and followers poll every 100 ms.
 */
class DirectoryWatch {
  private static readonly byDir = new Map<string, DirectoryWatch>();
  seq = 0;
  private refs = 0;
  private watcher: fs.FSWatcher | null = null;
  private readonly subscribers = new Set<() => void>();

  private constructor(private readonly dir: string) {}

  static get count(): number {
    return DirectoryWatch.byDir.size;
  }

  static acquire(dir: string): DirectoryWatch {
    let watch = DirectoryWatch.byDir.get(dir);
    if (watch === undefined) {
      watch = new DirectoryWatch(dir);
      DirectoryWatch.byDir.set(dir, watch);
      watch.start();
    }
    watch.refs++;
    return watch;
  }

  get watching(): boolean {
    return this.watcher !== null;
  }

  subscribe(fn: () => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  release(): void {
    if (--this.refs > 0) return;
    DirectoryWatch.byDir.delete(this.dir);
    this.stopWatching();
  }

  private start(): void {
    try {
      this.watcher = fs.watch(this.dir, { persistent: false }, (_event, name) => {
        if (typeof name === 'string' && QUIET_SUFFIXES.some((s) => name.endsWith(s))) return;
        this.notify();
      });
      this.watcher.on('error', () => {
        this.stopWatching();
        this.notify();
      });
    } catch {
      this.watcher = null;
    }
  }

  private stopWatching(): void {
    const watcher = this.watcher;
    this.watcher = null;
    watcher?.close();
  }

  private notify(): void {
    this.seq++;
    for (const fn of [...this.subscribers]) fn();
  }
}
