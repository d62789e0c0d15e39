import { LogIOError } from '../errors.js';
import { fsyncDirectory } from '../files/checkpoint.js';
import { DELETED_SUFFIX } from '../files/file-names.js';
import type { LogSegment } from '../segment/log-segment.js';

/** Segments renamed together, deleted together once `dueAt` (wall-clock ms) has passed. */
interface PendingDeletion {
  dueAt: number;
  segments: LogSegment[];
  /** The sync round that was in flight when they were renamed (0: none); they wait for its end. */
  afterRound: number;
}

/** The log's group-commit rounds (see `GroupCommit.rounds`). */
export interface SyncRounds {
  started: number;
  finished: number;
}

/** What the deleter needs from its surroundings; injectable for tests. */
export interface DeleterOptions {
  /** The partition directory (fsynced after each batch of renames). */
  dir: string;
  /** Kafka's `file.delete.delay.ms`: wall-clock ms between the rename and the deletion. */
  delayMs: number;
  /** Wall clock; default `Date.now` (never the log's injected clock: the delay is real time). */
  wallClock?: () => number;
  /** Called with an error of a background deletion (which has no caller to throw to). */
  onError?: (err: unknown) => void;
  /**
   * The log's sync rounds. A round of fdatasyncs in flight when segments are renamed may still use
   * their descriptors on the thread pool; their deletion, once due, waits for that round (only
   * that one: later rounds never see segments already out of the list), looking again every
   * `BUSY_RETRY_MS`, so no descriptor is closed under a queued fdatasync.
   */
  syncRounds?: () => SyncRounds;
}

/** How often a due deletion looks again whether the sync round it waits for has ended. */
const BUSY_RETRY_MS = 10;

/**
 * Kafka's asynchronous segment deletion, in two steps:
 *
 * 1. `retire(segments)`: every file of each segment is renamed at once to `<name>.deleted`
 *    (`.log` first), then the directory is fsynced: from then on no restart brings the segments
 *    back (the loader deletes `.deleted` files). The segments' files stay open.
 * 2. After `delayMs` of wall time, an `unref`ed timer closes the files and deletes them.
 *
 * Between the two, whoever still holds a segment (a read that located it, an fdatasync in
 * flight) keeps working on the open descriptors: on Linux a renamed or even unlinked file stays
 * readable through them. The cost of both steps is a constant number of system calls per segment
 * (four renames, four unlinks, one close per open file) plus one directory fsync per call: it does
 * not depend on the segments' bytes.
 *
 * `close()` (the log closing) deletes whatever is still pending at once: once the log is closed
 * no reader of this process can hold a segment any more, and leaving the files for the next
 * open would only defer the same work.
 *
 * Two segments with the same base offset (one retired by `truncateTo`, then created again and
 * retired again) share their `.deleted` names: the second rename replaces the first's files, and
 * whichever deletion comes due first removes them (the open descriptors still read).
 */
export class SegmentDeleter {
  private readonly queue: PendingDeletion[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly wallClock: () => number;

  constructor(private readonly options: DeleterOptions) {
    this.wallClock = options.wallClock ?? Date.now;
  }

  /** Segments renamed to `.deleted` and not yet deleted, oldest first. */
  get pending(): readonly LogSegment[] {
    return this.queue.flatMap((p) => p.segments);
  }

  /**
   * Step 1 for `segments` (already removed from the log's segment list): renames their files to
   * `.deleted`, fsyncs the directory once, and schedules step 2. A segment whose rename fails is
   * still scheduled (its files are deleted under their old names); the first error is thrown
   * afterwards as `LogIOError`. `syncDirectory: false` leaves the directory fsync to the caller
   * (the cleaner's swap fsyncs once, off the main thread, after its last rename).
   */
  retire(segments: readonly LogSegment[], syncDirectory = true): void {
    if (segments.length === 0) return;
    let failure: unknown = null;
    for (const segment of segments) {
      try {
        segment.changeFileSuffixes('', DELETED_SUFFIX);
      } catch (err) {
        failure ??= err;
      }
    }
    try {
      if (syncDirectory) fsyncDirectory(this.options.dir);
    } catch (err) {
      failure ??= err;
    }
    const rounds = this.options.syncRounds?.();
    const afterRound = rounds !== undefined && rounds.started > rounds.finished ? rounds.started : 0;
    this.queue.push({ dueAt: this.wallClock() + this.options.delayMs, segments: [...segments], afterRound });
    this.arm();
    if (failure !== null) {
      throw failure instanceof LogIOError
        ? failure
        : new LogIOError(`cannot schedule the deletion of segments in ${this.options.dir}: ${(failure as Error).message}`, { file: this.options.dir, cause: failure });
    }
  }

  /**
   * Step 2 for every pending deletion due at `now` (wall-clock ms): closes and deletes the files.
   * Returns the number of segments deleted. Errors go to `onError`; the other segments are still
   * deleted.
   */
  runDue(now = this.wallClock()): number {
    let deleted = 0;
    while (this.queue.length > 0 && this.queue[0]!.dueAt <= now) {
      if (this.queue[0]!.afterRound > (this.options.syncRounds?.().finished ?? Infinity)) {
        this.arm(BUSY_RETRY_MS);
        return deleted;
      }
      deleted += this.deleteAll(this.queue.shift()!.segments);
    }
    this.arm();
    return deleted;
  }

  /** Stops the timer and deletes every pending segment now (the log is closing). Never throws. */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.queue.length > 0) this.deleteAll(this.queue.shift()!.segments);
  }

  private deleteAll(segments: readonly LogSegment[]): number {
    let deleted = 0;
    for (const segment of segments) {
      try {
        segment.deleteIfExists();
        deleted++;
      } catch (err) {
        this.options.onError?.(err);
      }
    }
    return deleted;
  }

  /** One timer, for the oldest pending deletion (the delay is the same for all, so it is due first). */
  private arm(atLeastMs = 0): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const head = this.queue[0];
    if (head === undefined) return;
    const wait = Math.max(atLeastMs, head.dueAt - this.wallClock());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.runDue();
    }, Math.min(wait, 2 ** 31 - 1));
    this.timer.unref();
  }
}
