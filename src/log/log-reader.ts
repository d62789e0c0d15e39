import { CONTROL_FLAG_MASK, CRC_LENGTH, CRC_OFFSET, LOG_OVERHEAD, readAttributes, readBaseOffset, readBatchSize, readLastOffset } from '../record/batch-layout.js';
import { decodeRecords, decodeRecordsAt } from '../record/batch-reader.js';
import { batchOrderProblem } from '../record/batch-rules.js';
import { CorruptRecordError, LogIOError } from '../errors.js';
import type { LogRecord } from '../record/types.js';
import { BatchCursor } from '../segment/batch-cursor.js';
import type { LogSegment } from '../segment/log-segment.js';
import { LogSegments } from '../segment/log-segments.js';
import { keepLayout } from '../layouts.js';
import { matches, type KnownBatch } from '../segment/verified-batches.js';
import { crc32c } from '../record/crc32c.js';
import { readMemory } from '../files/read-memory.js';

/**
 * Longest single pread of a bulk read; a larger budget takes several. Every run looks its first
 * batch up again (index, header), so a run of the whole default budget costs least (scans of
 * 256 KiB runs took ~15% more CPU), and `readMemory` places reads of up to 2 MiB in its slabs.
 */
const MAX_RUN_BYTES = 1024 * 1024;

/** Up to this many records wanted, a read goes through the writer's mapping (see `bytesOf`). */
const POINT_READ_RECORDS = 64;
/** The header bytes a read-only point read compares with the batch it checked before (base offset to CRC). */
const HEADER_CHECK_BYTES = CRC_OFFSET + CRC_LENGTH;

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * `buf` when it has room for `more` bytes after its first `filled`, else a larger buffer holding
 * those bytes (a read crossing into the next segment: once per segment at most).
 */
function withRoom(buf: Buffer, filled: number, more: number): Buffer {
  if (filled + more <= buf.length) return buf;
  const grown = Buffer.allocUnsafe(filled + more);
  buf.copy(grown, 0, 0, filled);
  return grown;
}

/** Bytes of a run: `buf[start, end)` holds the run, which starts at file position `run.position`. */
interface RunBytes {
  buf: Buffer;
  start: number;
  end: number;
  /** True when `buf` is the writer's mapping: decoded fields must be copied out. */
  copy: boolean;
}

/** Where a run of whole batches lies in one segment's `.log`. */
interface BatchRun {
  segment: LogSegment;
  position: number;
  length: number;
  /** True when the run stops short of the byte budget only because of MAX_RUN_BYTES. */
  capped: boolean;
  /** The base offset of the next segment: every offset of this one is below it. */
  limit: number;
}

/**
 * True for the errors a read of a read-only view gets when the writer renamed, deleted, replaced
 * or cut a file between the view's listing and its read (retention, truncation, a cleaner's swap):
 * a file gone or no longer the one listed (`LogIOError`), bytes that are not what the listing
 * promised (`CorruptRecordError`). The one rule for read-only views: reload the listing and try
 * again (`Log`'s reads, streams); only an error that outlasts a few reloads is real.
 */
export function isWriterRace(err: unknown): boolean {
  return err instanceof LogIOError || err instanceof CorruptRecordError;
}

/**
 * The read side of a log: the two-level lookup (segment by binary search, then the segment's
 * offset index, then a short forward scan of batch headers) and batch decoding. Reads are
 * synchronous positional reads of page-cached data; each call reads each byte range once.
 */
export class LogReader {
  private readonly cursors = new WeakMap<LogSegment, BatchCursor>();
  private readonly chunk = Buffer.allocUnsafe(16 * 1024);
  private readonly header = Buffer.allocUnsafe(HEADER_CHECK_BYTES);
  private readonly pointContext = { file: '', position: 0 };

  constructor(
    private readonly segments: LogSegments,
    /** The cap on a compressed batch's inflated records section (`maxDecompressedBytes`). */
    private readonly maxDecompressedBytes: number,
    /**
     * True for a read-only opener, whose list of segments may be older than the writer's: a read
     * that goes on from one segment into a later one checks the later one first (`crossInto`).
     */
    private readonly checkCrossings = false,
  ) {}

