import fs from 'node:fs';
import { CorruptRecordError, LogIOError, OffsetOverflowError } from '../errors.js';
import { OffsetIndex } from '../index/offset-index.js';
import { TimeIndex } from '../index/time-index.js';
import { INT32_MAX } from '../record/batch-layout.js';
import { findOffsetByTimestamp } from '../record/batch-reader.js';
import { readBatchSize, readCrc, readLastOffset, readMaxTimestamp } from '../record/batch-layout.js';
import { BatchChain } from './batch-chain.js';
import { BatchCursor } from './batch-cursor.js';
import { FileRecords, syncFileAsync } from './file-records.js';
import type { HandlePool, PooledSegment } from './handle-pool.js';
import { buildIndexes } from './index-builder.js';
import type { KnownBatch } from './verified-batches.js';
import { logFile, offsetIndexFile, timeIndexFile, txnIndexFile } from '../files/file-names.js';
import { noteWrite } from '../files/write-epoch.js';
import { keepLayout } from '../layouts.js';
import { PREPARED_LOG, PREPARED_OFFSET_INDEX, PREPARED_TIME_INDEX, type PreparedSegmentFiles } from '../files/prepared-files.js';

const NOT_LOADED = -2;
/** Chunk of the cursor that checks an index entry against the `.log` (a batch header or two). */
const CHECK_CHUNK_BYTES = 4096;
/** Known batches a lookup walks from an index entry before it reads headers instead (see `knownBatchFor`). */
const MAX_KNOWN_STEPS = 64;
/** `knownOffsetByTimestamp`: the batches known here do not answer (read the file instead). */
const NOT_KNOWN = -2;

export interface SegmentOptions {
  /** Bytes of batches between two offset-index entries (Kafka: index.interval.bytes). */
  indexIntervalBytes: number;
  /** Maximum size of each index file (Kafka: segment.index.bytes). */
  maxIndexSize: number;
  /** Taken off segment.ms for this segment (drawn once per segment). */
  rollJitterMs: number;
  /** False for read-only openers: no file is created, written, trimmed or renamed. */
  writable: boolean;
  /** Creation time, for time-based roll of segments without timestamps. */
  now: number;
  /**
   * The `.log` never grows past this (segment.bytes): while the segment takes appends, disk blocks
   * are reserved ahead of them up to it (see `FileRecords.reserveAhead`). 0 reserves nothing.
   */
  reserveLimit: number;
  /** Bounds the files held open by inactive segments (see `handle-pool.ts`); none: unbounded. */
  pool?: HandlePool | undefined;
}

/** What the caller learns from `LogSegment.recover()`. */
export interface SegmentRecovery {
  /** Bytes cut from the end of the `.log` because they were not valid batches. */
  truncatedBytes: number;
  /** Why the tail was cut, when it was. */
  reason?: string;
}

/**
 * One segment: a `.log` of batches plus its sparse `.index` and `.timeindex`, all named by the
 * segment's base offset (`00000000000000000042.log`). Kafka's LogSegment.
 *
 * Invariants: every batch in the `.log` has baseOffset >= the segment's base offset and a last
 * offset within 2^31 - 1 of it; an offset-index entry (O, P) says the batch starting at byte P
 * has last offset O; a time-index entry (T, O) says T is the largest timestamp up to offset O.
 * The indexes are opened on first use, so opening a log of many segments costs one `open` each.
 * Not safe for concurrent use; the `Log` above it serialises every call.
 */
