/**
 * Which segments retention may delete: Kafka's rules (`UnifiedLog.deleteOldSegments` and
 * `deletableSegments`) as pure functions over segment summaries, so they can be tested without a
 * file system and the log can run them at a cost that depends on the number of segments looked
 * at, never on their bytes.
 *
 * The walk always starts at the oldest segment and stops at the first one that is not deletable,
 * so what goes is always a prefix of the log. A segment is deletable when all of:
 * - the rule of the step says so (start offset, size or time; see below);
 * - no offset it may hold is at or above the retention floor (the lowest offset a consumer asked
 *   to keep; Kafka's high watermark plays that part), i.e. `floor >= upperBound`, where
 *   `upperBound` is the next segment's base offset, or the log end offset for the last segment;
 * - it is not the last segment while that one is empty (deleting it would only re-create it).
 */

/** What a retention rule needs to know about one segment. */
export interface SegmentSummary {
  readonly baseOffset: number;
  /** Length of the `.log` file in bytes. */
  readonly sizeBytes: number;
  /**
   * Kafka's `largestTimestamp`: the largest record timestamp, or the `.log` file's mtime when the
   * segment holds no timestamp. Read lazily: only segments the walk reaches are asked.
   */
  readonly largestTimestamp: number;
}

/** The log as the retention rules see it. */
export interface LogSummary {
  /** Oldest first. */
  readonly segments: readonly SegmentSummary[];
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Lowest offset retention must keep (no segment holding an offset >= it is deleted), or null. */
  readonly floor: number | null;
}

/** The retention settings, in Kafka's units. */
export interface RetentionSettings {
  /** ms; negative: no time limit. */
  readonly retentionMs: number;
  /** bytes; negative: no size limit. */
  readonly retentionBytes: number;
}

/** Why a step deletes segments, in Kafka's order of steps. */
export type RetentionReason = 'log-start-offset' | 'size' | 'time';

/** The order in which `applyRetention` runs the steps (Kafka's `deleteOldSegments`). */
export const RETENTION_STEPS: readonly RetentionReason[] = ['log-start-offset', 'size', 'time'];

/** The rule of one step: is `segment` (followed by `next`, if any) deletable? May keep state. */
export type SegmentRule = (segment: SegmentSummary, next: SegmentSummary | undefined) => boolean;

/**
 * Kafka's `deletableSegments`: how many segments, from the oldest on, may be deleted under `rule`
 * (the walk stops at the first segment that may not). Looks at no segment past the first one that
 * is kept.
 */
export function deletablePrefix(log: LogSummary, rule: SegmentRule, respectFloor = true): number {
  const { segments } = log;
  let count = 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const next = segments[i + 1];
    const upperBound = next === undefined ? log.logEndOffset : next.baseOffset;
    if (respectFloor && log.floor !== null && log.floor < upperBound) break;
    if (next === undefined && segment.sizeBytes === 0) break;
    if (!rule(segment, next)) break;
    count++;
  }
  return count;
}

/**
 * Start-offset rule: the segment lies wholly below the log start offset. Kafka's rule is that the
 * next segment's base offset is <= `logStartOffset`; seglog also lets the last segment go when the
 * log end offset is <= `logStartOffset` (everything was deleted with `deleteRecordsBefore`), and
 * the log then rolls first, as Kafka does when retention takes every segment.
 */
export function startOffsetRule(log: Pick<LogSummary, 'logStartOffset' | 'logEndOffset'>): SegmentRule {
  return (_segment, next) => (next === undefined ? log.logEndOffset : next.baseOffset) <= log.logStartOffset;
}

/**
 * Size rule (Kafka's `deleteRetentionSizeBreachedSegments`): off when `retentionBytes < 0` or the
 * log is smaller than it; otherwise delete the oldest segments while the log stays at or above
 * `retentionBytes` without them. Returns null when the rule is off. Stateful: use it for one walk.
 */
export function sizeRule(totalBytes: number, retentionBytes: number): SegmentRule | null {
  if (retentionBytes < 0 || totalBytes < retentionBytes) return null;
  let diff = totalBytes - retentionBytes;
  return (segment) => {
    if (diff - segment.sizeBytes < 0) return false;
    diff -= segment.sizeBytes;
    return true;
  };
}

/**
 * Time rule (Kafka's `deleteRetentionMsBreachedSegments`): delete when
 * `now - largestTimestamp > retentionMs`. Returns null when `retentionMs < 0`. A segment whose
 * largest timestamp lies in the future is not deleted by time until `now` has passed it by
 * `retentionMs`: the age is measured from the segment's newest record timestamp.
 */
export function timeRule(now: number, retentionMs: number): SegmentRule | null {
  if (retentionMs < 0) return null;
  return (segment) => now - segment.largestTimestamp > retentionMs;
}

/** Sum of the segments' sizes in bytes. */
export function totalSize(segments: readonly SegmentSummary[]): number {
  let total = 0;
  for (const s of segments) total += s.sizeBytes;
  return total;
}

/**
 * How many of the oldest segments the step `reason` deletes (0 when the step is off). The floor
 * does not hold back the start-offset step: what lies below `logStartOffset` can no longer be
 * read, so keeping its bytes would serve no consumer.
 */
export function deletableForStep(reason: RetentionReason, log: LogSummary, settings: RetentionSettings, now: number): number {
  switch (reason) {
    case 'log-start-offset':
      return deletablePrefix(log, startOffsetRule(log), false);
    case 'size': {
      const rule = sizeRule(totalSize(log.segments), settings.retentionBytes);
      return rule === null ? 0 : deletablePrefix(log, rule);
    }
    case 'time': {
      const rule = timeRule(now, settings.retentionMs);
      return rule === null ? 0 : deletablePrefix(log, rule);
    }
  }
}

/** One step of a planned retention pass. */
export interface PlannedStep {
  reason: RetentionReason;
  /** Base offsets of the segments the step deletes, oldest first. */
  baseOffsets: number[];
  /** True when the step deletes every segment, so the log rolls first. */
  rolls: boolean;
}

/**
 * A whole pass, planned without touching anything: the three steps in Kafka's order, each seeing
 * the log as the previous one left it (fewer segments, a higher start offset, and a new empty
 * segment at the log end offset when a step took them all). For tests and tools; the log runs
 * the same steps one at a time on its real segments.
 */
export function planRetention(log: LogSummary, settings: RetentionSettings, now: number): PlannedStep[] {
  let segments = log.segments.slice();
  let logStartOffset = log.logStartOffset;
  const steps: PlannedStep[] = [];
  for (const reason of RETENTION_STEPS) {
    const view: LogSummary = { segments, logStartOffset, logEndOffset: log.logEndOffset, floor: log.floor };
    const count = deletableForStep(reason, view, settings, now);
    if (count === 0) continue;
    const rolls = count === segments.length;
    const deleted = segments.slice(0, count);
    segments = segments.slice(count);
    if (rolls) segments.push({ baseOffset: log.logEndOffset, sizeBytes: 0, largestTimestamp: now });
    logStartOffset = Math.max(logStartOffset, segments[0]!.baseOffset);
    steps.push({ reason, baseOffsets: deleted.map((s) => s.baseOffset), rolls });
  }
  return steps;
}