  /**
   * A cursor over `segment` that shares this reader's chunk buffer. `mapFile`: whether it may map
   * the writer's file (see `BatchCursor.mapFile`): false for bulk reads.
   */
  cursorFor(segment: LogSegment, mapFile = true): BatchCursor {
    let cursor = this.cursors.get(segment);
    if (cursor === undefined) {
      cursor = new BatchCursor(segment.log, this.chunk);
      this.cursors.set(segment, cursor);
    }
    cursor.mapFile = mapFile;
    return cursor;
  }

  /**
   * Records from exactly `offset` on, in order, across segments, until `endOffset`, `maxRecords`,
   * or until the next batch would take the batches read past `maxBytes` (at least one record).
   * Control batches are skipped. The caller has checked the range.
   *
   * Damaged data (`CorruptRecordError`) ends the read: the records of the whole batches before it
   * are returned, and the read that starts at the damaged batch throws. Every step must move
   * `next` forward, so a batch whose offsets go backwards can never make a read loop.
   */
  read(offset: number, endOffset: number, maxBytes: number, maxRecords: number): LogRecord[] {
    if (maxRecords <= POINT_READ_RECORDS) {
      const records = this.pointRead(offset, endOffset, maxRecords);
      if (records !== null) return records;
    }
    const out: LogRecord[] = [];
    const progress = { kept: 0 };
    let next = offset;
    let bytes = 0;
    let previous: LogSegment | undefined;
    try {
      while (out.length < maxRecords && next < endOffset) {
        // Until a record is found the budget does not stop the read: after compaction the batches
        // at `offset` may hold nothing at or past it (their kept records are older, or none is).
        const run = this.locateRun(next, endOffset, maxBytes - bytes, out.length === 0, maxRecords - out.length, previous);
        if (run === null) break;
        previous = run.segment;
        const consumed = this.decodeRun(this.bytesOf(run, maxRecords - out.length), run, next, endOffset, maxRecords, out, progress);
        if (consumed.bytes === 0) break;
        if (consumed.nextOffset <= next) throw this.noProgress(run, next, consumed.nextOffset);
        bytes += consumed.bytes;
        next = consumed.nextOffset;
        if (consumed.stoppedForBytes && !run.capped && out.length > 0) break;
      }
    } catch (err) {
      if (!(err instanceof CorruptRecordError) || progress.kept === 0) throw err;
      out.length = progress.kept;
    }
    return out;
  }

  /**
   * A read of a few records that all lie in one batch this process has checked before (see
   * `LogSegment.knownBatchFor`): no header walk, no CRC, and only the wanted records' bytes are
   * read and decoded, whatever their place in the batch. Null when the batch is not known, or
   * the read needs more than it (the general path then reads the file).
   *
   * A read-only opener takes the records' bytes, then the batch's header, and uses the records
   * only when the header is still the one it checked: a writer that cut the file and wrote other
   * batches there rewrites the header before the records after it, since writes go forward
   * (`readPoint`).
   */
  private pointRead(offset: number, endOffset: number, maxRecords: number): LogRecord[] | null {
    const segment = this.segments.floorSegment(offset);
    const batch = segment?.knownBatchFor(offset);
    if (segment === undefined || batch == null || batch.table == null || batch.control || offset < batch.baseOffset) return null;
    const n = Math.min(maxRecords, batch.lastOffset - offset + 1);
    if (n < maxRecords && batch.lastOffset + 1 < endOffset) return null;
    segment.touch();
    const { stride, starts } = batch.table;
    const index = offset - batch.baseOffset;
    const slot = Math.floor(index / stride);
    const endSlot = Math.floor((index + n - 1) / stride) + 1;
    const start = starts[slot]!;
    const end = endSlot < starts.length ? starts[endSlot]! : batch.size;
    const context = this.pointContext;
    context.file = segment.log.file;
    context.position = batch.position;
    const out: LogRecord[] = [];
    const mapped = segment.log.mappedView();
    if (mapped !== null) {
      decodeRecordsAt(mapped, batch.position + start, batch.position + end, batch, index, index - slot * stride, n, out, context, true);
      return out;
    }
    const bytes = Buffer.allocUnsafe(end - start);
    if (!this.readPoint(segment, batch, bytes, start, slot, endSlot)) return null;
    decodeRecordsAt(bytes, 0, bytes.length, batch, index, index - slot * stride, n, out, context, false);
    return out;
  }