export class LogSegment implements PooledSegment {
  readonly log: FileRecords;
  private offsetIndexFile: string;
  private timeIndexFile: string;
  private _offsetIndex: OffsetIndex | null = null;
  /** Sealed by a roll, indexes not trimmed yet (see `onBecomeInactiveSegment`). */
  private trimPending = false;
  private _timeIndex: TimeIndex | null = null;
  private maxTimestampSoFar = NOT_LOADED;
  private offsetOfMaxTimestampSoFar = -1;
  /** Bytes appended since the last index entry; in memory only, 0 for every segment opened (as Kafka). */
  private bytesSinceLastIndexEntry = 0;
  private rollingBasedTimestamp = NOT_LOADED;
  private created: number;
  private cachedNextOffset = -1;
  /** Read-only: the writer may have appended index entries since they were read (see `invalidate`). */
  private indexesStale = false;
  /** Read-only: the indexes were built from the `.log` (no usable files); they are never re-read. */
  private builtIndexes = false;
  /** Start and last offset of the last batch `readNextOffset` walked to (-1: none yet). */
  private lastBatchPosition = -1;
  private lastBatchOffset = -1;
  private lastBatchCrc = 0;
  /** The writer's active segment: its files are never closed by the pool. */
  pinned = false;
  /** How much of the `.log` was walked from its first batch and keeps the offset rules. */
  private readonly chain: BatchChain;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    log: FileRecords,
    private readonly options: SegmentOptions,
    suffix: string,
  ) {
    this.log = log;
    this.offsetIndexFile = offsetIndexFile(dir, baseOffset, suffix);
    this.timeIndexFile = timeIndexFile(dir, baseOffset, suffix);
    this.created = options.now;
    this.chain = new BatchChain(log, baseOffset, options.writable);
    const pool = options.pool;
    if (pool !== undefined) log.onReopen = () => this.touch();
  }

  static {
    // Its layout, and its chain's (src/layouts.ts): a segment of no file that is never opened.
    const inert: SegmentOptions = { indexIntervalBytes: 4096, maxIndexSize: 4096, rollJitterMs: 0, writable: false, now: 0, reserveLimit: 0 };
    keepLayout(() => new LogSegment('', 0, FileRecords.inert(), inert, ''));
  }

  /** Counts the segment as just used in the pool of open files (which may close others). */
  touch(): void {
    if (!this.pinned) this.options.pool?.use(this);
  }

  /**
   * Closes the `.log` descriptor and the indexes (a writer's are trimmed already: the segment is
   * inactive) until the next use opens them again. Called by the pool of open files.
   */
  releaseHandles(): void {
    if (this.pinned) return;
    this.closeIndexesByMode();
    this.builtIndexes = false;
    this.log.suspend();
  }

  /**
   * Creates the files of a new, empty segment (the indexes preallocated). `suffix` names them
   * `<base>.log<suffix>` and so on (the cleaner writes `.cleaned` segments). `prepared`: files
   * made ahead (a roll), which are named here instead of created; any it cannot name is created.
   */
  static create(dir: string, baseOffset: number, options: SegmentOptions, suffix = '', prepared?: PreparedSegmentFiles): LogSegment {
    const file = logFile(dir, baseOffset, suffix);
    // A stray file of the same name (a crash between creating and using it) holds nothing we keep.
    // Looked for only when the `.log` cannot be created new: a roll creates three files, and
    // checking each name first (a failed lstat each) cost the appending call as much as one of them.
    let records = createRecords(file, options.reserveLimit, prepared);
    if (records === null) {
      for (const f of [file, offsetIndexFile(dir, baseOffset, suffix), timeIndexFile(dir, baseOffset, suffix)]) fs.rmSync(f, { force: true });
      records = createRecords(file, options.reserveLimit, prepared) ?? FileRecords.open(file, true, options.reserveLimit);
    }
    const segment = new LogSegment(dir, baseOffset, records, options, suffix);
    noteWrite();
    segment.pinned = true;
    segment.maxTimestampSoFar = -1;
    segment.cachedNextOffset = baseOffset;
    if (prepared !== undefined) segment.openPreparedIndexes(prepared);
    // Opening the indexes creates their files, preallocated; one left without its `.log` is emptied.
    for (const index of [segment.offsetIndex, segment.timeIndex]) if (!index.fileCreated) index.reset();
    return segment;
  }

  /** Names the prepared index files (a name taken, or one that cannot be given, leaves that index to the getter, which creates it). */
  private openPreparedIndexes(prepared: PreparedSegmentFiles): void {
    const options = { maxIndexSize: this.options.maxIndexSize, mode: 'write' as const, detectZeroTail: true };
    // A throw on the way (a failed mapping) must not leave the files not yet taken open.
    try {
      const offsetFd = prepared.name(PREPARED_OFFSET_INDEX, this.offsetIndexFile);
      if (offsetFd !== null) this._offsetIndex = new OffsetIndex(this.offsetIndexFile, this.baseOffset, { ...options, fd: offsetFd });
      const timeFd = prepared.name(PREPARED_TIME_INDEX, this.timeIndexFile);
      if (timeFd !== null) this._timeIndex = new TimeIndex(this.timeIndexFile, this.baseOffset, { ...options, fd: timeFd });
    } finally {
      prepared.drop();
    }
  }

  /**
   * Opens an existing segment: its `.log` is looked at (its size) but opened, like its indexes,
   * only when first used, so a log of many segments opens without a descriptor per segment.
   * `suffix`: files named `<base>.log<suffix>` (a read-only view opens a finished cleaner's `.swap` files).
   */
  static open(dir: string, baseOffset: number, options: SegmentOptions, suffix = ''): LogSegment {
    return new LogSegment(dir, baseOffset, FileRecords.openLazily(logFile(dir, baseOffset, suffix), options.writable, options.reserveLimit), options, suffix);
  }

  get offsetIndex(): OffsetIndex {
    if (this._offsetIndex === null) {
      if (!this.options.writable) return this.openReadOnlyIndexes().offsets;
      this._offsetIndex = new OffsetIndex(this.offsetIndexFile, this.baseOffset, {
        maxIndexSize: this.options.maxIndexSize,
        mode: 'write',
        detectZeroTail: true,
      });
      this.touch();
    }
    return this._offsetIndex;
  }

  get timeIndex(): TimeIndex {
    if (this._timeIndex === null) {
      if (!this.options.writable) return this.openReadOnlyIndexes().times;
      this._timeIndex = new TimeIndex(this.timeIndexFile, this.baseOffset, {
        maxIndexSize: this.options.maxIndexSize,
        mode: 'write',
        detectZeroTail: true,
      });
      this.touch();
    }
    return this._timeIndex;
  }

  /**
   * Read-only openers: both indexes, their entries held in memory (see `index/memory-storage.ts`).
   * When an index file is missing, or the offset index's last entry does not point at a batch of
   * the `.log`, both are built from the `.log` instead, by the rule the writer's recovery follows
   * (Kafka's loader rebuilds them on open; a reader cannot write, so it keeps them in memory).
   */
  private openReadOnlyIndexes(): { offsets: OffsetIndex; times: TimeIndex } {
    this.closeIndexes();
    const options = { mode: 'read' as const, detectZeroTail: true };
    let offsets = new OffsetIndex(this.offsetIndexFile, this.baseOffset, options);
    let times = new TimeIndex(this.timeIndexFile, this.baseOffset, options);
    const cursor = new BatchCursor(this.log, Buffer.allocUnsafe(CHECK_CHUNK_BYTES));
    // A writer renames a segment's `.log` before its indexes: when our `.log` is no longer under its
    // name after the index files were opened, they may be a newer segment's with the same base
    // offset (a cleaner swap), so they are built from our `.log` instead.
    const sameGeneration = this.log.isStillAtItsName();
    if (!sameGeneration || !offsets.fileFound || !times.fileFound || !this.pointsAtBatch(offsets, offsets.entries - 1, cursor)) {
      offsets.close();
      times.close();
      ({ offsets, times } = buildIndexes(this.log, this.baseOffset, this.options.indexIntervalBytes, cursor, this.offsetIndexFile, this.timeIndexFile));
      this.builtIndexes = true;
    }
    this._offsetIndex = offsets;
    this._timeIndex = times;
    this.indexesStale = false;
    this.touch();
    return { offsets, times };
  }

  /** Whether entry `slot` of `index` (none when < 0) names the start of a batch at or before its offset. */
  private pointsAtBatch(index: OffsetIndex, slot: number, cursor: BatchCursor): boolean {
    if (slot < 0) return true;
    const entry = index.entry(slot);
    return batchAt(cursor, entry.position, entry.offset, this.log.size);
  }

  private closeIndexes(): void {
    this._offsetIndex?.closeWithoutTrim();
    this._timeIndex?.closeWithoutTrim();
    this._offsetIndex = null;
    this._timeIndex = null;
  }

  get size(): number {
    return this.log.size;
  }

  /** True when `maxTimestamp` (and so `largestTimestamp` when it is >= 0) is held, not read from the files. */
  get maxTimestampHeld(): boolean {
    return this.maxTimestampSoFar !== NOT_LOADED;
  }

  /** Largest record timestamp in the segment, or -1 when it has none. Reads the time index once. */
  get maxTimestamp(): number {
    if (this.maxTimestampSoFar === NOT_LOADED) this.loadMaxTimestamp();
    return this.maxTimestampSoFar;
  }

  private loadMaxTimestamp(): void {
    if (!this.options.writable) {
      // A reader may be looking at a live writer's active segment, whose time index lags its tail.
      if (this.indexesStale) this.refreshIndexes();
      this.loadLargestTimestamp(new BatchCursor(this.log, Buffer.allocUnsafe(CHECK_CHUNK_BYTES)));
      return;
    }
    const last = this.timeIndex.lastEntry;
    this.maxTimestampSoFar = last.timestamp;
    this.offsetOfMaxTimestampSoFar = last.offset;
  }



  /** Kafka's largestTimestamp: the max record timestamp, or the `.log` file's mtime when there is none. */
  largestTimestamp(): number {
    const max = this.maxTimestamp;
    return max >= 0 ? max : this.log.lastModified();
  }

  canConvertToRelativeOffset(offset: number): boolean {
    const relative = offset - this.baseOffset;
    return relative >= 0 && relative <= INT32_MAX;
  }

  /**
   * Appends one batch whose records end at `largestOffset`. `shallowOffsetOfMaxTimestamp` is the
   * last offset of the batch (what Kafka records with a new max timestamp). Adds index entries
   * exactly when Kafka does: once more than indexIntervalBytes were appended since the last one.
   * All or nothing (see `FileRecords.append`).
   */
  append(largestOffset: number, largestTimestamp: number, shallowOffsetOfMaxTimestamp: number, batch: Buffer, length = batch.length): void {
    const position = this.beginAppend(largestOffset, largestTimestamp, length);
    this.log.writeAt(batch, length, position);
    this.completeAppend(largestOffset, largestTimestamp, shallowOffsetOfMaxTimestamp, position, length);
  }

  /**
   * `append` in steps, for a batch written elsewhere (a topic writes its partitions' batches
   * together): checks the batch can go here and returns the position it goes to in `log`, which
   * the caller writes through `log.descriptor()` and then completes (`completeAppend`) or cuts
   * off (`log.failedAppend`, `log.abandonAppend`). Nothing else may touch the segment between.
   */
  beginAppend(largestOffset: number, largestTimestamp: number, length: number): number {
    if (!this.canConvertToRelativeOffset(largestOffset)) {
      throw new OffsetOverflowError(`offset ${largestOffset} cannot be stored relative to segment ${this.baseOffset}`, {
        file: this.log.file,
        offset: largestOffset,
      });
    }
    void this.maxTimestamp; // loads the max timestamp so far before the batch raises it
    const position = this.log.beginAppend(length);
    if (position === 0) this.rollingBasedTimestamp = largestTimestamp;
    return position;
  }

  /** The batch of `beginAppend` is written at `position`: it is the segment's, with its index entries. */
  completeAppend(largestOffset: number, largestTimestamp: number, shallowOffsetOfMaxTimestamp: number, position: number, length: number): void {
    this.log.completeAppend(position, length);
    this.extendChain(position, position + length, largestOffset);
    if (largestTimestamp > this.maxTimestampSoFar) {
      this.maxTimestampSoFar = largestTimestamp;
      this.offsetOfMaxTimestampSoFar = shallowOffsetOfMaxTimestamp;
    }
    if (this.bytesSinceLastIndexEntry > this.options.indexIntervalBytes) {
      this.offsetIndex.append(largestOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += length;
    this.cachedNextOffset = largestOffset + 1;
  }

  /**
   * Appends `length` bytes of whole batches at once (the cleaner's output), with the index entries
   * a call of `append` per batch would add: Kafka's LogSegment.append over a multi-batch
   * MemoryRecords. `largestOffset` is the last offset of the last batch.
   */
  appendBatches(largestOffset: number, batches: Buffer, length: number): void {
    if (!this.canConvertToRelativeOffset(largestOffset)) {
      throw new OffsetOverflowError(`offset ${largestOffset} cannot be stored relative to segment ${this.baseOffset}`, {
        file: this.log.file,
        offset: largestOffset,
      });
    }
    let position = this.log.size;
    if (position === 0 && length > 0) this.rollingBasedTimestamp = readMaxTimestamp(batches, 0);
    void this.maxTimestamp; // loads the max timestamp so far before the batches raise it
    this.log.append(batches, length);
    this.extendChain(position, position + length, largestOffset);
    for (let at = 0; at < length; ) {
      const size = readBatchSize(batches, at);
      const lastOffset = readLastOffset(batches, at);
      const maxTimestamp = readMaxTimestamp(batches, at);
      if (maxTimestamp > this.maxTimestampSoFar) {
        this.maxTimestampSoFar = maxTimestamp;
        this.offsetOfMaxTimestampSoFar = lastOffset;
      }
      if (this.bytesSinceLastIndexEntry > this.options.indexIntervalBytes) {
        this.offsetIndex.append(lastOffset, position);
        this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
        this.bytesSinceLastIndexEntry = 0;
      }
      this.bytesSinceLastIndexEntry += size;
      position += size;
      at += size;
    }
    this.cachedNextOffset = largestOffset + 1;
  }

  /** See `BatchChain.checkThrough`: the batch at `[position, end)` is reached walking the batches from the first. */
  checkChainThrough(position: number, end: number, baseOffset?: number, lastOffset?: number): void {
    this.chain.checkThrough(position, end, baseOffset, lastOffset);
  }

  /**
   * Positions `cursor` on the first batch of the checked chain whose last offset is >= `offset`,
   * walking from the first batch; false when the chain ends before `offset`.
   */
  locateOnChain(offset: number, cursor: BatchCursor): boolean {
    if (offset > this.chain.lastOffset) return false;
    cursor.seek(0, this.chain.end, this.baseOffset - 1);
    while (cursor.next()) if (cursor.lastOffset >= offset) return true;
    return false;
  }

  /** How far the batches were checked from the first: `[0, end)`, the last ending at `lastOffset`. */
  get checkedChain(): { end: number; lastOffset: number } {
    return { end: this.chain.end, lastOffset: this.chain.lastOffset };
  }

  /** The batches in `[0, end)` were walked from the first and keep the offset rules; the last ends at `lastOffset`. */
  chainChecked(end: number, lastOffset: number): void {
    this.chain.reset(end, lastOffset);
  }

  /** See `BatchChain.extend`. */
  extendChain(position: number, end: number, lastOffset: number): void {
    this.chain.extend(position, end, lastOffset);
  }

  /**
   * Positions `cursor` on the first batch whose last offset is >= `offset`, starting from the
   * offset index's entry at or below it (never from the start of the segment). False when no
   * batch of this segment reaches `offset`.
   */
  locate(offset: number, cursor: BatchCursor): boolean {
    if (!this.seekFor(offset, cursor)) return false;
    const batches = this.log.batches;
    do {
      // Remembered so that the next lookup from the same index entry needs no header read.
      batches.noteHeader(cursor.chunkBuffer, cursor.headerIndex, cursor.position);
      if (cursor.lastOffset >= offset) return true;
    } while (cursor.next());
    return false;
  }

  /**
   * The checked batch holding `offset` (the first whose last offset reaches it), found without
   * reading the file: the offset index's entry at or below `offset`, then the batches seen from
   * there on (`FileRecords.batches`). The entry must name the batch remembered at its position
   * (the rule `seekFor` checks against the file), so it is checked once, not per lookup. Null
   * when a step is not known: `locate` reads the headers then.
   */
  knownBatchFor(offset: number): KnownBatch | null {
    const batches = this.log.batches;
    let position = 0;
    if (offset > this.baseOffset) {
      if (this.indexesStale && offset > this.offsetIndex.lastOffset) this.refreshIndexes();
      const entry = this.offsetIndex.lookup(offset);
      position = entry.position;
      if (position > 0 && batches.get(position)?.lastOffset !== entry.offset) return null;
    }
    const size = this.log.size;
    let previous: KnownBatch | undefined;
    for (let steps = 0; steps < MAX_KNOWN_STEPS; steps++) {
      const batch = batches.get(position);
      if (batch === undefined || position + batch.size > size || !follows(batch, previous)) return null;
      if (batch.lastOffset >= offset) return batch.checked ? batch : null;
      position += batch.size;
      previous = batch;
    }
    return null;
  }

  /**
   * The earliest offset >= `startingOffset` whose record timestamp is >= `timestamp`, or -1.
   * Time index -> offset -> offset index -> position -> short forward scan of batch headers,
   * then the records of the one batch that first reaches the timestamp.
   */
  findOffsetByTimestamp(timestamp: number, startingOffset: number, cursor: BatchCursor, maxDecompressedBytes?: number): number {
    if (this.indexesStale && timestamp > this.timeIndex.lastEntry.timestamp) this.refreshIndexes();
    const from = Math.max(this.timeIndex.lookupOffset(timestamp), startingOffset);
    const known = this.knownOffsetByTimestamp(timestamp, from, startingOffset);
    if (known !== NOT_KNOWN) return known;
    if (!this.seekFor(from, cursor)) return -1;
    do {
      if (cursor.maxTimestamp < timestamp || cursor.lastOffset < startingOffset) continue;
      this.checkChainThrough(cursor.position, cursor.position + cursor.size);
      const found = this.firstOffsetAtOrAfter(cursor, timestamp, startingOffset, maxDecompressedBytes);
      if (found >= 0) return found;
    } while (cursor.next());
    return -1;
  }

  /**
   * `findOffsetByTimestamp` from the batches seen before (their headers, and the record
   * timestamps of checked ones): no read of the file. NOT_KNOWN when a batch on the way is not
   * known or its records' timestamps are not kept (compressed, compacted, very large batches).
   */
  private knownOffsetByTimestamp(timestamp: number, from: number, startingOffset: number): number {
    let batch: KnownBatch | null | undefined = this.knownBatchFor(from);
    const size = this.log.size;
    for (let steps = 0; batch != null && steps < MAX_KNOWN_STEPS; steps++) {
      if (batch.maxTimestamp >= timestamp && batch.lastOffset >= startingOffset) {
        const found = firstKnownOffset(batch, timestamp, startingOffset);
        if (found !== -1) return found;
      }
      const next = batch.position + batch.size;
      if (next === size) return -1;
      const previous: KnownBatch = batch;
      batch = this.log.batches.get(next);
      if (batch !== undefined && (next + batch.size > size || !follows(batch, previous))) return NOT_KNOWN;
    }
    return NOT_KNOWN;
  }

  /**
   * Loads into `cursor` the batch a forward scan for `offset` starts at: the offset index's entry
   * at or below it, once the batch there is seen to be the one the entry names (an entry (O, P)
   * says the batch at P ends at O); the first batch when the index has nothing at or below it.
   * False when there is no batch there. For a writer, an entry that points inside a batch or at
   * another batch (which would make the scan skip or repeat records) means the first batch.
   */
  private seekFor(offset: number, cursor: BatchCursor): boolean {
    const size = this.log.size;
    if (offset <= this.baseOffset) return cursor.seek(0, size).next();
    if (!this.options.writable) return this.seekReadOnly(offset, cursor, size);
    const entry = this.offsetIndex.lookup(offset);
    if (entry.position > 0 && batchAt(cursor, entry.position, entry.offset, size)) return true;
    return cursor.seek(0, size).next();
  }

  /**
   * A read-only opener checks the entry it starts from against the `.log`: the writer may have
   * truncated and rewritten the segment since the entries were read, or the file may be damaged.
   * An entry that does not name the batch there makes it read the index file again, then build
   * the indexes from the `.log`, then start from the first batch.
   */
  private seekReadOnly(offset: number, cursor: BatchCursor, size: number): boolean {
    if (this.indexesStale && offset > this.offsetIndex.lastOffset) this.refreshIndexes();
    for (let attempt = 0; attempt < 2; attempt++) {
      const entry = this.offsetIndex.lookup(offset);
      if (entry.position === 0) return cursor.seek(0, size).next();
      if (batchAt(cursor, entry.position, entry.offset, size)) return true;
      if (attempt === 0 && !this.builtIndexes) this.openReadOnlyIndexes();
      else this.rebuildIndexes(cursor);
    }
    return cursor.seek(0, size).next();
  }

  /** Read-only: takes in the index entries the writer appended since they were read. */
  private refreshIndexes(): void {
    this.indexesStale = false;
    this._offsetIndex?.refresh();
    this._timeIndex?.refresh();
  }

  /** Read-only: both indexes built from the `.log` again, as it is now. */
  private rebuildIndexes(cursor: BatchCursor): void {
    this.closeIndexes();
    const built = buildIndexes(this.log, this.baseOffset, this.options.indexIntervalBytes, cursor, this.offsetIndexFile, this.timeIndexFile);
    this._offsetIndex = built.offsets;
    this._timeIndex = built.times;
    this.builtIndexes = true;
    this.indexesStale = false;
  }

  private firstOffsetAtOrAfter(cursor: BatchCursor, timestamp: number, startingOffset: number, maxDecompressedBytes: number | undefined): number {
    const context = { file: this.log.file, position: cursor.position, maxDecompressedBytes };
    const at = cursor.loadWholeBatch();
    if (at < 0) return findOffsetByTimestamp(this.readBatchAtCursor(cursor), 0, timestamp, startingOffset, context);
    this.checkBatchOnce(cursor.chunkBuffer, at, cursor.position);
    return findOffsetByTimestamp(cursor.chunkBuffer, at, timestamp, startingOffset, context);
  }

  /**
   * Checks the CRC of the batch at `at` in `buf` (file position `position`) unless this process
   * already checked it: a random read in a large batch then costs a record walk, not a CRC of
   * the whole batch every time. Read-only openers check every time.
   */
  checkBatchOnce(buf: Buffer, at: number, position: number, withTable = true): KnownBatch {
    return this.log.batches.check(buf, at, position, this.log.file, withTable);
  }

  /** The bytes of the batch under `cursor`, CRC-checked; copied out of the cursor's chunk when it holds them. */
  readBatchAtCursor(cursor: BatchCursor): Buffer {
    let batch: Buffer;
    const at = cursor.wholeBatchInChunk();
    if (at >= 0) {
      batch = Buffer.allocUnsafe(cursor.size);
      cursor.chunkBuffer.copy(batch, 0, at, at + cursor.size);
    } else {
      batch = Buffer.allocUnsafe(cursor.size);
      const n = this.log.readInto(batch, 0, cursor.size, cursor.position);
      if (n < cursor.size) throw this.shortRead(cursor.position);
    }
    this.checkBatchOnce(batch, 0, cursor.position);
    return batch;
  }

  shortRead(position: number): CorruptRecordError {
    return new CorruptRecordError(`${this.log.file} ended inside the batch at position ${position}`, { file: this.log.file, position });
  }

  /** The offset after the last batch: reads from the last offset-index entry to the end (cached). */
  readNextOffset(cursor: BatchCursor): number {
    // A reader's cache is dropped by `invalidate` whenever the `.log` changed.
    if (this.cachedNextOffset >= 0) return this.cachedNextOffset;
    let next = -1;
    // A reader next to a live writer goes on from the last batch it walked to (if that is still
    // the same batch) rather than from the last index entry it holds, which may be far behind.
    if (!this.options.writable && this.lastBatchPosition > 0) {
      next = this.walkToEnd(cursor, this.lastBatchPosition, this.lastBatchOffset, this.lastBatchCrc);
      // The batch it walked to last is gone or rewritten: the writer cut the file and wrote again.
      if (next < 0) this.log.forgetBatches();
    }
    if (next < 0) {
      const last = this.offsetIndex.lookup(Number.MAX_SAFE_INTEGER);
      next = this.walkToEnd(cursor, last.position, last.offset);
    }
    // The last entry does not describe the batch it points at: a crashed writer's index (only a
    // read-only opener sees one; the writer rebuilt it). Walk the whole segment instead.
    if (next < 0) next = this.walkToEnd(cursor, 0, -1);
    if (!this.options.writable) this.log.limitSize(cursor.validEnd);
    this.cachedNextOffset = next;
    return next;
  }

  /**
   * The offset after the last batch, walking from `position`, where an index entry says a batch
   * ending at `expectLastOffset` starts (-1: no expectation); -1 when the batch there is not that.
   * Remembers where the last batch starts (`lastBatchPosition`).
   */
  private walkToEnd(cursor: BatchCursor, position: number, expectLastOffset: number, expectCrc?: number): number {
    let next = this.baseOffset;
    cursor.seek(position, this.log.size);
    try {
      if (position > 0 && (!cursor.next() || cursor.lastOffset !== expectLastOffset)) return -1;
      if (expectCrc !== undefined && readCrc(cursor.chunkBuffer, cursor.headerIndex) !== expectCrc) return -1;
      if (position > 0) next = this.noteLastBatch(cursor);
      while (cursor.next()) next = this.noteLastBatch(cursor);
    } catch (err) {
      // A read-only opener of a crashed log sees it up to the damage, as the writer will after recovery.
      if (this.options.writable || !(err instanceof CorruptRecordError)) throw err;
      if (next === this.baseOffset && position > 0) return -1;
    }
    return next;
  }

  /** Remembers the batch under `cursor` as the last one walked to; returns the offset after it. */
  private noteLastBatch(cursor: BatchCursor): number {
    this.lastBatchPosition = cursor.position;
    this.lastBatchOffset = cursor.lastOffset;
    this.lastBatchCrc = readCrc(cursor.chunkBuffer, cursor.headerIndex);
    return cursor.lastOffset + 1;
  }

  /** Forgets the cached next offset (read-only openers, after the writer appended). */
  invalidate(): void {
    this.cachedNextOffset = -1;
    if (!this.options.writable) {
      this.maxTimestampSoFar = NOT_LOADED;
      // Read again only when a lookup goes past the entries held (see `seekReadOnly`): entries
      // before the last one held stay valid while the writer appends.
      this.indexesStale = true;
      this.chain.cutAt(this.log.size);
    }
  }

  /**
   * Kafka's shouldRoll: the batch would pass segmentBytes, or segmentMs (less jitter) has passed
   * since the segment's first batch timestamp, or an index is full, or the batch's last offset
   * cannot be stored relative to this segment.
   */
  shouldRoll(batchSize: number, maxTimestampInBatch: number, lastOffsetInBatch: number, segmentBytes: number, segmentMs: number, now: number): boolean {
    const size = this.log.size;
    if (size > segmentBytes - batchSize) return true;
    if (size > 0 && this.timeWaitedForRoll(now, maxTimestampInBatch) > segmentMs - this.options.rollJitterMs) return true;
    if (this.offsetIndex.isFull() || this.timeIndex.isFull()) return true;
    return !this.canConvertToRelativeOffset(lastOffsetInBatch);
  }

  private timeWaitedForRoll(now: number, maxTimestampInBatch: number): number {
    if (this.rollingBasedTimestamp === NOT_LOADED) this.loadRollingBasedTimestamp();
    return this.rollingBasedTimestamp >= 0 ? maxTimestampInBatch - this.rollingBasedTimestamp : now - this.created;
  }

  /** Kafka's getFirstBatchTimestamp: the first batch's max timestamp, or MAX_SAFE_INTEGER when there is none. */
  firstBatchTimestamp(): number {
    if (this.rollingBasedTimestamp === NOT_LOADED) this.loadRollingBasedTimestamp();
    return this.rollingBasedTimestamp >= 0 ? this.rollingBasedTimestamp : Number.MAX_SAFE_INTEGER;
  }

  private loadRollingBasedTimestamp(): void {
    const cursor = new BatchCursor(this.log, Buffer.allocUnsafe(128));
    try {
      this.rollingBasedTimestamp = cursor.seek(0).next() ? cursor.maxTimestamp : -1;
    } catch (err) {
      // A damaged first batch (a clean open walks only the active segment's tail) is found by
      // the reads; appends go on, rolling by the segment's age as if it had no timestamp.
      if (!(err instanceof CorruptRecordError)) throw err;
      this.rollingBasedTimestamp = -1;
    }
  }

  /**
   * On roll: the closing time-index entry, reserved blocks freed, indexes trimmed to their
   * entries, or with `trimLater` left for `trimIndexes()` (the roll's background flush trims them,
   * off the appending call; see LocalLog.trimSealedIndexes).
   */
  onBecomeInactiveSegment(trimLater = false): void {
    this.log.releaseReserved();
    this.appendFinalTimeIndexEntry();
    this.trimPending = true;
    if (!trimLater) this.trimIndexes();
    // Its files stay open, now under the pool's bound.
    this.pinned = false;
    this.touch();
  }

  /** True from a roll that left the indexes untrimmed until `trimIndexes()`, a close or a truncation. */
  get indexesTrimPending(): boolean {
    return this.trimPending;
  }

  /** Trims the indexes left untrimmed by `onBecomeInactiveSegment(true)`; an index closed since was trimmed by its close. */
  trimIndexes(): void {
    if (!this.trimPending) return;
    this._offsetIndex?.trimToValidSize();
    this._timeIndex?.trimToValidSize();
    this.trimPending = false;
  }

  private appendFinalTimeIndexEntry(): void {
    const max = this.maxTimestamp;
    // Only a new maximum adds an entry; asking a trimmed (inactive) index again would find it full.
    if (max >= 0 && max > this.timeIndex.lastEntry.timestamp) this.timeIndex.maybeAppend(max, this.offsetOfMaxTimestampSoFar, true);
  }

  /**
   * Rebuilds both indexes from the `.log`, checking every batch (framing, magic, CRC, offsets
   * increasing and within this segment), and cuts the file at the first byte that is not a valid
   * batch. Kafka's LogSegment.recover.
   */
  recover(cursor: BatchCursor): SegmentRecovery {
    const offsetIndex = this.offsetIndex;
    const timeIndex = this.timeIndex;
    offsetIndex.reset();
    timeIndex.reset();
    this.maxTimestampSoFar = -1;
    this.offsetOfMaxTimestampSoFar = -1;
    let lastIndexedPosition = 0;
    let validBytes = 0;
    let previousLastOffset = this.baseOffset - 1;
    let reason: string | undefined;
    cursor.seek(0, this.log.size);
    try {
      while (cursor.next()) {
        this.checkBatch(cursor, previousLastOffset);
        if (cursor.maxTimestamp > this.maxTimestampSoFar) {
          this.maxTimestampSoFar = cursor.maxTimestamp;
          this.offsetOfMaxTimestampSoFar = cursor.lastOffset;
        }
        if (cursor.position - lastIndexedPosition > this.options.indexIntervalBytes) {
          offsetIndex.append(cursor.lastOffset, cursor.position);
          timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
          lastIndexedPosition = cursor.position;
        }
        previousLastOffset = cursor.lastOffset;
        validBytes = cursor.position + cursor.size;
      }
    } catch (err) {
      if (!(err instanceof CorruptRecordError)) throw err;
      reason = err.message;
    }
    if (reason === undefined && validBytes < this.log.size) reason = `torn batch at position ${validBytes}`;
    const truncatedBytes = this.log.truncateTo(validBytes);
    this.chain.reset(validBytes, previousLastOffset);
    this.appendFinalTimeIndexEntry();
    this.cachedNextOffset = previousLastOffset + 1;
    // Kafka keeps this count in memory only and recover() leaves it alone: a segment opened after
    // a restart starts at 0, so the first batches after it get no entry until the interval is
    // crossed again. Following that keeps our index files byte-identical to a broker's.
    this.bytesSinceLastIndexEntry = 0;
    this.rollingBasedTimestamp = NOT_LOADED;
    return reason === undefined ? { truncatedBytes } : { truncatedBytes, reason };
  }

  private checkBatch(cursor: BatchCursor, previousLastOffset: number): void {
    if (cursor.baseOffset <= previousLastOffset || cursor.lastOffset < cursor.baseOffset) {
      throw new CorruptRecordError(
        `offsets go backwards in ${this.log.file} at position ${cursor.position}: batch ${cursor.baseOffset}..${cursor.lastOffset} after ${previousLastOffset}`,
        { file: this.log.file, position: cursor.position },
      );
    }
    if (!this.canConvertToRelativeOffset(cursor.lastOffset)) {
      throw new CorruptRecordError(`offset ${cursor.lastOffset} does not belong in segment ${this.baseOffset} (${this.log.file})`, {
        file: this.log.file,
        position: cursor.position,
      });
    }
    cursor.validateCurrent();
  }

  /** Makes a loaded segment the active one: its indexes get their full preallocated size back. */
  prepareForAppends(): void {
    this.pinned = true;
    this.trimPending = false;
    this.options.pool?.forget(this);
    this.offsetIndex.resize(this.options.maxIndexSize);
    this.timeIndex.resize(this.options.maxIndexSize);
  }

  /**
   * `flush()` on the thread pool: fdatasync of the `.log` and of both index files (of a mapped
   * index too: an fdatasync writes the file's dirty pages however they were dirtied).
   */
  flushAsync(): Promise<void> {
    return Promise.all([this.log.flushAsync(), syncFileAsync(this.offsetIndexFile), syncFileAsync(this.timeIndexFile)]).then(() => undefined);
  }

  /** Forces the `.log` and both indexes to disk. */
  flush(): void {
    this.log.flush();
    this._offsetIndex?.flush();
    this._timeIndex?.flush();
  }

  /** Closing time-index entry, indexes trimmed, files closed. */
  close(): void {
    // An index never opened in this session was closed, with its final entry, by an earlier one.
    if (this.options.writable && this.log.size > 0 && this._timeIndex !== null) this.appendFinalTimeIndexEntry();
    this.closeHandlers();
  }

  /** A writer's indexes are closed (and trimmed), a reader's only released. */
  private closeIndexesByMode(): void {
    if (this.options.writable) {
      this._offsetIndex?.close();
      this._timeIndex?.close();
      this.trimPending = false;
    } else {
      this._offsetIndex?.closeWithoutTrim();
      this._timeIndex?.closeWithoutTrim();
    }
    this._offsetIndex = null;
    this._timeIndex = null;
  }

  /** Closes the files without writing anything (read-only openers, or a segment being deleted). */
  closeHandlers(): void {
    this.options.pool?.forget(this);
    this.closeIndexesByMode();
    this.log.close();
  }

  /**
   * Kafka's LogSegment.truncateTo: removes every batch whose last offset is >= `offset` (whole
   * batches: the one holding `offset` goes too), every index entry at or after `offset`, and gives
   * both indexes their full preallocated size back, since the segment becomes the active one.
   * The largest timestamp is recomputed from the time index's last entry plus a scan of the
   * batches after it; `now` becomes the creation time when the segment ends up empty. Writes
   * only (the caller syncs). Returns the bytes cut from the `.log`. Throws `LogIOError`.
   */
  truncateTo(offset: number, cursor: BatchCursor, now: number): number {
    // Translate the offset before the index loses the entries that lead to it.
    const position = this.locate(offset, cursor) ? cursor.position : this.log.size;
    // It becomes the active segment: the pool of open files must not close (and trim) its indexes.
    this.pinned = true;
    this.trimPending = false;
    this.options.pool?.forget(this);
    const offsetIndex = this.offsetIndex;
    const timeIndex = this.timeIndex;
    offsetIndex.truncateTo(offset);
    timeIndex.truncateTo(offset);
    offsetIndex.resize(this.options.maxIndexSize);
    timeIndex.resize(this.options.maxIndexSize);
    const truncated = this.log.truncateTo(position);
    this.chain.cutAt(position);
    if (this.log.size === 0) this.created = now;
    this.rollingBasedTimestamp = NOT_LOADED;
    this.bytesSinceLastIndexEntry = 0;
    this.cachedNextOffset = -1;
    this.loadLargestTimestamp(cursor);
    return truncated;
  }

  /** Kafka's loadLargestTimestamp: the time index's last entry, or a larger timestamp found in the batches after it. */
  private loadLargestTimestamp(cursor: BatchCursor): void {
    // A reader of a segment that changes under it keeps what it had if the `.log` turns out damaged.
    if (!this.options.writable) {
      try {
        this.loadLargestTimestampFrom(cursor);
      } catch (err) {
        if (!(err instanceof CorruptRecordError)) throw err;
        if (this.maxTimestampSoFar === NOT_LOADED) this.maxTimestampSoFar = this.timeIndex.lastEntry.timestamp;
      }
      return;
    }
    this.loadLargestTimestampFrom(cursor);
  }

  private loadLargestTimestampFrom(cursor: BatchCursor): void {
    const last = this.timeIndex.lastEntry;
    let max = last.timestamp;
    let offsetOfMax = last.offset;
    if (this.seekFor(last.offset, cursor)) {
      do {
        if (cursor.maxTimestamp > max) {
          max = cursor.maxTimestamp;
          offsetOfMax = cursor.lastOffset;
        }
      } while (cursor.next());
    }
    this.maxTimestampSoFar = max;
    this.offsetOfMaxTimestampSoFar = max >= 0 ? offsetOfMax : -1;
  }

  /**
   * Kafka's changeFileSuffixes: renames the `.log`, `.index`, `.timeindex` and (when present)
   * `.txnindex` from `<name><oldSuffix>` to `<name><newSuffix>` (e.g. `''` to `'.deleted'`). Open
   * files and mappings follow the rename; an index not opened yet only changes its name. The
   * `.log` goes first, so an interrupted call leaves at worst index files without a `.log`, which
   * the loader removes. No data is read or written. Throws `LogIOError`.
   */
  changeFileSuffixes(oldSuffix: string, newSuffix: string): void {
    const { dir, baseOffset } = this;
    const target = logFile(dir, baseOffset, newSuffix);
    try {
      this.log.renameTo(target);
    } catch (cause) {
      throw new LogIOError(`cannot rename ${this.log.file} to ${target}: ${(cause as Error).message}`, { file: this.log.file, cause });
    }
    this.offsetIndexFile = renameIndexFile(this._offsetIndex, this.offsetIndexFile, offsetIndexFile(dir, baseOffset, newSuffix));
    this.timeIndexFile = renameIndexFile(this._timeIndex, this.timeIndexFile, timeIndexFile(dir, baseOffset, newSuffix));
    renameIfExists(txnIndexFile(dir, baseOffset, oldSuffix), txnIndexFile(dir, baseOffset, newSuffix));
  }

  /**
   * Closes the segment's files without trimming (they are going away) and deletes the `.log`,
   * `.index`, `.timeindex` and `.txnindex` under their current names (after `changeFileSuffixes`,
   * the renamed ones); a missing file is not an error. Throws `LogIOError`.
   */
  deleteIfExists(): void {
    this.options.pool?.forget(this);
    this._offsetIndex?.closeWithoutTrim();
    this._timeIndex?.closeWithoutTrim();
    this._offsetIndex = null;
    this._timeIndex = null;
    this.log.close();
    const suffix = this.log.file.slice(logFile(this.dir, this.baseOffset).length);
    for (const file of [this.log.file, this.offsetIndexFile, this.timeIndexFile, txnIndexFile(this.dir, this.baseOffset, suffix)]) {
      try {
        fs.rmSync(file, { force: true });
        noteWrite();
      } catch (cause) {
        throw new LogIOError(`cannot delete ${file}: ${(cause as Error).message}`, { file, cause });
      }
    }
  }
}

/** A new `.log` at `file`: the prepared one named there, else one created; null when the name is taken. */
function createRecords(file: string, reserveLimit: number, prepared: PreparedSegmentFiles | undefined): FileRecords | null {
  const fd = prepared?.name(PREPARED_LOG, file) ?? null;
  if (fd !== null) return FileRecords.adopt(file, fd, reserveLimit, prepared!.reserved);
  return FileRecords.createNew(file, reserveLimit);
}

/** Renames an index file through its open instance, or by name when it was never opened; returns the new name. */
function renameIndexFile(index: OffsetIndex | TimeIndex | null, from: string, to: string): string {
  if (index !== null) index.renameTo(to);
  else renameIfExists(from, to);
  return to;
}

function renameIfExists(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
    noteWrite();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new LogIOError(`cannot rename ${from} to ${to}: ${(cause as Error).message}`, { file: from, cause });
  }
}

