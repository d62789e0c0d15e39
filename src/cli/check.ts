/**
 * Checks one segment: every batch's framing and CRC, offsets increasing within and across
 * segments, and every offset-index and time-index entry against the log, as Kafka's
 * `kafka-dump-log --verify-index-only` and index sanity checks do:
 *
 * - offset index entry (O, P): a batch starts at byte P of the `.log` and its last offset is O;
 *   entries increase in offset and position; none points past the log.
 * - time index entry (T, O): O is the last offset of a batch whose max timestamp is T, T is the
 *   largest timestamp of the segment up to O, timestamps strictly increase, none is past the log.
 * - a segment that is no longer active has trimmed indexes (no zero-filled tail).
 *
 * Used by `verify` (everything), `segments` (headers only, no CRC, no index checks) and `dump` of
 * an index file (its entries annotated with the problems found).
 */
import { CorruptRecordError, isSeglogError } from '../errors.js';
import {
  ATTRIBUTES_OFFSET,
  COMPRESSION_CODEC_MASK,
  CRC_COVERAGE_START,
  DELETE_HORIZON_FLAG_MASK,
  TIMESTAMP_TYPE_MASK,
  readBaseOffset,
  readBaseTimestamp,
  INT32_MAX,
  readCrc,
  readInt64,
  readLastOffsetDelta,
  readMaxTimestamp,
  readRecordCount,
} from '../record/batch-layout.js';
import { decodeRecords } from '../record/batch-reader.js';
import { batchOrderProblem, batchShapeProblem } from '../record/batch-rules.js';
import { DEFAULT_CONFIG } from '../log/config.js';
import { crc32c } from '../record/crc32c.js';
import type { LogRecord } from '../record/types.js';
import {
  FileWindow,
  baseName,
  readRawIndex,
  scanLog,
  type Damage,
  type RawIndex,
} from './scan.js';
import { sleep, type SegmentFiles } from './listing.js';
import { belowBase, lengthViolation, offsetOrder, positionOutside, timeOrder, type IndexViolation } from '../index/index-check.js';


export type Severity = 'error' | 'warning';

/** One finding, with the file and byte position it is about. */
export interface Problem {
  severity: Severity;
  /** Stable code, e.g. 'crc-mismatch', 'index-mismatch'. */
  kind: string;
  file: string;
  /** Byte position in `file` (a batch in a `.log`, an entry in an index), or null. */
  position: number | null;
  message: string;
  /** Entry number, for index problems. */
  entry?: number;
  /** Offset concerned, when there is one. */
  offset?: number;
}

export interface CheckOptions {
  /** The segment is the last one (its indexes may be preallocated, its tail in flight). */
  active: boolean;
  /** Zero-filled index slots are not a problem (an active segment's, or one the next open recovers); default: `active`. */
  indexesMayBePreallocated?: boolean;
  /** Last offset of the previous segment, for the across-segments order check. */
  previousLastOffset: number | null;
  /** Check CRCs (needs every byte read). */
  crc: boolean;
  /** Check index files against the log. */
  indexes: boolean;
  /** Decode every record (record framing, offsets and timestamps inside each batch). */
  deep: boolean;
  /** Bytes per read of the `.log`. */
  chunkBytes?: number;
  /** Called as bytes of the `.log` are checked (the increment). */
  onBytes?: (bytes: number) => void;
}

/** What a segment holds, as the check found it. */
export interface SegmentSummary {
  baseOffset: number;
  file: string;
  /** Length of the `.log` in bytes. */
  bytes: number;
  batches: number;
  records: number;
  /** Base offset of the first batch, or null when there is none. */
  firstOffset: number | null;
  /** Last offset of the last batch, or null. */
  lastOffset: number | null;
  /** Timestamp of the first record of the first batch, or -1. */
  firstTimestamp: number;
  /** Smallest batch max timestamp (a lower bound for the time span), or -1. */
  minTimestamp: number;
  maxTimestamp: number;
  indexEntries: number | null;
  timeIndexEntries: number | null;
  /** Zero-filled slots after the entries (preallocated while active; untrimmed otherwise). */
  indexZeroSlots: number;
  timeIndexZeroSlots: number;
  /** Problems of severity 'error' found in this segment. */
  errors: number;
  warnings: number;
  /** The `.log` had framing damage (bad bytes, torn or zero tail). */
  damaged: boolean;
}