  /**
   * A read-only opener's bytes for `pointRead`: `bytes` from `start` in the batch (its entries
   * `slot` to `endSlot` - 1), then the batch's header, which must still be the one checked.
   * Copied from a mapping where one can be taken safely (no read call), then also checked
   * against the entries' CRCs: a copy, unlike a read, may catch a page half written by a writer
   * that cut the file and writes the same batch again. A copy that fails the check means the
   * file is not what was checked: nothing known of it is trusted any more. Else two reads.
   */
  private readPoint(segment: LogSegment, batch: KnownBatch, bytes: Buffer, start: number, slot: number, endSlot: number): boolean {
    const log = segment.log;
    const header = this.header;
    const crcs = batch.table!.crcs;
    if (crcs.length > 0 && log.copyTwo(bytes, batch.position + start, header, batch.position)) {
      if (entriesHold(batch, bytes, start, slot, endSlot) && matches(batch, header, 0)) return true;
      log.forgetBatches();
      return false;
    }
    return log.readTwo(bytes, batch.position + start, header, batch.position) && matches(batch, header, 0);
  }

  private noProgress(run: BatchRun, from: number, to: number): CorruptRecordError {
    const file = run.segment.log.file;
    return new CorruptRecordError(`offsets go backwards in ${file} at position ${run.position}: a read from offset ${from} ended at ${to}`, {
      file,
      position: run.position,
      offset: from,
    });
  }

  /**
   * Raw bytes of whole batches, starting with the one holding `offset`, up to `maxBytes` (at least
   * one batch). The file is read straight into the buffer returned, which the caller owns: one
   * copy (the kernel's), each batch CRC-checked where it landed.
   */
  readBatches(offset: number, endOffset: number, maxBytes: number): Buffer {
    let out = EMPTY;
    let filled = 0;
    let next = offset;
    let previous: LogSegment | undefined;
    while (next < endOffset) {
      const run = this.locateRun(next, endOffset, maxBytes - filled, filled === 0, Number.MAX_SAFE_INTEGER, previous, Number.MAX_SAFE_INTEGER);
      if (run === null) break;
      previous = run.segment;
      out = filled === 0 ? readMemory.take(run.length, run.position) : withRoom(out, filled, run.length);
      const end = filled + run.segment.log.readInto(out, filled, run.length, run.position);
      let at = filled;
      let damage: CorruptRecordError | null = null;
      try {
        while (at + LOG_OVERHEAD <= end && readBaseOffset(out, at) < endOffset) {
          const size = readBatchSize(out, at);
          if (at + size > end || (at + size > maxBytes && at > 0)) break;
          next = this.checkedNext(out, at, run, run.position + at - filled, next, at > filled);
          at += size;
        }
      } catch (err) {
        // As `read`: the whole batches before the damage come back; the call starting there throws.
        if (!(err instanceof CorruptRecordError) || at === 0) throw err;
        damage = err;
      }
      const stoppedInRun = at < end;
      const progressed = at > filled;
      filled = at;
      if (!progressed || damage !== null || stoppedInRun || filled >= maxBytes) break;
    }
    return out.subarray(0, filled);
  }

