import type { LogSegment } from '../segment/log-segment.js';
import type { LogSegments } from '../segment/log-segments.js';

/** The cleaner configs of a log (a structural subset of the log's resolved config). */
export interface CleaningConfig {
  minCleanableDirtyRatio: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
}

/** What Kafka's LogCleanerManager knows about a log: its segments and offsets. */
export interface CleanableLog {
  segments: LogSegments;
  startOffset: number;
  endOffset: number;
}

/** Kafka's OffsetsToClean: the dirty range [firstDirty, firstUncleanable). */
export interface OffsetsToClean {
  firstDirtyOffset: number;
  firstUncleanableOffset: number;
  /** True when the checkpoint was out of range and the range was reset to the log start. */
  forceUpdateCheckpoint: boolean;
}

/**
 * Kafka's `LogCleanerManager.cleanableOffsets`: the dirty section starts at the checkpoint (the
 * log start offset when there is none, or when it lies below the log start or past the log end)
 * and ends at the lowest of the active segment's base offset and the base offset of the first
 * dirty inactive segment whose largest timestamp is within `minCompactionLagMs` of `now`.
 */
export function cleanableOffsets(log: CleanableLog, checkpoint: number | null, config: CleaningConfig, now: number): OffsetsToClean {
  let firstDirtyOffset = checkpoint ?? log.startOffset;
  let forceUpdateCheckpoint = false;
  if (firstDirtyOffset < log.startOffset || firstDirtyOffset > log.endOffset) {
    firstDirtyOffset = log.startOffset;
    forceUpdateCheckpoint = true;
  }
  const active = log.segments.activeSegment;
  let firstUncleanable = active.baseOffset;
  if (config.minCompactionLagMs > 0) {
    for (const segment of dirtyInactiveSegments(log.segments, firstDirtyOffset)) {
      if (segment.largestTimestamp() > now - config.minCompactionLagMs) {
        firstUncleanable = Math.min(firstUncleanable, segment.baseOffset);
        break;
      }
    }
  }
  return { firstDirtyOffset, firstUncleanableOffset: Math.max(firstDirtyOffset, firstUncleanable), forceUpdateCheckpoint };
}

/** Kafka's LogToClean figures: bytes already clean, bytes cleanable, and their ratio. */
export interface DirtyState extends OffsetsToClean {
  cleanBytes: number;
  cleanableBytes: number;
  totalBytes: number;
  /** cleanableBytes / totalBytes (0 when the log has no cleanable bytes). */
  dirtyRatio: number;
  /** Kafka's needCompactionNow: a dirty inactive segment's first batch is older than `maxCompactionLagMs`. */
  needCompactionNow: boolean;
}

/**
 * Kafka's LogToClean over `cleanableOffsets`: clean bytes are the segments below the first dirty
 * offset, cleanable bytes those from it up to the first uncleanable segment.
 */
export function dirtyState(log: CleanableLog, checkpoint: number | null, config: CleaningConfig, now: number): DirtyState {
  const offsets = cleanableOffsets(log, checkpoint, config, now);
  const { firstDirtyOffset, firstUncleanableOffset } = offsets;
  const list = log.segments.values();
  // Kafka: the first uncleanable segment is the first inactive one from that offset (or the active one).
  const uncleanableSegment = list.find((s, i) => i < list.length - 1 && s.baseOffset >= firstUncleanableOffset) ?? log.segments.activeSegment;
  const uncleanable = uncleanableSegment.baseOffset;
  const cleanBytes = sizeOf(segmentsInRange(log.segments, -1, firstDirtyOffset));
  const cleanableBytes = sizeOf(segmentsInRange(log.segments, Math.min(firstDirtyOffset, uncleanable), uncleanable));
  const totalBytes = cleanBytes + cleanableBytes;
  return {
    ...offsets,
    cleanBytes,
    cleanableBytes,
    totalBytes,
    dirtyRatio: totalBytes === 0 ? 0 : cleanableBytes / totalBytes,
    needCompactionNow: maxCompactionDelay(log.segments, firstDirtyOffset, config.maxCompactionLagMs, now) > 0,
  };
}

/** Kafka's rule for the background cleaner: something to clean, and dirty enough or overdue. */
export function shouldClean(state: DirtyState, config: CleaningConfig): boolean {
  return state.totalBytes > 0 && state.cleanableBytes > 0 && (state.dirtyRatio > config.minCleanableDirtyRatio || state.needCompactionNow);
}

/**
 * Kafka's maxCompactionDelay: how far the earliest first-batch timestamp (> 0) of the dirty
 * inactive segments is past `now - maxCompactionLagMs`; 0 when none is.
 */
function maxCompactionDelay(segments: LogSegments, firstDirtyOffset: number, maxCompactionLagMs: number, now: number): number {
  if (maxCompactionLagMs >= Number.MAX_SAFE_INTEGER) return 0;
  let earliest = Number.MAX_SAFE_INTEGER;
  for (const segment of dirtyInactiveSegments(segments, firstDirtyOffset)) {
    const first = segment.firstBatchTimestamp();
    if (first > 0 && first < earliest) earliest = first;
  }
  const cleanUntil = now - maxCompactionLagMs;
  return earliest < cleanUntil ? cleanUntil - earliest : 0;
}

/** Kafka's `logSegments(from, to)`: the segments holding offsets in [from, to). */
export function segmentsInRange(segments: LogSegments, from: number, to: number): LogSegment[] {
  const list = segments.values();
  const first = Math.max(0, segments.floorIndex(from));
  const out: LogSegment[] = [];
  for (let i = first; i < list.length && list[i]!.baseOffset < to; i++) out.push(list[i]!);
  return out;
}

/** Kafka's `nonActiveLogSegmentsFrom(offset)`. */
function dirtyInactiveSegments(segments: LogSegments, from: number): LogSegment[] {
  const list = segmentsInRange(segments, from, Number.MAX_SAFE_INTEGER);
  return list.slice(0, list.length - 1 >= 0 && list[list.length - 1] === segments.activeSegment ? -1 : list.length);
}

function sizeOf(list: readonly LogSegment[]): number {
  let total = 0;
  for (const s of list) total += s.size;
  return total;
}
