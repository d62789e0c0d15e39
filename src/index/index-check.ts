import { CorruptIndexError } from '../errors.js';

/**
 * What a valid index is, in one place: Kafka's `OffsetIndex`/`TimeIndex.sanityCheck` rules plus
 * the bounds its segment sets. Three users apply them: `OffsetIndex`/`TimeIndex.sanityCheck`,
 * the loader at open (first and last entries only, read with two preads, so a clean open stays
 * cheap; a bad index is rebuilt from the `.log`), and `seglog verify` (every entry, each problem
 * reported with its rule). Each rule is a function returning the violation or null; the
 * `check*` functions apply them in order and throw the first as `CorruptIndexError`.
 */

/** Bytes of an offset-index entry: relative offset (int32), position (int32). */
export const OFFSET_INDEX_ENTRY_SIZE = 8;
/** Bytes of a time-index entry: timestamp (int64), relative offset (int32). */
export const TIME_INDEX_ENTRY_SIZE = 12;

/** The rule an index breaks (`seglog verify` reports it as `index-<rule>` or `timeindex-<rule>`). */
export type IndexRule = 'length' | 'below-base' | 'order' | 'past-log' | 'past-next-segment';

export interface IndexViolation {
  rule: IndexRule;
  /** The entry concerned (for `length`, the number of whole entries). */
  entry: number;
  offset?: number;
  position?: number;
  /** What is wrong, without the file name. */
  message: string;
}

/** An offset-index entry with its absolute offset. */
export interface OffsetEntry {
  offset: number;
  position: number;
}

/** A time-index entry with its absolute offset. */
export interface TimeEntry {
  timestamp: number;
  offset: number;
}

/** What the segment says about its indexes' entries. */
export interface IndexBounds {
  baseOffset: number;
  /** Size of the `.log`: every position must be below it (unknown: only negative ones are caught). */
  logSize?: number | undefined;
  /** Base offset of the next segment: every offset must be below it. */
  nextBaseOffset?: number | undefined;
}

/** Entries by number, however they are stored (a mapping, a pread buffer, a whole file). */
export interface IndexEntries<E> {
  readonly count: number;
  entry(n: number): E;
}

export function lengthViolation(length: number, entrySize: number): IndexViolation | null {
  if (length % entrySize === 0) return null;
  return { rule: 'length', entry: Math.floor(length / entrySize), message: `its length ${length} is not a multiple of ${entrySize}` };
}

export function belowBase(bounds: IndexBounds, n: number, offset: number): IndexViolation | null {
  if (offset >= bounds.baseOffset) return null;
  return { rule: 'below-base', entry: n, offset, message: `entry ${n} has offset ${offset}, below the base offset ${bounds.baseOffset}` };
}

export function positionOutside(bounds: IndexBounds, n: number, e: OffsetEntry): IndexViolation | null {
  const { logSize } = bounds;
  if (e.position >= 0 && (logSize === undefined || e.position < logSize)) return null;
  const message =
    e.position < 0
      ? `entry ${n} (offset ${e.offset}) has a negative position ${e.position}`
      : `entry ${n}: offset ${e.offset} points at position ${e.position}, outside the log (${logSize} bytes)`;
  return { rule: 'past-log', entry: n, offset: e.offset, position: e.position, message };
}

export function pastNextSegment(bounds: IndexBounds, n: number, offset: number): IndexViolation | null {
  const limit = bounds.nextBaseOffset;
  if (limit === undefined || offset < limit) return null;
  return { rule: 'past-next-segment', entry: n, offset, message: `entry ${n} has offset ${offset}, not below the next segment's base offset ${limit}` };
}

/**
 * Offset-index order. Adjacent entries (`full`): offsets and positions strictly increase. First
 * against last (not `full`): the offsets increase.
 */