  /**
   * Checks the batch at `at` (CRC once, and offsets that only go forward: a damaged batch must
   * never send a read back) and returns the offset after it. `next` is the offset the read has
   * reached; `follows` is true for a batch after the first of a run.
   */
  private checkedNext(buf: Buffer, at: number, run: BatchRun, position: number, next: number, follows: boolean): number {
    const segment = run.segment;
    segment.checkBatchOnce(buf, at, position, false);
    const baseOffset = readBaseOffset(buf, at);
    const lastOffset = readLastOffset(buf, at);
    if (lastOffset < next || (follows && baseOffset < next)) {
      const file = segment.log.file;
      throw new CorruptRecordError(`offsets go backwards in ${file} at position ${position}: batch ${baseOffset}..${lastOffset} after offset ${next - 1}`, {
        file,
        position,
      });
    }
    checkBelowLimit(run, position, baseOffset, lastOffset);
    segment.extendChain(position, position + readBatchSize(buf, at), lastOffset);
    return lastOffset + 1;
  }

  /**
   * The segment and byte range to read for `offset`: from the batch holding it to as far as
   * `budget` allows within the segment (at least that first batch when `atLeastOne`), and only
   * that batch when it holds all `recordsWanted`. `previous`: the segment of the read's last run.
   */
  private locateRun(
    offset: number,
    endOffset: number,
    budget: number,
    atLeastOne: boolean,
    recordsWanted: number,
    previous: LogSegment | undefined,
    cap = MAX_RUN_BYTES,
  ): BatchRun | null {
    let segment = this.segments.floorSegment(offset);
    let from = previous ?? segment;
    while (segment !== undefined) {
      if (segment !== from) this.crossInto(segment, from!, offset);
      from = segment;
      segment.touch();
      const cursor = this.cursorFor(segment, recordsWanted <= POINT_READ_RECORDS);
      if (segment.locate(offset, cursor)) {
        if (!atLeastOne && cursor.size > budget) return null;
        this.checkOnChain(segment, cursor, offset);
        const available = segment.size - cursor.position;
        // When this batch alone holds every record wanted, read nothing past it.
        const enough = cursor.lastOffset - offset + 1 >= recordsWanted;
        const uncapped = Math.min(available, Math.max(cursor.size, budget));
        const length = enough ? cursor.size : Math.min(uncapped, Math.max(cursor.size, cap));
        const limit = this.segments.higherSegment(segment.baseOffset)?.baseOffset ?? Number.MAX_SAFE_INTEGER;
        return { segment, position: cursor.position, length, capped: length < uncapped, limit };
      }
      // Nothing at or after `offset` in this segment (a gap at its end): try the next one.
      segment = this.segments.higherSegment(segment.baseOffset);
      if (segment !== undefined && segment.baseOffset >= endOffset) return null;
    }
    return null;
  }

  /**
   * The batch the index led to must be one a walk from the segment's first batch reaches (see
   * `BatchChain`). When the walk meets damage first, `offset` may still lie before the damage:
   * then the batch holding it is found by that walk (slow, and only for a damaged segment).
   */
  private checkOnChain(segment: LogSegment, cursor: BatchCursor, offset: number): void {
    try {
      segment.checkChainThrough(cursor.position, cursor.position + cursor.size, cursor.baseOffset, cursor.lastOffset);
    } catch (err) {
      if (!(err instanceof CorruptRecordError) || !segment.locateOnChain(offset, cursor)) throw err;
    }
  }

  /**
   * The run's bytes. A point read (a few records) uses a window on the writer's mapping of the
   * file: no read call, and only the records wanted are touched and copied out, however large the
   * batch. A bulk read uses one pread into memory no other read uses (`readMemory`): the kernel's
   * copy is the only copy, and decoded fields are zero-copy views of it (copying record by record
   * is slower).
   */
  private bytesOf(run: BatchRun, recordsWanted: number): RunBytes {
    const mapped = recordsWanted <= POINT_READ_RECORDS ? run.segment.log.mappedView() : null;
    if (mapped !== null) return { buf: mapped, start: run.position, end: run.position + run.length, copy: true };
    const buffer = readMemory.take(run.length, run.position);
    const n = run.segment.log.readInto(buffer, 0, run.length, run.position);
    return { buf: buffer, start: 0, end: n, copy: false };
  }

