import { InvalidArgumentError, LogClosedError, OffsetOutOfRangeError } from '../errors.js';
import { requireOffset, requireOptions } from './arguments.js';
import type { LogStream, StreamOptions } from './stream.js';
import { commitConsumerOffset, readConsumerOffsets, requireConsumerName, updateConsumerOffsetsSync } from './consumer-offsets.js';

/** Where a consumer starts when it has no commit, or its commit is below `startOffset` (Kafka's `auto.offset.reset`). */
export type AutoOffsetReset = 'earliest' | 'latest' | 'none';

export interface ConsumerOptions {
  /** `'earliest'` (default): start at `startOffset`; `'latest'`: at `endOffset`; `'none'`: throw `OffsetOutOfRangeError`. */
  autoOffsetReset?: AutoOffsetReset;
  /**
   * When true, retention keeps every segment holding an offset at or above this consumer's
   * committed offset (everything, before its first commit). The choice is stored with the
   * consumer's offset, so it holds across restarts and for consumers in other processes, until a
   * `log.consumer(name, { retainUncommitted: false })` clears it. Left out: the stored choice
   * stays as it is (false for a new consumer).
   */
  retainUncommitted?: boolean;
}

export interface ConsumerStreamOptions {
  /** Keep waiting for new appends after the last record. Default false. */
  follow?: boolean;
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /** Bytes of batches read per step. Default 1 MiB. */
  maxBytes?: number;
}

/** What a consumer uses of its `Log` (the public members). */
export interface ConsumerSource {
  readonly dir: string;
  readonly isClosed: boolean;
  readonly startOffset: number;
  readonly endOffset: number;
  stream(options?: StreamOptions): LogStream;
}

const CONSUMER_KEYS = ['autoOffsetReset', 'retainUncommitted'] as const;
const CONSUMER_STREAM_KEYS = ['follow', 'signal', 'maxBytes'] as const;
const RESETS: readonly AutoOffsetReset[] = ['earliest', 'latest', 'none'];

/**
 * A named reader of one log whose position survives restarts, like a Kafka consumer group with
 * one member. The loop: `for await (const r of consumer.stream({ follow: true, signal }))`,
 * process `r`, and now and then `await consumer.commit(r.offset + 1)` (the committed offset is
 * the next one to read, as in Kafka). After a crash the next `stream()` starts at the last
 * commit: records processed after it come again (at-least-once).
 *
 * Offsets live in `consumer-offsets-checkpoint` in the partition directory (see
 * `offsets-file.ts`). Consumers of a `readOnly` log may commit too: that file is the one thing
 * they write, and it needs write permission on the directory (otherwise commit rejects with
 * `LogIOError`). Consumers with different names in different processes never lose each other's
 * commits (the file is rewritten under a lock). Two live consumers with the same name share one
 * offset: the last commit wins.
 */
export class Consumer {
  readonly name: string;
  readonly autoOffsetReset: AutoOffsetReset;

  constructor(
    private readonly log: ConsumerSource,
    name: string,
    options?: ConsumerOptions,
  ) {
    this.name = requireConsumerName(name);
    const opts = requireOptions<ConsumerOptions>('consumer options', options, CONSUMER_KEYS);
    const reset = opts.autoOffsetReset ?? 'earliest';
    if (!RESETS.includes(reset)) {
      throw new InvalidArgumentError(`autoOffsetReset must be 'earliest', 'latest' or 'none', got ${String(reset)}`);
    }
    this.autoOffsetReset = reset;
    const retain = opts.retainUncommitted;
    if (retain !== undefined && typeof retain !== 'boolean') {
      throw new InvalidArgumentError(`retainUncommitted must be a boolean, got ${typeof retain}`);
    }
    this.ensureOpen();
    if (retain !== undefined && (readConsumerOffsets(log.dir).get(this.name)?.retain ?? false) !== retain) {
      updateConsumerOffsetsSync(log.dir, (table) => {
        const entry = table.get(this.name);
        if ((entry?.retain ?? false) === retain) return false;
        if (retain) table.set(this.name, { offset: entry?.offset ?? null, retain: true });
        else if (entry?.offset === null || entry?.offset === undefined) table.delete(this.name);
        else table.set(this.name, { offset: entry.offset, retain: false });
        return true;
      });
    }
  }

  /** The last committed offset (durable), or null when this consumer has never committed. */
  committed(): number | null {
    this.ensureOpen();
    return readConsumerOffsets(this.log.dir).get(this.name)?.offset ?? null;
  }

  /** Whether retention keeps what this consumer has not committed past (as stored in the offsets file). */
  get retainUncommitted(): boolean {
    this.ensureOpen();
    return readConsumerOffsets(this.log.dir).get(this.name)?.retain ?? false;
  }

  /**
   * Where `stream()` would start now: the committed offset, or, when there is none or it is
   * below `startOffset`, what `autoOffsetReset` says; a commit past `endOffset` (the log was
   * truncated below it) gives `endOffset`. Throws `OffsetOutOfRangeError` for `'none'`.
   */
  position(): number {
    const committed = this.committed();
    const start = this.log.startOffset;
    const end = this.log.endOffset;
    if (committed !== null && committed >= start) return Math.min(committed, end);
    switch (this.autoOffsetReset) {
      case 'earliest':
        return start;
      case 'latest':
        return end;
      case 'none':
        throw new OffsetOutOfRangeError(
          committed === null
            ? `consumer '${this.name}' of ${this.log.dir} has no committed offset and autoOffsetReset is 'none'`
            : `committed offset ${committed} of consumer '${this.name}' is below the start offset ${start} of ${this.log.dir} and autoOffsetReset is 'none'`,
          committed === null ? {} : { offset: committed },
        );
    }
  }

  /**
   * Records `offset` (the next offset to read: the last processed record's offset + 1) as this
   * consumer's position; resolves once it is durable on disk. Commits made in the same tick
   * share one write. Rejects with `InvalidArgumentError` for an offset that is not a safe
   * non-negative integer, `OffsetOutOfRangeError` for one past `endOffset`, `LogClosedError`,
   * or `LogIOError` when the file cannot be written.
   */
  commit(offset: number): Promise<void> {
    try {
      this.ensureOpen();
      requireOffset('offset', offset);
      const end = this.log.endOffset;
      if (offset > end) {
        throw new OffsetOutOfRangeError(`cannot commit offset ${offset} for consumer '${this.name}': past the end offset ${end} of ${this.log.dir}`, { offset });
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return commitConsumerOffset(this.log.dir, this.name, offset);
  }

  /** The log's records from `position()` on (see `Log.stream`). */
  stream(options?: ConsumerStreamOptions): LogStream {
    const opts = requireOptions<ConsumerStreamOptions>('consumer stream options', options, CONSUMER_STREAM_KEYS);
    return this.log.stream({ ...opts, from: this.position() });
  }

  private ensureOpen(): void {
    if (this.log.isClosed) throw new LogClosedError(`log ${this.log.dir} is closed`);
  }
}
