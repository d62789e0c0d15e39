import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CorruptRecordError } from '../errors.js';
import { CONTROL_FLAG_MASK, INT32_MAX, readAttributes } from '../record/batch-layout.js';
import { validateBatch } from '../record/batch-reader.js';
import { BatchCursor } from '../segment/batch-cursor.js';
import { CLEANED_SUFFIX } from '../files/file-names.js';
import { LogSegment, type SegmentOptions } from '../segment/log-segment.js';
import type { LocalLog } from '../log/local-log.js';
import { UNCHANGED, filterBatch, type FilterContext } from './batch-filter.js';
import { segmentsInRange, type OffsetsToClean } from './cleanable.js';
import { OffsetMap } from './offset-map.js';
import { RecordWalker } from './record-walker.js';
import { afterSwapStep, replaceSegments, type SegmentRetirer } from './swap.js';

const CHUNK_BYTES = 256 * 1024;
const OUTPUT_BYTES = 1024 * 1024;

/** The log configs a pass reads (a structural subset of the log's resolved config). */
export interface PassConfig {
  segmentBytes: number;
  segmentIndexBytes: number;
  deleteRetentionMs: number;
  cleanerDedupeBufferSize: number;
}

/**
 * What a pass needs from the log it cleans: its state object (segments, offsets, truncations,
 * the one-step segment replacement), the `.deleted` two-step, and whether the log closed.
 * Everything runs on the log's thread, between its other calls.
 */
export interface CleanerHost {
  readonly log: LocalLog;
  readonly retirer: SegmentRetirer;
  /** Options for a new cleaned segment (writable, nothing reserved ahead). */
  segmentOptions(baseOffset: number): SegmentOptions;
  isClosed(): boolean;
}

/** What `log.compact()` resolves with. */
export interface CompactionResult {
  /** Segments rewritten (the inputs of every cleaned group). */
  segmentsCleaned: number;
  /** Bytes of the segments rewritten. */
  bytesRead: number;
  /** Bytes of the cleaned segments written. */
  bytesWritten: number;
  /** Records left out of the cleaned segments, tombstones included. */
  recordsRemoved: number;
  /** Of those, tombstones (records with a null value). */
  tombstonesRemoved: number;
  durationMs: number;
}

/** Thrown inside a pass that must stop (the log closed or was truncated); its output is deleted. */
export class CleaningAbortedError extends Error {}

/**
 * One cleaning pass over one log: Kafka's `Cleaner.doClean`. It builds the offset map over the
 * dirty section, then rewrites the segments from the log start up to the map's end, group by
 * group, each group into one `.cleaned` segment swapped in with Kafka's protocol (swap.ts).
 *
 * The work is cut in slices of about `sliceMs`: between two slices the pass yields to the event
 * loop (appends, reads and flushes run), then checks the log is still open and not truncated.
 * Appends only ever touch the active segment, which a pass never reads; a segment retention took
 * away meanwhile makes its group stop before the swap.
 */
export class CleaningPass {
  readonly result: CompactionResult = { segmentsCleaned: 0, bytesRead: 0, bytesWritten: 0, recordsRemoved: 0, tombstonesRemoved: 0, durationMs: 0 };
  /** Bytes of the key map this pass used. */
  mapBytes = 0;
  private readonly started = performance.now();
  private sliceStart = performance.now();
  private readonly truncationsAtStart: number;
  private readonly chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private large: Buffer | null = null;
  /** Kept batches not yet written to the cleaned segment: `output[0, pending)`. */
  private output = Buffer.allocUnsafe(OUTPUT_BYTES);
  private pending = 0;
  private pendingLastOffset = -1;
  private readonly walker = new RecordWalker();
  private cleaned: LogSegment | null = null;
  private aborted = false;

  constructor(
    private readonly host: CleanerHost,
    private readonly config: PassConfig,
    /** The clean time (ms, the log's clock). */
    private readonly now: number,
    private readonly sliceMs: number,
  ) {
    this.truncationsAtStart = host.log.truncationCount;
  }

  /**
   * Cleans [log start, end of the key map) of the dirty range `offsets`; returns the end of the
   * map (the new first dirty offset), or null when there was nothing dirty.
   */
  async run(offsets: OffsetsToClean): Promise<number | null> {
    const { firstDirtyOffset, firstUncleanableOffset } = offsets;
    if (firstDirtyOffset >= firstUncleanableOffset) {
      this.result.durationMs = performance.now() - this.started;
      return null;
    }
    const map = await this.buildOffsetMap(firstDirtyOffset, firstUncleanableOffset);
    const endOffset = map.latestOffset + 1;
    const ctx: FilterContext = { map, now: this.now, deleteRetentionMs: this.config.deleteRetentionMs, upperBound: firstUncleanableOffset };
    const groups = this.groupSegmentsBySize(segmentsInRange(this.host.log.segments, 0, endOffset), firstUncleanableOffset);
    for (const group of groups) await this.cleanSegments(group, ctx);
    this.result.durationMs = performance.now() - this.started;
    return endOffset;
  }