  /**
   * Decodes the batches of a run into `out`. `progress.kept` is how many records of `out` come
   * from whole batches checked so far (what a read keeps when a later batch is damaged).
   */
  private decodeRun(
    bytes: RunBytes,
    run: BatchRun,
    from: number,
    endOffset: number,
    maxRecords: number,
    out: LogRecord[],
    progress: { kept: number },
  ): { bytes: number; nextOffset: number; stoppedForBytes: boolean } {
    const { buf, start, end } = bytes;
    const file = run.segment.log.file;
    const context = { file, position: 0, maxDecompressedBytes: this.maxDecompressedBytes };
    let at = start;
    let nextOffset = from;
    let previousLastOffset = -1;
    let gapChecked = false;
    // Batches past endOffset may be a live writer's newest appends that this view does not count yet.
    while (at + LOG_OVERHEAD <= end && out.length < maxRecords && readBaseOffset(buf, at) < endOffset) {
      const size = readBatchSize(buf, at);
      if (at + size > end) break;
      const position = run.position + at - start;
      run.segment.checkBatchOnce(buf, at, position, maxRecords <= POINT_READ_RECORDS);
      const lastOffset = readLastOffset(buf, at);
      const baseOffset = readBaseOffset(buf, at);
      const order = batchOrderProblem(baseOffset, lastOffset, previousLastOffset);
      if (order !== null) throw new CorruptRecordError(`${order} in ${file} at position ${position}`, { file, position });
      if (lastOffset < nextOffset) this.wentBack(run.segment, position, baseOffset, lastOffset, nextOffset);
      if (this.checkCrossings && !gapChecked && baseOffset > Math.max(from, previousLastOffset + 1)) {
        this.checkUnwritten(run.segment, position);
        gapChecked = true;
      }
      checkBelowLimit(run, position, baseOffset, lastOffset);
      run.segment.extendChain(position, position + size, lastOffset);
      previousLastOffset = lastOffset;
      if ((readAttributes(buf, at) & CONTROL_FLAG_MASK) === 0) {
        context.position = position;
        decodeRecords(buf, at, out, nextOffset, maxRecords - out.length, context, bytes.copy);
      }
      progress.kept = out.length;
      at += size;
      if (out.length >= maxRecords) {
        const last = out[out.length - 1];
        nextOffset = last === undefined ? lastOffset + 1 : last.offset + 1;
        return { bytes: at - start, nextOffset, stoppedForBytes: false };
      }
      nextOffset = lastOffset + 1;
    }
    // A partial batch left at the end of the run is one that did not fit in the byte budget.
    return { bytes: at - start, nextOffset, stoppedForBytes: at < end };
  }

  /**
   * The earliest offset >= `startOffset` whose record timestamp is >= `timestamp`, or null:
   * the first segment (oldest first) whose max timestamp reaches it, then that segment's time
   * index -> offset index -> scan. Kafka's fetchOffsetByTimestamp.
   */
  offsetForTimestamp(timestamp: number, startOffset: number): number | null {
    const list = this.segments;
    // Whether a segment passed over was judged from its files as they are now (see below).
    let readNow = false;
    for (let i = Math.max(0, list.floorIndex(startOffset)); i < list.count; i++) {
      const segment = list.at(i)!;
      const held = segment.maxTimestampHeld;
      // Kafka's rule (`largestTimestamp`): a segment whose time index has no entry yet (small, or
      // reopened) is not skipped on a -1 maximum; its file's mtime stands in for it.
      const largest = segment.largestTimestamp();
      // A maximum read now is held for later lookups only once the next segment is seen to be the
      // writer's and this one unwritten since the view looked: it holds what it held until a cut.
      if (!held && i + 1 < list.count) this.crossInto(list.at(i + 1)!, segment, list.at(i + 1)!.baseOffset, true);
      if (largest < timestamp) {
        readNow ||= largest !== segment.maxTimestamp;
        continue;
      }
      segment.touch();
      const found = segment.findOffsetByTimestamp(timestamp, startOffset, this.cursorFor(segment), this.maxDecompressedBytes);
      if (found >= 0) {
        // A segment passed over for what its file holds now may have been cut since this one was
        // retired (`crossInto`). Passed over on a maximum held (checked as above), it held that
        // until a cut, and a cut retires this one first: the answer is the log's of then.
        if (readNow) this.crossInto(segment, list.at(i - 1)!, found, true);
        return found;
      }
      readNow = true;
    }
    return null;
  }

