/**
 * The offset rules every batch on disk must keep, stated once and used by recovery, the read
 * path, the batch cursor and the CLI's checks. A CRC only says the bytes are those a writer
 * produced; these say the writer (or whoever made the file) produced something consistent.
 *
 * - Across batches: each batch's base offset is above the previous batch's last offset. Offsets
 *   strictly increase but need not be contiguous: a compacted log has gaps between batches.
 * - Within a batch: `lastOffsetDelta >= 0`, `0 <= recordCount <= lastOffsetDelta + 1`, and the
 *   records' offset deltas strictly increase and stay within `[0, lastOffsetDelta]`. An
 *   uncompacted batch has exactly `lastOffsetDelta + 1` records (then these rules force its
 *   deltas to be 0, 1, 2, ...); a compacted one (Kafka's cleaner keeps a batch's last offset
 *   delta when it drops records) may have fewer, even none. The bytes do not say which a batch
 *   is, so fewer records is accepted and the deltas are what is checked.
 *
 * Each function returns what is wrong, in words, or null; callers turn that into their typed
 * error (a reader's `CorruptRecordError`, a report line of `seglog check`).
 */

/** The largest offset seglog can represent exactly. */
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** The batch's own fields: last offset delta and record count. */
export function batchShapeProblem(baseOffset: number, lastOffsetDelta: number, recordCount: number): string | null {
  if (baseOffset < 0 || baseOffset > MAX_OFFSET - Math.max(0, lastOffsetDelta)) return `base offset ${baseOffset} is out of range`;
  if (lastOffsetDelta < 0) return `negative last offset delta ${lastOffsetDelta}`;
  if (recordCount < 0) return `negative record count ${recordCount}`;
  if (recordCount > lastOffsetDelta + 1) return `record count ${recordCount} does not fit its ${lastOffsetDelta + 1} offsets (last offset delta ${lastOffsetDelta})`;
  return null;
}

/** The batch against the one before it (`previousLastOffset`; -1 or less when there is none). */
export function batchOrderProblem(baseOffset: number, lastOffset: number, previousLastOffset: number): string | null {
  if (baseOffset <= previousLastOffset) {
    return `offsets go backwards: batch ${baseOffset}..${lastOffset} does not come after the previous batch, which ends at ${previousLastOffset}`;
  }
  return null;
}

/** The offset delta of a record against the previous record's (-1 for the first) and the batch's last offset delta. */
export function recordDeltaProblem(delta: number, previousDelta: number, lastOffsetDelta: number): string | null {
  if (delta <= previousDelta) return `offset delta ${delta} is not above the previous record's ${previousDelta}`;
  if (delta > lastOffsetDelta) return `offset delta ${delta} is past the batch's last offset delta ${lastOffsetDelta}`;
  return null;
}
