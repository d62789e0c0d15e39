import { OffsetOutOfRangeError } from '../errors.js';
import type { LocalLog } from '../log/local-log.js';
import type { LogSegment } from '../segment/log-segment.js';
import { RETENTION_STEPS, deletableForStep, type LogSummary, type RetentionReason, type SegmentSummary } from './retention-policy.js';
import { SegmentDeleter, type SyncRounds } from './segment-deleter.js';
import { truncateLog } from './truncation.js';

/** The log config keys retention reads (a structural subset of the log's resolved config). */
export interface RetentionConfig {
  retentionMs: number;
  retentionBytes: number;
  fileDeleteDelayMs: number;
  retentionCheckIntervalMs: number;
  clock: () => number;
}

/**
 * What retention and truncation work with: the log state (segments and offsets, changed only
 * through its methods), the config, the `.deleted` two-step, and two questions for the `Log`.
 * Everything here runs on the `Log`'s thread, between its other calls.
 */
export interface RetentionHost {
  readonly log: LocalLog;
  readonly config: RetentionConfig;
  readonly deleter: SegmentDeleter;
  /** The lowest offset a consumer asked retention to keep, or null. */
  retentionFloor(): number | null;
  isClosed(): boolean;
}

/** What one retention pass deleted, by step. */
export type RetentionResult = Record<RetentionReason, number>;

/**
 * Retention, the log start offset and truncation for one writable `Log`: Kafka's
 * `deleteOldSegments` (start-offset breach, then size, then time; see `retention-policy.ts`),
 * `deleteRecords`/`maybeIncrementLogStartOffset`, and `truncateTo` (see `truncation.ts`), with
 * the `.deleted` two-step of `segment-deleter.ts` and the periodic background pass.
 */
export class LogRetention {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly host: RetentionHost) {}

  /**
   * Starts the background pass every `retentionCheckIntervalMs` (none when it is 0). The timer is
   * `unref`ed: it never keeps the process alive. A pass that fails is reported as a process
   * warning (code `SEGLOG_RETENTION`) and tried again at the next tick.
   */
  startTimer(): void {
    const interval = this.host.config.retentionCheckIntervalMs;
    if (interval <= 0 || this.timer !== null) return;
    this.timer = setInterval(() => {
      if (this.host.isClosed()) return;
      try {
        this.applyRetention(this.host.config.clock());
      } catch (err) {
        warn(`retention pass on ${this.host.log.dir} failed: ${(err as Error).message}`);
      }
    }, interval);
    this.timer.unref();
  }

  /**
   * One retention pass at `now` (ms, on the log's clock): the start-offset, size and time steps
   * in Kafka's order, each deleting (two-step) a prefix of the segments. Returns how many
   * segments each step deleted. Costs a constant number of system calls per deleted segment and
   * looks at no segment past the first one kept: it does not depend on the bytes deleted.
   */
  applyRetention(now: number): RetentionResult {
    const result: RetentionResult = { 'log-start-offset': 0, size: 0, time: 0 };
    for (const reason of RETENTION_STEPS) {
      const list = this.host.log.segments.values();
      const count = deletableForStep(reason, this.summary(list), this.host.config, now);
      if (count > 0) result[reason] = this.deleteSegments(list.slice(0, count));
    }
    return result;
  }

  /**
   * Advances the log start offset to `offset` (never backwards), checkpoints it, and deletes
   * (two-step) the segments now wholly below it. Returns the log start offset. Throws
   * `OffsetOutOfRangeError` past the log end offset. The retention floor does not hold this back:
   * it is an explicit request, like Kafka's `deleteRecords`.
   */
  deleteRecordsBefore(offset: number): number {
    const { log } = this.host;
    const end = log.endOffset;
    if (offset > end) {
      throw new OffsetOutOfRangeError(`cannot delete records before ${offset} in ${log.dir}: past the end offset ${end}`, { offset });
    }
    if (offset > log.startOffset) {
      log.advanceStartOffset(offset);
      const list = log.segments.values();
      const count = deletableForStep('log-start-offset', this.summary(list), this.host.config, this.host.config.clock());
      if (count > 0) this.deleteSegments(list.slice(0, count));
    }
    return log.startOffset;
  }

  /** See `truncateLog`. */
  truncateTo(offset: number): void {
    truncateLog(this.host.log, this.host.deleter, this.host.config.clock(), offset);
  }

  /** Stops the timer and deletes the segments still waiting for their delay (the log is closing). */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.host.deleter.close();
  }

  /** The log as the rules see it; `largestTimestamp` is read only for segments the walk reaches. */
  private summary(list: readonly LogSegment[]): LogSummary {
    const segments: SegmentSummary[] = list.map((s) => ({
      baseOffset: s.baseOffset,
      sizeBytes: s.size,
      get largestTimestamp() {
        return s.largestTimestamp();
      },
    }));
    return {
      segments,
      logStartOffset: this.host.log.startOffset,
      logEndOffset: this.host.log.endOffset,
      floor: this.host.retentionFloor(),
    };
  }

  /**
   * Kafka's `deleteSegments`: when every segment goes, roll first so that the log end offset
   * lives on in a new empty segment; raise the log start offset to the first surviving segment
   * (checkpointed) before anything is renamed; then take the segments out of the list and rename
   * them to `.deleted` (their deletion follows after `fileDeleteDelayMs`).
   */
  private deleteSegments(deletable: LogSegment[]): number {
    const { log } = this.host;
    if (deletable.length === log.segments.count) log.roll();
    const survivor = log.segments.higherSegment(deletable[deletable.length - 1]!.baseOffset)!;
    // Checkpointed before the renames, even when it equals the first segment's base offset then,
    // so that a crash between this and the renames never brings back offsets below it.
    log.advanceStartOffset(survivor.baseOffset);
    log.removeSegments(deletable);
    this.host.deleter.retire(deletable);
    return deletable.length;
  }
}

function warn(message: string): void {
  process.emitWarning(message, { code: 'SEGLOG_RETENTION' });
}

/**
 * A `SegmentDeleter` for a log's directory and config; `syncRounds` are the log's group-commit
 * rounds (deletions wait for a round in flight); background failures become process warnings.
 */
export function segmentDeleterFor(dir: string, config: RetentionConfig, syncRounds: () => SyncRounds): SegmentDeleter {
  return new SegmentDeleter({
    dir,
    delayMs: config.fileDeleteDelayMs,
    syncRounds,
    onError: (err) => warn(`deleting a segment of ${dir} failed: ${(err as Error).message}`),
  });
}
