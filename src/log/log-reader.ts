import { LOG_OVERHEAD, readAttributes, readBatchSize, readLastOffset, CONTROL_FLAG_MASK } from '../record/batch-layout.js';
import { decodeRecords, validateBatch } from '../record/batch-reader.js';
import type { LogRecord } from '../record/types.js';
import { BatchCursor } from '../segment/batch-cursor.js';
import type { LogSegment } from '../segment/log-segment.js';
import type { LogSegments } from './log-segments.js';

/** Where a run of whole batches lies in one segment's `.log`. */
interface BatchRun {
  segment: LogSegment;
  position: number;
  length: number;
}

/**
 * The read side of a log: the two-level lookup (segment by binary search, then the segment's
 * offset index, then a short forward scan of batch headers) and batch decoding. Reads are
 * synchronous positional reads of page-cached data; each call reads each byte range once.
 */
export class LogReader {
  private readonly cursors = new WeakMap<LogSegment, BatchCursor>();
  private readonly chunk = Buffer.allocUnsafe(16 * 1024);

  constructor(private readonly segments: LogSegments) {}

  /** A cursor over `segment` that shares this reader's chunk buffer. */
  cursorFor(segment: LogSegment): BatchCursor {
    let cursor = this.cursors.get(segment);
    if (cursor === undefined) {
      cursor = new BatchCursor(segment.log, this.chunk);
      this.cursors.set(segment, cursor);
    }
    return cursor;
  }

  /**
   * Records from exactly `offset` on, in order, across segments, until `endOffset`, `maxRecords`,
   * or until the next batch would take the batches read past `maxBytes` (at least one record).
   * Control batches are skipped. The caller has checked the range.
   */
  read(offset: number, endOffset: number, maxBytes: number, maxRecords: number): LogRecord[] {
    const out: LogRecord[] = [];
    let next = offset;
    let bytes = 0;
    while (out.length < maxRecords && next < endOffset) {
      const run = this.locateRun(next, endOffset, maxBytes - bytes, out.length === 0 && bytes === 0);
      if (run === null) break;
      const buffer = this.readRun(run);
      const consumed = this.decodeRun(buffer, run, next, maxRecords, out);
      if (consumed.bytes === 0) break;
      bytes += consumed.bytes;
      next = consumed.nextOffset;
      if (consumed.stoppedForBytes) break;
    }
    return out;
  }

  /** Raw bytes of whole batches, starting with the one holding `offset`, up to `maxBytes` (at least one batch). */
  readBatches(offset: number, endOffset: number, maxBytes: number): Buffer {
    const parts: Buffer[] = [];
    let next = offset;
    let bytes = 0;
    while (next < endOffset) {
      const run = this.locateRun(next, endOffset, maxBytes - bytes, parts.length === 0);
      if (run === null) break;
      const buffer = this.readRun(run);
      let at = 0;
      while (at + LOG_OVERHEAD <= buffer.length) {
        const size = readBatchSize(buffer, at);
        if (at + size > buffer.length || (bytes + size > maxBytes && (parts.length > 0 || at > 0))) break;
        validateBatch(buffer, at, { file: run.segment.log.file, position: run.position + at });
        next = readLastOffset(buffer, at) + 1;
        bytes += size;
        at += size;
      }
      if (at === 0) break;
      parts.push(buffer.subarray(0, at));
      if (at < buffer.length || bytes >= maxBytes) break;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * The segment and byte range to read for `offset`: from the batch holding it to as far as
   * `budget` allows within the segment (at least that first batch when `atLeastOne`).
   */
  private locateRun(offset: number, endOffset: number, budget: number, atLeastOne: boolean): BatchRun | null {
    let segment = this.segments.floorSegment(offset);
    while (segment !== undefined) {
      const cursor = this.cursorFor(segment);
      if (segment.locate(offset, cursor)) {
        if (!atLeastOne && cursor.size > budget) return null;
        const available = segment.size - cursor.position;
        const length = Math.min(available, Math.max(cursor.size, budget));
        return { segment, position: cursor.position, length };
      }
      // Nothing at or after `offset` in this segment (a gap at its end): try the next one.
      segment = this.segments.higherSegment(segment.baseOffset);
      if (segment !== undefined && segment.baseOffset >= endOffset) return null;
    }
    return null;
  }

  private readRun(run: BatchRun): Buffer {
    const buffer = Buffer.allocUnsafe(run.length);
    const n = run.segment.log.readInto(buffer, 0, run.length, run.position);
    return n < run.length ? buffer.subarray(0, n) : buffer;
  }

  private decodeRun(buffer: Buffer, run: BatchRun, from: number, maxRecords: number, out: LogRecord[]): { bytes: number; nextOffset: number; stoppedForBytes: boolean } {
    const file = run.segment.log.file;
    let at = 0;
    let nextOffset = from;
    while (at + LOG_OVERHEAD <= buffer.length && out.length < maxRecords) {
      const size = readBatchSize(buffer, at);
      if (at + size > buffer.length) break;
      validateBatch(buffer, at, { file, position: run.position + at });
      if ((readAttributes(buffer, at) & CONTROL_FLAG_MASK) === 0) {
        decodeRecords(buffer, at, out, nextOffset, maxRecords - out.length, { file, position: run.position + at });
      }
      const lastOffset = readLastOffset(buffer, at);
      at += size;
      if (out.length >= maxRecords) {
        const last = out[out.length - 1];
        nextOffset = last === undefined ? lastOffset + 1 : last.offset + 1;
        return { bytes: at, nextOffset, stoppedForBytes: false };
      }
      nextOffset = lastOffset + 1;
    }
    // A partial batch left at the end of the buffer is one that did not fit in the byte budget.
    return { bytes: at, nextOffset, stoppedForBytes: at < buffer.length };
  }

  /**
   * The earliest offset >= `startOffset` whose record timestamp is >= `timestamp`, or null:
   * the first segment (oldest first) whose max timestamp reaches it, then that segment's time
   * index -> offset index -> scan. Kafka's fetchOffsetByTimestamp.
   */
  offsetForTimestamp(timestamp: number, startOffset: number): number | null {
    const list = this.segments;
    for (let i = Math.max(0, list.floorIndex(startOffset)); i < list.count; i++) {
      const segment = list.at(i)!;
      if (segment.maxTimestamp < timestamp) continue;
      const found = segment.findOffsetByTimestamp(timestamp, startOffset, this.cursorFor(segment));
      if (found >= 0) return found;
    }
    return null;
  }
}