/** Checks one segment, calling `sink` for each problem; returns its summary. */
export function checkSegment(seg: SegmentFiles, options: CheckOptions, sink: (p: Problem) => void): SegmentSummary {
  return new SegmentChecker(seg, options, sink).run();
}

class SegmentChecker {
  private readonly logFile: string;
  private readonly summary: SegmentSummary;
  // Offset index, valid entries sorted by position.
  private oOffsets: ArrayLike<number> = [];
  private oPositions: ArrayLike<number> = [];
  private oSlots: ArrayLike<number> = [];
  private oi = 0;
  // Time index, valid entries sorted by offset.
  private tOffsets: ArrayLike<number> = [];
  private tTimestamps: ArrayLike<number> = [];
  private tSlots: ArrayLike<number> = [];
  private ti = 0;
  private indexFile = '';
  private timeIndexFile = '';
  // Scan state.
  private previousLastOffset: number | null;
  private previousBatchEnd = 0;
  private previousBatchPosition = -1;
  private runningMax = -1;
  private pendingBytes = 0;
  private pendingTail: Damage | null = null;
  private readonly records: LogRecord[] = [];
  private deepUnsupported = false;

  constructor(
    private readonly seg: SegmentFiles,
    private readonly options: CheckOptions,
    private readonly sink: (p: Problem) => void,
  ) {
    this.logFile = seg.log!;
    this.previousLastOffset = options.previousLastOffset;
    this.summary = {
      baseOffset: seg.baseOffset,
      file: this.logFile,
      bytes: 0,
      batches: 0,
      records: 0,
      firstOffset: null,
      lastOffset: null,
      firstTimestamp: -1,
      minTimestamp: -1,
      maxTimestamp: -1,
      indexEntries: null,
      timeIndexEntries: null,
      indexZeroSlots: 0,
      timeIndexZeroSlots: 0,
      errors: 0,
      warnings: 0,
      damaged: false,
    };
  }

  run(): SegmentSummary {
    // Indexes first: a live writer appends to the log before it indexes, so every entry read now
    // refers to bytes that are in the log when it is read next.
    this.loadOffsetIndex();
    this.loadTimeIndex();
    const headersOnly = !this.options.crc && !this.options.deep;
    const win = FileWindow.open(this.logFile, this.options.chunkBytes ?? (headersOnly ? 1 << 20 : 8 << 20));
    try {
      let result = scanLog(win, this, 0, headersOnly);
      // A live writer may have been in the middle of an append: look again before calling it torn.
      for (let attempt = 0; this.options.active && result.tornAt !== null && attempt < 3; attempt++) {
        const before = win.size;
        sleep(attempt === 0 ? 0 : 25);
        if (win.refreshSize() <= before) continue;
        this.pendingTail = null;
        result = scanLog(win, this, result.tornAt, headersOnly);
      }
      this.summary.bytes = win.size;
      if (this.pendingTail !== null) this.reportDamage(this.pendingTail);
      this.flushBytes();
      this.finishIndexes(win.size);
    } finally {
      win.close();
    }
    return this.summary;
  }

  private problem(p: Omit<Problem, 'severity'> & { severity?: Severity }): void {
    const full: Problem = { severity: 'error', ...p };
    if (full.severity === 'error') this.summary.errors++;
    else this.summary.warnings++;
    this.sink(full);
  }

  // -------------------------------------------------------------------------------------------
  // Indexes: load and the checks that need no log