/** Whether the bytes at `position` are the header of a batch whose last offset is `offset` (what an index entry says). */
function batchAt(cursor: BatchCursor, position: number, offset: number, size: number): boolean {
  try {
    return cursor.seek(position, size).next() && cursor.lastOffset === offset;
  } catch (err) {
    if (err instanceof CorruptRecordError) return false;
    throw err;
  }
}

/**
 * The first offset >= `startingOffset` of `batch` whose record timestamp is >= `timestamp`, from
 * the record timestamps kept for it; -1 when none; NOT_KNOWN when they are not kept.
 */
function firstKnownOffset(batch: KnownBatch, timestamp: number, startingOffset: number): number {
  const table = batch.table;
  if (table == null) return NOT_KNOWN;
  const first = Math.max(0, startingOffset - batch.baseOffset);
  // Every record of a LogAppendTime batch reads back with its max timestamp, which reaches `timestamp`.
  if (batch.logAppendTime) return first < batch.count ? batch.baseOffset + first : -1;
  const times = table.timestamps;
  if (times.length === 0) return NOT_KNOWN;
  for (let i = first; i < times.length; i++) if (times[i]! >= timestamp) return batch.baseOffset + i;
  return -1;
}

/**
 * True when `batch` can be taken as the one after `previous` (none: the first of a walk): its
 * offsets start right after. A reader's known batches may mix a file's old and new contents for
 * a moment after a writer in another process cut and rewrote it; a walk that only steps between
 * adjacent offsets cannot skip an offset the file holds. A gap (a compacted log) ends the walk:
 * the headers are read from the file instead.
 */
function follows(batch: KnownBatch, previous: KnownBatch | undefined): boolean {
  return previous === undefined || batch.baseOffset === previous.lastOffset + 1;
}