  /**
   * A run's first batch ends before the offset the read is at: it was located as the batch that
   * reaches it, so the bytes read are not the ones located. A read-only opener's writer cut the
   * file before that batch and wrote it again in between (`LogIOError`: the view reads again);
   * else the file is damaged. Going on would pass over the batch and read from the offset after
   * it, below the one asked for.
   */
  private wentBack(segment: LogSegment, position: number, baseOffset: number, lastOffset: number, next: number): never {
    if (this.checkCrossings) this.checkUnwritten(segment, position);
    const file = segment.log.file;
    throw new CorruptRecordError(`offsets go backwards in ${file} at position ${position}: batch ${baseOffset}..${lastOffset} where offset ${next} was to be read`, {
      file,
      position,
    });
  }

  /**
   * A read-only opener's run skips offsets at `position` (a batch after the one before it, or
   * after the offset wanted, by more than one): only compaction leaves such a gap, or a file the
   * writer cut and wrote again while it was read, whose bytes then came partly from before and
   * partly from after. The file must be unwritten since the view looked (one `fstat`, once per
   * run with a gap); else `LogIOError`, and the view reads again.
   */
  private checkUnwritten(segment: LogSegment, position: number): void {
    if (segment.log.isUnchanged()) return;
    const file = segment.log.file;
    throw new LogIOError(`${file} changed while this view read it: offsets skip at position ${position}`, { file, position });
  }

  /**
   * A read-only opener's read goes on from `from` into the later `segment` (for `offset`): that
   * segment must still be the writer's file under its name. The view's list of segments may be
   * older than the writer's (it caught up a moment ago, or the directory's mtime did not move),
   * while its reads of `from` see that file as it is now. A writer that truncates into `from`
   * (cutting it, then perhaps writing it again) first retires every later segment, so reading on
   * into one of them would join records the log never held together: a gap in the offsets, or a
   * timestamp lookup that skips what `from` holds now. Throws `LogIOError`: the view reloads and
   * reads again (`ReadOnlyView.read`).
   *
   * With `fromRead` (by default: going on over a gap of offsets, `offset` below the segment's
   * base, which only compaction leaves), `from` must also be unwritten since the view looked: a
   * segment created after the retired one's deletion may have got its inode number and name, and
   * so passes the first check.
   */
  private crossInto(segment: LogSegment, from: LogSegment, offset: number, fromRead = offset < segment.baseOffset): void {
    if (!this.checkCrossings) return;
    if (segment.log.isStillAtItsName() && (!fromRead || from.log.isUnchanged())) return;
    const file = segment.log.file;
    throw new LogIOError(`${file} is no longer the segment after ${from.log.file} that this view listed: the writer moved it`, { file, offset });
  }
}

keepLayout(() => new LogReader(new LogSegments(), 0)); // see src/layouts.ts

/** True when the bytes of `batch`'s table entries `slot` to `endSlot` - 1, at `bytes[0]` (batch position `start`), have their CRCs. */
function entriesHold(batch: KnownBatch, bytes: Buffer, start: number, slot: number, endSlot: number): boolean {
  const { starts, crcs } = batch.table!;
  for (let i = slot; i < endSlot; i++) {
    const to = i + 1 < starts.length ? starts[i + 1]! : batch.size;
    if (crc32c(bytes, starts[i]! - start, to - start) !== crcs[i]) return false;
  }
  return true;
}

/** A batch whose offsets reach the next segment's base offset would make offsets go backwards there. */
function checkBelowLimit(run: BatchRun, position: number, baseOffset: number, lastOffset: number): void {
  if (lastOffset < run.limit) return;
  const file = run.segment.log.file;
  throw new CorruptRecordError(`batch ${baseOffset}..${lastOffset} in ${file} at position ${position} runs into the next segment, which starts at ${run.limit}`, {
    file,
    position,
    offset: baseOffset,
  });
}
