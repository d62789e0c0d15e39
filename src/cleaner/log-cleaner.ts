import { InvalidConfigError, LogClosedError, warnBackgroundFailure } from '../errors.js';
import { cleanableOffsets, dirtyState, shouldClean, type CleaningConfig, type DirtyState } from './cleanable.js';
import { CleanerCheckpoint } from './cleaner-checkpoint.js';
import type { LocalLog } from '../log/local-log.js';
import { CleaningAbortedError, CleaningPass, type CleanerHost, type CompactionResult, type PassConfig } from './cleaner.js';

/** The log configs the cleaner reads (a structural subset of the log's resolved config). */
export interface CleanerConfig extends CleaningConfig, PassConfig {
  cleanupPolicy: 'delete' | 'compact' | 'compact,delete';
  cleanerBackoffMs: number;
  clock: () => number;
}

/** What the cleaner needs from its log beyond a pass's needs: its config. */
export interface LogCleanerHost extends CleanerHost {
  readonly config: CleanerConfig;
}

/**
 * A slice of a pass runs at most about this long before yielding to the event loop, so an append
 * waits at most about this long behind the cleaner (plus one batch's rewrite).
 */
export const SLICE_MS = 2;

/**
 * Key compaction for one writable log: Kafka's LogCleaner and LogCleanerManager for a single
 * partition. `compact()` runs a pass now; a background check every `cleanerBackoffMs` (an
 * `unref`ed timer) runs one when the dirty ratio is above `minCleanableDirtyRatio` or a dirty
 * segment is older than `maxCompactionLagMs`. One pass at a time; the position is checkpointed
 * in `cleaner-offset-checkpoint` after each pass.
 */
export class LogCleaner {
  private readonly checkpoint: CleanerCheckpoint;
  private timer: NodeJS.Timeout | null = null;
  private current: CleaningPass | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** Bytes of the key map the last pass used. */
  lastMapBytes = 0;

  constructor(private readonly host: LogCleanerHost) {
    this.checkpoint = new CleanerCheckpoint(host.log.dir);
  }

  /** Starts the background check (none for a log that does not compact, or when the backoff is 0). */
  startTimer(): void {
    const { cleanupPolicy, cleanerBackoffMs } = this.host.config;
    if (cleanupPolicy === 'delete' || cleanerBackoffMs <= 0 || this.timer !== null) return;
    this.timer = setInterval(() => this.maybeClean(), cleanerBackoffMs);
    this.timer.unref();
  }

  /** The dirty section and ratio as the cleaner sees it now. */
  state(now = this.host.config.clock()): DirtyState {
    return dirtyState(this.logView(), this.checkpoint.read(), this.host.config, now);
  }

  /** The checkpointed first dirty offset, or null. */
  firstDirtyOffset(): number | null {
    return this.checkpoint.read();
  }

  /**
   * One background check: a pass when the log is dirty enough and none is running. A failed pass
   * is a `SEGLOG_CLEANER` process warning and is tried again at the next check; no later call
   * throws it, since `compact()` runs a pass of its own and rejects with that pass's error.
   */
  maybeClean(): void {
    if (this.current !== null || this.host.isClosed()) return;
    if (!shouldClean(this.state(), this.host.config)) return;
    this.enqueue().catch((err: unknown) => {
      if (this.host.isClosed()) return;
      warnBackgroundFailure('SEGLOG_CLEANER', `cleaning ${this.host.log.dir} failed: ${(err as Error).message}`, err);
    });
  }

  /** A pass now, whatever the dirty ratio, after any pass already running. */
  compact(): Promise<CompactionResult> {
    if (this.host.config.cleanupPolicy === 'delete') {
      return Promise.reject(new InvalidConfigError(`log ${this.host.log.dir} has cleanupPolicy 'delete': set 'compact' or 'compact,delete' to compact it`));
    }
    return this.enqueue();
  }

  /** Kafka's maybeTruncateCheckpoint: a truncation below the checkpoint brings it down. */
  truncated(offset: number): void {
    const at = this.checkpoint.read();
    if (at !== null && at > offset) this.checkpoint.write(offset);
  }

  /** Stops the timer and any pass in progress (its unfinished files are deleted). */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.current?.abort();
  }

  private enqueue(): Promise<CompactionResult> {
    const run = this.queue.then(() => this.runPass());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runPass(): Promise<CompactionResult> {
    if (this.host.isClosed()) throw new LogClosedError(`log ${this.host.log.dir} is closed`);
    const now = this.host.config.clock();
    const offsets = cleanableOffsets(this.logView(), this.checkpoint.read(), this.host.config, now);
    const pass = new CleaningPass(this.host, this.host.config, now, SLICE_MS);
    this.current = pass;
    try {
      const end = await pass.run(offsets);
      if (end !== null) this.checkpoint.write(end);
      else if (offsets.forceUpdateCheckpoint) this.checkpoint.write(offsets.firstDirtyOffset);
    } catch (err) {
      if (this.host.isClosed()) throw new LogClosedError(`log ${this.host.log.dir} closed during compaction`);
      if (!(err instanceof CleaningAbortedError)) throw err;
    } finally {
      this.current = null;
      this.lastMapBytes = pass.mapBytes;
    }
    return pass.result;
  }

  private logView(): { segments: LocalLog['segments']; startOffset: number; endOffset: number } {
    const { log } = this.host;
    return { segments: log.segments, startOffset: log.startOffset, endOffset: log.endOffset };
  }
}