  private loadOffsetIndex(): void {
    const file = this.seg.index;
    const index = readRawIndex(file, 8);
    if (index === null) {
      if (this.options.indexes && !this.options.active) {
        this.problem({
          severity: 'warning',
          kind: 'index-missing',
          file: this.logFile,
          position: null,
          message: 'no offset index file (.index); Kafka and seglog rebuild it when they open the partition',
        });
      }
      return;
    }
    this.indexFile = index.file;
    this.summary.indexEntries = index.entries;
    this.summary.indexZeroSlots = index.zeroSlots;
    if (!this.options.indexes) return;
    this.checkIndexShape(index, 'index', 'offset index');
    const base = this.seg.baseOffset;
    const bounds = { baseOffset: base };
    const buf = index.buf;
    const n = index.entries;
    const offsets = new Float64Array(n);
    const positions = new Float64Array(n);
    const slots = new Int32Array(n);
    let kept = 0;
    let previousOffset = -1;
    let previousPosition = -1;
    for (let i = 0; i < n; i++) {
      const entry = { offset: base + buf.readInt32BE(i * 8), position: buf.readInt32BE(i * 8 + 4) };
      const { offset, position } = entry;
      const previous = { offset: previousOffset, position: previousPosition };
      const misplaced = belowBase(bounds, i, offset) ?? (kept > 0 ? offsetOrder(i, entry, slots[kept - 1]!, previous, true) : null);
      if (misplaced !== null) this.indexViolation(index.file, 8, 'index', misplaced);
      // A negative position (past-log without a log size) points nowhere: the entry is dropped.
      const outside = positionOutside(bounds, i, entry);
      if (outside !== null) {
        this.indexViolation(index.file, 8, 'index', outside);
        continue;
      }
      offsets[kept] = offset;
      positions[kept] = position;
      slots[kept] = i;
      kept++;
      previousOffset = offset;
      previousPosition = position;
    }
    const order = sortOrder(positions, kept);
    this.oOffsets = permute(offsets, order, kept);
    this.oPositions = permute(positions, order, kept);
    this.oSlots = permute(slots, order, kept);
  }

  private loadTimeIndex(): void {
    const file = this.seg.timeIndex;
    const index = readRawIndex(file, 12);
    if (index === null) {
      if (this.options.indexes && !this.options.active) {
        this.problem({
          severity: 'warning',
          kind: 'timeindex-missing',
          file: this.logFile,
          position: null,
          message: 'no time index file (.timeindex); Kafka and seglog rebuild it when they open the partition',
        });
      }
      return;
    }
    this.timeIndexFile = index.file;
    this.summary.timeIndexEntries = index.entries;
    this.summary.timeIndexZeroSlots = index.zeroSlots;
    if (!this.options.indexes) return;
    this.checkIndexShape(index, 'timeindex', 'time index');
    const base = this.seg.baseOffset;
    const bounds = { baseOffset: base };
    const buf = index.buf;
    const n = index.entries;
    const offsets = new Float64Array(n);
    const timestamps = new Float64Array(n);
    const slots = new Int32Array(n);
    let kept = 0;
    let previousOffset = -1;
    let previousTimestamp = -1;
    for (let i = 0; i < n; i++) {
      const at = i * 12;
      const entry = { timestamp: readInt64(buf, at), offset: base + buf.readInt32BE(at + 8) };
      const { timestamp, offset } = entry;
      const below = belowBase(bounds, i, offset);
      if (below !== null) {
        this.indexViolation(index.file, 12, 'timeindex', below);
        continue;
      }
      const order = kept > 0 ? timeOrder(i, entry, slots[kept - 1]!, { timestamp: previousTimestamp, offset: previousOffset }, true) : null;
      if (order !== null) this.indexViolation(index.file, 12, 'timeindex', order);
      offsets[kept] = offset;
      timestamps[kept] = timestamp;
      slots[kept] = i;
      kept++;
      previousOffset = offset;
      previousTimestamp = timestamp;
    }
    const order = sortOrder(offsets, kept);
    this.tOffsets = permute(offsets, order, kept);
    this.tTimestamps = permute(timestamps, order, kept);
    this.tSlots = permute(slots, order, kept);
  }

  /** A broken rule of `src/index/index-check.ts`, reported as `<prefix>-<rule>` at its entry. */
  private indexViolation(file: string, entrySize: number, prefix: string, v: IndexViolation): void {
    this.problem({ kind: `${prefix}-${v.rule}`, file, position: v.entry * entrySize, entry: v.entry, ...(v.offset === undefined ? {} : { offset: v.offset }), message: v.message });
  }