export function offsetOrder(n: number, e: OffsetEntry, m: number, before: OffsetEntry, full: boolean): IndexViolation | null {
  if (!full) {
    if (e.offset > before.offset) return null;
    return { rule: 'order', entry: n, offset: e.offset, message: `its last offset ${e.offset} is not above its first offset ${before.offset}` };
  }
  if (e.offset > before.offset && e.position > before.position) return null;
  return {
    rule: 'order',
    entry: n,
    offset: e.offset,
    position: e.position,
    message: `entry ${n} (offset ${e.offset}, position ${e.position}) does not come after entry ${m} (offset ${before.offset}, position ${before.position}): entries must increase`,
  };
}

/**
 * Time-index order. Adjacent entries (`full`): timestamps strictly increase and offsets never go
 * down. First against last (not `full`): the timestamps increase.
 */
export function timeOrder(n: number, e: TimeEntry, m: number, before: TimeEntry, full: boolean): IndexViolation | null {
  if (!full) {
    if (e.timestamp > before.timestamp) return null;
    return { rule: 'order', entry: n, offset: e.offset, message: `its last timestamp ${e.timestamp} is not above its first timestamp ${before.timestamp}` };
  }
  if (e.timestamp > before.timestamp && e.offset >= before.offset) return null;
  const what = e.timestamp <= before.timestamp ? `timestamp ${e.timestamp} is not above ${before.timestamp}` : `offset ${e.offset} is below ${before.offset}`;
  return { rule: 'order', entry: n, offset: e.offset, message: `entry ${n} (timestamp ${e.timestamp}, offset ${e.offset}) is out of order: its ${what} of entry ${m}` };
}

/**
 * Throws `CorruptIndexError` for the first rule an offset index of `length` bytes breaks: whole
 * entries, offsets not below the base offset nor at or past the next segment, positions inside
 * the log, increasing entries. `full` checks every entry; otherwise the first and the last only.
 */
export function checkOffsetIndex(file: string, length: number, bounds: IndexBounds, entries: IndexEntries<OffsetEntry>, full: boolean): void {
  fail(file, 'index', lengthViolation(length, OFFSET_INDEX_ENTRY_SIZE));
  const n = entries.count;
  if (n === 0) return;
  const first = entries.entry(0);
  fail(file, 'index', belowBase(bounds, 0, first.offset) ?? positionOutside(bounds, 0, first));
  let m = 0;
  let before = first;
  for (let i = full ? 1 : n - 1; i > 0 && i < n; i++) {
    const e = entries.entry(i);
    fail(file, 'index', belowBase(bounds, i, e.offset) ?? offsetOrder(i, e, m, before, full) ?? positionOutside(bounds, i, e));
    m = i;
    before = e;
  }
  fail(file, 'index', pastNextSegment(bounds, n - 1, before.offset));
}

/**
 * Throws `CorruptIndexError` for the first rule a time index of `length` bytes breaks: whole
 * entries, offsets not below the base offset nor at or past the next segment, increasing
 * timestamps. `full` checks every entry; otherwise the first and the last only.
 */
export function checkTimeIndex(file: string, length: number, bounds: IndexBounds, entries: IndexEntries<TimeEntry>, full: boolean): void {
  fail(file, 'time index', lengthViolation(length, TIME_INDEX_ENTRY_SIZE));
  const n = entries.count;
  if (n === 0) return;
  const first = entries.entry(0);
  fail(file, 'time index', belowBase(bounds, 0, first.offset));
  let m = 0;
  let before = first;
  for (let i = full ? 1 : n - 1; i > 0 && i < n; i++) {
    const e = entries.entry(i);
    fail(file, 'time index', belowBase(bounds, i, e.offset) ?? timeOrder(i, e, m, before, full));
    m = i;
    before = e;
  }
  fail(file, 'time index', pastNextSegment(bounds, n - 1, before.offset));
}

function fail(file: string, what: string, violation: IndexViolation | null): void {
  if (violation === null) return;
  const context = { file, ...(violation.offset === undefined ? {} : { offset: violation.offset }), ...(violation.position === undefined ? {} : { position: violation.position }) };
  throw new CorruptIndexError(`${what} file ${file} is corrupt: ${violation.message}`, context);
}