  /** Stops the pass now (the log is closing): the unfinished `.cleaned` files are deleted. */
  abort(): void {
    this.aborted = true;
    this.discardCleaned();
  }

  // ---------------------------------------------------------------------------------------------
  // The key map: Kafka's buildOffsetMap.

  private async buildOffsetMap(start: number, end: number): Promise<OffsetMap> {
    const map = new OffsetMap(OffsetMap.slotsFor(this.config.cleanerDedupeBufferSize, end - start));
    this.mapBytes = map.memoryBytes;
    const dirty = segmentsInRange(this.host.log.segments, start, end);
    for (let i = 0; i < dirty.length; i++) {
      const next = dirty[i + 1]?.baseOffset ?? end;
      if (await this.mapSegment(dirty[i]!, map, start, next)) break;
    }
    return map;
  }

  /** Adds the keys of `segment` from `start` on; true when the map filled up inside it. */
  private async mapSegment(segment: LogSegment, map: OffsetMap, start: number, nextSegmentStart: number): Promise<boolean> {
    const capacity = map.capacity;
    const cursor = new BatchCursor(segment.log, this.chunk);
    cursor.seek(start <= segment.baseOffset ? 0 : segment.offsetIndex.lookup(start).position, segment.size);
    while (cursor.next()) {
      if (cursor.lastOffset >= start) {
        const at = this.loadBatch(segment, cursor);
        const buf = at < 0 ? this.large! : cursor.chunkBuffer;
        const pos = Math.max(at, 0);
        if ((readAttributes(buf, pos) & CONTROL_FLAG_MASK) === 0) {
          const walker = this.walker.begin(buf, pos, cursor.size);
          while (walker.next()) {
            if (walker.keyStart < 0 || walker.offset < start) continue;
            if (map.size >= capacity) return true;
            map.put(walker.data, walker.keyStart, walker.keyEnd, walker.offset);
          }
        }
        map.updateLatestOffset(cursor.lastOffset);
      }
      await this.slice();
    }
    // Offsets past the last batch (a gap up to the next segment) are covered as well.
    map.updateLatestOffset(nextSegmentStart - 1);
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Groups and their rewrite: Kafka's groupSegmentsBySize and cleanSegments.

  /**
   * Consecutive segments whose `.log` sizes, offset-index sizes and time-index sizes each total at
   * most segmentBytes / segmentIndexBytes, and whose offsets stay within 2^31 - 1 of the group's
   * base offset, become one group (Kafka's rule; an empty segment joins regardless of offsets).
   */
  private groupSegmentsBySize(segments: LogSegment[], firstUncleanableOffset: number): LogSegment[][] {
    const { segmentBytes, segmentIndexBytes } = this.config;
    const groups: LogSegment[][] = [];
    let i = 0;
    while (i < segments.length) {
      const group = [segments[i]!];
      let logSize = segments[i]!.size;
      let indexSize = segments[i]!.offsetIndex.sizeInBytes;
      let timeIndexSize = segments[i]!.timeIndex.sizeInBytes;
      i++;
      while (i < segments.length) {
        const next = segments[i]!;
        const lastOffset = i + 1 < segments.length ? segments[i + 1]!.baseOffset - 1 : firstUncleanableOffset - 1;
        if (logSize + next.size > segmentBytes) break;
        if (indexSize + next.offsetIndex.sizeInBytes > segmentIndexBytes || timeIndexSize + next.timeIndex.sizeInBytes > segmentIndexBytes) break;
        if (next.size > 0 && lastOffset - group[0]!.baseOffset > INT32_MAX) break;
        group.push(next);
        logSize += next.size;
        indexSize += next.offsetIndex.sizeInBytes;
        timeIndexSize += next.timeIndex.sizeInBytes;
        i++;
      }
      groups.push(group);
    }
    return groups;
  }

  private async cleanSegments(group: LogSegment[], ctx: FilterContext): Promise<void> {
    const base = group[0]!.baseOffset;
    const cleaned = LogSegment.create(this.host.log.dir, base, this.host.segmentOptions(base), CLEANED_SUFFIX);
    this.cleaned = cleaned;
    let read = 0;
    try {
      for (const segment of group) read += await this.cleanInto(segment, cleaned, ctx);
      cleaned.onBecomeInactiveSegment();
      // On the thread pool: a flush of a large segment would hold the appends up.
      await cleaned.flushAsync();
      // Kafka keeps the last input's modification time (time retention of segments without timestamps uses it).
      const modified = group[group.length - 1]!.log.lastModified() / 1000;
      fs.utimesSync(cleaned.log.file, modified, modified);
      afterSwapStep('cleaned-written');
      this.checkGroup(group);
    } catch (err) {
      this.discardCleaned();
      // A flush cut short by the log closing fails on a closed descriptor: that is the close, not an error.
      if (this.aborted || this.host.isClosed()) throw new CleaningAbortedError(`log ${this.host.log.dir} closed during cleaning`);
      throw err;
    }
    this.cleaned = null;
    await replaceSegments(this.host.log, cleaned, group, this.host.retirer);
    this.result.segmentsCleaned += group.length;
    this.result.bytesRead += read;
    this.result.bytesWritten += cleaned.size;
  }

  /**
   * Kafka's cleanInto: the kept batches of `segment` appended to `dest`, gathered in a write
   * buffer and written in large appends (indexed batch by batch as appends are). Returns the
   * bytes read.
   */
  private async cleanInto(segment: LogSegment, dest: LogSegment, ctx: FilterContext): Promise<number> {
    const cursor = new BatchCursor(segment.log, this.chunk);
    cursor.seek(0, segment.size);
    let read = 0;
    while (cursor.next()) {
      const at = this.loadBatch(segment, cursor);
      const buf = at < 0 ? this.large! : cursor.chunkBuffer;
      const pos = Math.max(at, 0);
      const size = cursor.size;
      read += size;
      const out = filterBatch(buf, pos, size, ctx, this.result);
      if (out === UNCHANGED) this.write(dest, buf, pos, size, cursor.lastOffset);
      else if (out !== null) this.write(dest, out, 0, out.length, cursor.lastOffset);
      await this.slice();
    }
    this.flushWrites(dest);
    if (cursor.validEnd !== segment.size) {
      throw new CorruptRecordError(`${segment.log.file} holds no whole batch at position ${cursor.validEnd}`, { file: segment.log.file, position: cursor.validEnd });
    }
    return read;
  }

  /** Adds a kept batch to the write buffer (written out when full). */
  private write(dest: LogSegment, buf: Buffer, pos: number, size: number, lastOffset: number): void {
    if (this.pending + size > this.output.length) {
      this.flushWrites(dest);
      if (size > this.output.length) this.output = Buffer.allocUnsafe(size);
    }
    buf.copy(this.output, this.pending, pos, pos + size);
    this.pending += size;
    this.pendingLastOffset = lastOffset;
  }

  private flushWrites(dest: LogSegment): void {
    if (this.pending === 0) return;
    dest.appendBatches(this.pendingLastOffset, this.output, this.pending);
    this.pending = 0;
  }

  /**
   * The batch under `cursor`, CRC-checked: its position in the cursor's chunk, or -1 when it is
   * in `this.large` (at 0) because it did not fit the chunk.
   */
  private loadBatch(segment: LogSegment, cursor: BatchCursor): number {
    const context = { file: segment.log.file, position: cursor.position };
    const at = cursor.loadWholeBatch();
    if (at >= 0) {
      validateBatch(cursor.chunkBuffer, at, context);
      return at;
    }
    if (this.large === null || this.large.length < cursor.size) this.large = Buffer.allocUnsafe(cursor.size);
    const n = segment.log.readInto(this.large, 0, cursor.size, cursor.position);
    if (n < cursor.size) throw segment.shortRead(cursor.position);
    validateBatch(this.large.subarray(0, cursor.size), 0, context);
    return -1;
  }

  /** Before a swap: the group is still what the log holds (retention or a truncation may have taken some of it). */
  private checkGroup(group: readonly LogSegment[]): void {
    this.checkOpen();
    const { segments } = this.host.log;
    for (const segment of group) {
      if (segments.get(segment.baseOffset) !== segment || segment === segments.activeSegment) {
        throw new CleaningAbortedError(`segment ${segment.log.file} left the log during cleaning`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Slices.

  /** Yields to the event loop once the current slice has run `sliceMs`, then checks the log is still cleanable. */
  private async slice(): Promise<void> {
    if (performance.now() - this.sliceStart < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
    this.checkOpen();
  }

  private checkOpen(): void {
    if (this.aborted || this.host.isClosed()) throw new CleaningAbortedError(`log ${this.host.log.dir} closed during cleaning`);
    if (this.host.log.truncationCount !== this.truncationsAtStart) throw new CleaningAbortedError(`log ${this.host.log.dir} was truncated during cleaning`);
  }

  private discardCleaned(): void {
    this.pending = 0;
    const cleaned = this.cleaned;
    this.cleaned = null;
    cleaned?.deleteIfExists();
  }
}