  private checkIndexShape(index: RawIndex, kind: string, name: string): void {
    if (lengthViolation(index.length, index.entrySize) !== null) {
      this.problem({
        kind: `${kind}-length`,
        file: index.file,
        position: index.length - index.remainder,
        message: `${name} length ${index.length} is not a multiple of ${index.entrySize}: ${index.remainder} stray bytes at the end`,
      });
    }
    if (index.zeroSlots > 0 && !(this.options.indexesMayBePreallocated ?? this.options.active)) {
      this.problem({
        kind: `${kind}-untrimmed`,
        file: index.file,
        position: index.entries * index.entrySize,
        message: `${name} not trimmed: ${index.zeroSlots} zero-filled slots after its ${index.entries} entries (a crash before the segment was closed; Kafka would read them as entries)`,
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // The scan (ScanVisitor)

  batch(buf: Buffer, at: number, position: number, size: number): void {
    const s = this.summary;
    const file = this.logFile;
    const base = readBaseOffset(buf, at);
    const delta = readLastOffsetDelta(buf, at);
    const last = base + delta;
    const count = readRecordCount(buf, at);
    const attributes = buf[at + ATTRIBUTES_OFFSET + 1]!;
    let maxTimestamp = readMaxTimestamp(buf, at);
    let crcOk = true;

    if (this.options.crc) {
      const stored = readCrc(buf, at);
      const computed = crc32c(buf, at + CRC_COVERAGE_START, at + size);
      if (stored !== computed) {
        crcOk = false;
        this.problem({
          kind: 'crc-mismatch',
          file,
          position,
          offset: base,
          message: `CRC mismatch in batch ${base}..${last} (${size} bytes): stored ${stored}, computed ${computed}; its contents cannot be trusted`,
        });
      }
    }
    const codec = attributes & COMPRESSION_CODEC_MASK;
    if (codec > 4) this.batchProblem(position, base, last, `unknown compression codec id ${codec}`);
    const shape = batchShapeProblem(base, delta, count);
    if (shape !== null) this.batchProblem(position, base, last, shape);

    if (base < this.seg.baseOffset) {
      this.problem({
        kind: 'offset-range',
        file,
        position,
        offset: base,
        message: `batch ${base}..${last} is below the segment's base offset ${this.seg.baseOffset}`,
      });
    } else if (last - this.seg.baseOffset > INT32_MAX) {
      this.problem({
        kind: 'offset-range',
        file,
        position,
        offset: last,
        message: `batch ${base}..${last} is too far above the segment's base offset ${this.seg.baseOffset} for a 32-bit relative offset`,
      });
    }
    const order = this.previousLastOffset === null ? null : batchOrderProblem(base, last, this.previousLastOffset);
    if (order !== null) {
      const where = s.batches === 0 ? " (the previous segment's last batch)" : '';
      this.problem({ kind: 'offset-order', file, position, offset: base, message: order + where });
    }
    if (this.options.deep && crcOk) maxTimestamp = this.checkRecords(buf, at, position, base, last, count, maxTimestamp, attributes);

    if (s.batches === 0) {
      s.firstOffset = base;
      const logAppendTime = (attributes & (TIMESTAMP_TYPE_MASK | DELETE_HORIZON_FLAG_MASK)) !== 0;
      s.firstTimestamp = logAppendTime || count === 0 ? maxTimestamp : readBaseTimestamp(buf, at);
    }
    s.batches++;
    s.records += Math.max(0, count);
    s.lastOffset = last;
    if (maxTimestamp >= 0 && (s.minTimestamp < 0 || maxTimestamp < s.minTimestamp)) s.minTimestamp = maxTimestamp;
    if (maxTimestamp > this.runningMax) this.runningMax = maxTimestamp;
    s.maxTimestamp = this.runningMax;

    if (this.options.indexes) {
      this.matchOffsetIndex(position, last);
      this.matchTimeIndex(position, base, last, maxTimestamp);
    }
    this.previousLastOffset = last;
    this.previousBatchPosition = position;
    this.previousBatchEnd = position + size;
    this.pendingBytes += size;
    if (this.pendingBytes >= 4 << 20) this.flushBytes();
  }

  damage(d: Damage): void {
    // An incomplete batch at the end of the active segment may be an append in flight.
    if (d.kind === 'torn' && d.resumedAt === null && this.options.active) {
      this.pendingTail = d;
      return;
    }
    this.reportDamage(d);
  }

  private reportDamage(d: Damage): void {
    this.summary.damaged = true;
    const kind = d.kind === 'framing' ? 'bad-framing' : d.kind === 'torn' ? 'torn-tail' : 'zero-tail';
    let message = d.message;
    if (d.kind === 'torn' && this.options.active) message += ' (a crash during an append; the next open cuts it off)';
    const severity: Severity = d.kind === 'zero-tail' && this.options.active ? 'warning' : 'error';
    this.problem({ severity, kind, file: this.logFile, position: d.position, message });
  }

  private flushBytes(): void {
    if (this.pendingBytes > 0) this.options.onBytes?.(this.pendingBytes);
    this.pendingBytes = 0;
  }

  private batchProblem(position: number, base: number, last: number, what: string): void {
    this.problem({ kind: 'bad-batch', file: this.logFile, position, offset: base, message: `batch ${base}..${last}: ${what}` });
  }

  /** Decodes the records; returns the batch's max timestamp as Kafka's dump tool computes it (from the records). */
  private checkRecords(buf: Buffer, at: number, position: number, base: number, last: number, count: number, headerMax: number, attributes: number): number {
    if (this.deepUnsupported) return headerMax;
    const records = this.records;
    records.length = 0;
    try {
      decodeRecords(buf, at, records, -Infinity, Number.MAX_SAFE_INTEGER, { file: this.logFile, position, maxDecompressedBytes: DEFAULT_CONFIG.maxDecompressedBytes });
    } catch (err) {
      if (err instanceof CorruptRecordError) {
        this.problem({ kind: 'bad-records', file: this.logFile, position, offset: base, message: err.message.replace(/^Corrupt record batch at position \d+ in \S+: /, `batch ${base}..${last}: `) });
      } else if (isSeglogError(err)) {
        this.deepUnsupported = true;
        this.problem({ severity: 'warning', kind: 'records-unchecked', file: this.logFile, position, offset: base, message: `records not checked: ${(err as Error).message}` });
      } else {
        throw err;
      }
      return headerMax;
    }
    let previous = base - 1;
    let max = -1;
    for (const r of records) {
      if (r.offset <= previous || r.offset > last) {
        this.problem({ kind: 'bad-records', file: this.logFile, position, offset: r.offset, message: `batch ${base}..${last}: record offset ${r.offset} is out of order or outside the batch` });
        break;
      }
      previous = r.offset;
      if (r.timestamp > max) max = r.timestamp;
    }
    const createTime = (attributes & TIMESTAMP_TYPE_MASK) === 0;
    if (createTime && count > 0 && max !== headerMax) {
      this.problem({ kind: 'bad-records', file: this.logFile, position, offset: base, message: `batch ${base}..${last}: header max timestamp ${headerMax}, but its records' largest is ${max}` });
    }
    return createTime && count > 0 ? max : headerMax;
  }

  private matchOffsetIndex(position: number, last: number): void {
    const n = this.oPositions.length;
    while (this.oi < n && this.oPositions[this.oi]! < position) {
      this.notBatchStart(this.oi, this.previousBatchPosition, this.previousBatchEnd);
      this.oi++;
    }
    while (this.oi < n && this.oPositions[this.oi] === position) {
      const offset = this.oOffsets[this.oi]!;
      if (offset !== last) {
        const slot = this.oSlots[this.oi]!;
        this.problem({
          kind: 'index-mismatch',
          file: this.indexFile,
          position: slot * 8,
          entry: slot,
          offset,
          message: `entry ${slot} says offset ${offset} ends the batch at position ${position} of ${baseName(this.logFile)}, but that batch ends at offset ${last}`,
        });
      }
      this.oi++;
    }
  }

  private notBatchStart(i: number, batchPosition: number, batchEnd: number): void {
    const slot = this.oSlots[i]!;
    const p = this.oPositions[i]!;
    const inside = p < batchEnd && batchPosition >= 0 ? `inside the batch at ${batchPosition}` : 'in bytes that are not a batch';
    this.problem({
      kind: 'index-not-batch-start',
      file: this.indexFile,
      position: slot * 8,
      entry: slot,
      offset: this.oOffsets[i]!,
      message: `entry ${slot} (offset ${this.oOffsets[i]}) points at position ${p} of ${baseName(this.logFile)}, which is not the start of a batch (it is ${inside})`,
    });
  }

  private matchTimeIndex(position: number, base: number, last: number, batchMax: number): void {
    const n = this.tOffsets.length;
    while (this.ti < n && this.tOffsets[this.ti]! <= last) {
      const i = this.ti++;
      const slot = this.tSlots[i]!;
      const offset = this.tOffsets[i]!;
      const timestamp = this.tTimestamps[i]!;
      const common = { file: this.timeIndexFile, position: slot * 12, entry: slot, offset };
      if (offset < base) {
        this.problem({ ...common, kind: 'timeindex-not-batch-end', message: `entry ${slot} (timestamp ${timestamp}) names offset ${offset}, which no batch of ${baseName(this.logFile)} ends at` });
      } else if (offset < last) {
        this.problem({ ...common, kind: 'timeindex-not-batch-end', message: `entry ${slot} (timestamp ${timestamp}) names offset ${offset}, inside the batch ${base}..${last} at position ${position} rather than its last offset` });
      } else if (timestamp !== batchMax) {
        this.problem({ ...common, kind: 'timeindex-mismatch', message: `entry ${slot} says timestamp ${timestamp} at offset ${offset}, but the batch ending there (position ${position}) has max timestamp ${batchMax}` });
      } else if (this.runningMax > timestamp) {
        this.problem({ ...common, kind: 'timeindex-not-max', message: `entry ${slot} says ${timestamp} is the largest timestamp up to offset ${offset}, but an earlier batch has ${this.runningMax}: lookups by time can miss records` });
      }
    }
  }

  /** Entries that no batch reached: past the end of the log, or into damaged bytes. */
  private finishIndexes(logSize: number): void {
    if (!this.options.indexes) return;
    for (; this.oi < this.oPositions.length; this.oi++) {
      const p = this.oPositions[this.oi]!;
      if (p < this.previousBatchEnd || p < logSize) {
        this.notBatchStart(this.oi, this.previousBatchPosition, this.previousBatchEnd);
        continue;
      }
      const slot = this.oSlots[this.oi]!;
      this.problem({
        kind: 'index-past-log',
        file: this.indexFile,
        position: slot * 8,
        entry: slot,
        offset: this.oOffsets[this.oi]!,
        message: `entry ${slot} (offset ${this.oOffsets[this.oi]}) points at position ${p}, past the end of ${baseName(this.logFile)} (${logSize} bytes)`,
      });
    }
    const lastOffset = this.summary.lastOffset;
    for (; this.ti < this.tOffsets.length; this.ti++) {
      const slot = this.tSlots[this.ti]!;
      const offset = this.tOffsets[this.ti]!;
      this.problem({
        kind: 'timeindex-past-log',
        file: this.timeIndexFile,
        position: slot * 12,
        entry: slot,
        offset,
        message: `entry ${slot} (timestamp ${this.tTimestamps[this.ti]}) names offset ${offset}, past the last offset of ${baseName(this.logFile)} (${lastOffset === null ? 'it has no batches' : lastOffset})`,
      });
    }
  }
}

/** The first `n` indexes of `keys` in ascending key order (stable), or null when already in order. */
function sortOrder(keys: ArrayLike<number>, n: number): number[] | null {
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (keys[i]! < keys[i - 1]!) sorted = false;
  if (sorted) return null;
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a]! - keys[b]! || a - b);
}

function permute<T extends Float64Array | Int32Array>(values: T, order: number[] | null, n: number): T {
  const out = values.subarray(0, n) as T;
  if (order === null) return out;
  const copy = out.slice() as T;
  for (let i = 0; i < n; i++) out[i] = copy[order[i]!]!;
  return out;
}

