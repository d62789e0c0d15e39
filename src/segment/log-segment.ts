import fs from 'node:fs';
import { CorruptRecordError, LogIOError, OffsetOverflowError } from '../errors.js';
import { OffsetIndex } from '../index/offset-index.js';
import { TimeIndex } from '../index/time-index.js';
import { findOffsetByTimestamp, validateBatch } from '../record/batch-reader.js';
import { readBatchSize, readLastOffset, readMaxTimestamp } from '../record/batch-layout.js';
import { BatchCursor } from './batch-cursor.js';
import { FileRecords, syncFileAsync } from './file-records.js';
import { logFile, offsetIndexFile, timeIndexFile, txnIndexFile } from '../files/file-names.js';

const INT32_MAX = 2 ** 31 - 1;
const NOT_LOADED = -2;
/** Names no file: an index opened under it reads as empty (a read-only segment whose index is not its own). */
const STALE_SUFFIX = '.not-this-generation';

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
export class LogSegment {
  readonly log: FileRecords;
  private offsetIndexFile: string;
  private timeIndexFile: string;
  private _offsetIndex: OffsetIndex | null = null;
  private _timeIndex: TimeIndex | null = null;
  private maxTimestampSoFar = NOT_LOADED;
  private offsetOfMaxTimestampSoFar = -1;
  /** Bytes appended since the last index entry; in memory only, 0 for every segment opened (as Kafka). */
  private bytesSinceLastIndexEntry = 0;
  private rollingBasedTimestamp = NOT_LOADED;
  private created: number;
  private cachedNextOffset = -1;
  /** Read-only: the time index was replaced by an empty one (see `isStaleGeneration`). */
  private staleTimeIndex = false;

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
  }

  /**
   * Creates the files of a new, empty segment (the indexes preallocated). `suffix` names them
   * `<base>.log<suffix>` and so on (the cleaner writes `.cleaned` segments).
   */
  static create(dir: string, baseOffset: number, options: SegmentOptions, suffix = ''): LogSegment {
    const file = logFile(dir, baseOffset, suffix);
    // A stray file of the same name (a crash between creating and using it) holds nothing we keep.
    for (const f of [file, offsetIndexFile(dir, baseOffset, suffix), timeIndexFile(dir, baseOffset, suffix)]) fs.rmSync(f, { force: true });
    const segment = new LogSegment(dir, baseOffset, FileRecords.open(file, true, options.reserveLimit), options, suffix);
    segment.maxTimestampSoFar = -1;
    segment.cachedNextOffset = baseOffset;
    // Opening the indexes creates their files, preallocated.
    void segment.offsetIndex;
    void segment.timeIndex;
    return segment;
  }

  /**
   * Opens an existing segment; its indexes stay closed until first used. `suffix`: files named
   * `<base>.log<suffix>` (a read-only view opens a finished cleaner's `.swap` files).
   */
  static open(dir: string, baseOffset: number, options: SegmentOptions, suffix = ''): LogSegment {
    const records = FileRecords.open(logFile(dir, baseOffset, suffix), options.writable, options.reserveLimit);
    return new LogSegment(dir, baseOffset, records, options, suffix);
  }

  get offsetIndex(): OffsetIndex {
    if (this._offsetIndex === null) {
      const open = (file: string): OffsetIndex =>
        new OffsetIndex(file, this.baseOffset, { maxIndexSize: this.options.maxIndexSize, mode: this.options.writable ? 'write' : 'read', detectZeroTail: true });
      this._offsetIndex = open(this.offsetIndexFile);
      if (this.isStaleGeneration()) {
        this._offsetIndex.closeWithoutTrim();
        this._offsetIndex = open(this.offsetIndexFile + STALE_SUFFIX);
      }
    }
    return this._offsetIndex;
  }

  get timeIndex(): TimeIndex {
    if (this._timeIndex === null) {
      const open = (file: string): TimeIndex =>
        new TimeIndex(file, this.baseOffset, { maxIndexSize: this.options.maxIndexSize, mode: this.options.writable ? 'write' : 'read', detectZeroTail: true });
      this._timeIndex = open(this.timeIndexFile);
      if (this.isStaleGeneration()) {
        this._timeIndex.closeWithoutTrim();
        this._timeIndex = open(this.timeIndexFile + STALE_SUFFIX);
        this.staleTimeIndex = true;
      }
    }
    return this._timeIndex;
  }

  /**
   * Read-only openers only: true when the writer renamed this segment's `.log` away after we
   * opened it (a cleaner swap or a deletion), checked after opening an index by name. The writer
   * renames a segment's `.log` before its indexes, so when the `.log` is still ours after the
   * index was opened, the index is ours too; otherwise it may be a newer segment's with the same
   * base offset, and this segment goes on without indexes (reads scan from its start).
   */
  private isStaleGeneration(): boolean {
    return !this.options.writable && !this.log.isStillAtItsName();
  }

  /** True when the index files exist (a segment written by a tool that wrote no indexes has none). */
  indexFilesExist(): boolean {
    return fs.existsSync(this.offsetIndexFile) && fs.existsSync(this.timeIndexFile);
  }

  get size(): number {
    return this.log.size;
  }

  /** Largest record timestamp in the segment, or -1 when it has none. Reads the time index once. */
  get maxTimestamp(): number {
    if (this.maxTimestampSoFar === NOT_LOADED) this.loadMaxTimestamp();
    return this.maxTimestampSoFar;
  }

  private loadMaxTimestamp(): void {
    const last = this.timeIndex.lastEntry;
    this.maxTimestampSoFar = last.timestamp;
    this.offsetOfMaxTimestampSoFar = last.offset;
    if (this.staleTimeIndex) this.scanMaxTimestamp();
  }

  /** The max timestamp from the batch headers (a read-only segment whose time index cannot be trusted). */
  private scanMaxTimestamp(): void {
    const cursor = new BatchCursor(this.log);
    cursor.seek(0, this.log.size);
    try {
      while (cursor.next()) {
        if (cursor.maxTimestamp > this.maxTimestampSoFar) {
          this.maxTimestampSoFar = cursor.maxTimestamp;
          this.offsetOfMaxTimestampSoFar = cursor.lastOffset;
        }
      }
    } catch (err) {
      if (!(err instanceof CorruptRecordError)) throw err;
    }
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
   */
  append(largestOffset: number, largestTimestamp: number, shallowOffsetOfMaxTimestamp: number, batch: Buffer, length = batch.length): void {
    if (!this.canConvertToRelativeOffset(largestOffset)) {
      throw new OffsetOverflowError(`offset ${largestOffset} cannot be stored relative to segment ${this.baseOffset}`, {
        file: this.log.file,
        offset: largestOffset,
      });
    }
    const position = this.log.size;
    if (position === 0) this.rollingBasedTimestamp = largestTimestamp;
    const maxTimestamp = this.maxTimestamp;
    this.log.append(batch, length);
    if (largestTimestamp > maxTimestamp) {
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

  /**
   * Positions `cursor` on the first batch whose last offset is >= `offset`, starting from the
   * offset index's entry at or below it (never from the start of the segment). False when no
   * batch of this segment reaches `offset`.
   */
  locate(offset: number, cursor: BatchCursor): boolean {
    cursor.seek(this.indexedPosition(offset, cursor), this.log.size);
    while (cursor.next()) {
      if (cursor.lastOffset >= offset) return true;
    }
    return false;
  }

  /**
   * The earliest offset >= `startingOffset` whose record timestamp is >= `timestamp`, or -1.
   * Time index -> offset -> offset index -> position -> short forward scan of batch headers,
   * then the records of the one batch that first reaches the timestamp.
   */
  findOffsetByTimestamp(timestamp: number, startingOffset: number, cursor: BatchCursor, maxDecompressedBytes?: number): number {
    const entry = this.timeIndex.lookup(timestamp);
    const from = Math.max(entry.offset, startingOffset);
    cursor.seek(this.indexedPosition(from, cursor), this.log.size);
    while (cursor.next()) {
      if (cursor.maxTimestamp < timestamp || cursor.lastOffset < startingOffset) continue;
      const found = this.firstOffsetAtOrAfter(cursor, timestamp, startingOffset, maxDecompressedBytes);
      if (found >= 0) return found;
    }
    return -1;
  }

  /**
   * Where a forward scan for `offset` starts: the offset index's entry at or below it, once the
   * batch there is seen to be the one the entry names (an entry (O, P) says the batch at P ends at
   * O). An entry that points inside a batch, or at another batch, would make the scan skip or
   * repeat records: the scan then starts at the segment's first batch instead.
   */
  private indexedPosition(offset: number, cursor: BatchCursor): number {
    if (offset <= this.baseOffset) return 0;
    const entry = this.offsetIndex.lookup(offset);
    if (entry.position <= 0) return 0;
    try {
      if (cursor.seek(entry.position, this.log.size).next() && cursor.lastOffset === entry.offset) return entry.position;
    } catch (err) {
      if (!(err instanceof CorruptRecordError)) throw err;
    }
    return 0;
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
  checkBatchOnce(buf: Buffer, at: number, position: number): void {
    if (this.log.isVerified(position)) return;
    validateBatch(buf, at, { file: this.log.file, position });
    this.log.markVerified(position);
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
    validateBatch(batch, 0, { file: this.log.file, position: cursor.position });
    return batch;
  }

  shortRead(position: number): CorruptRecordError {
    return new CorruptRecordError(`${this.log.file} ended inside the batch at position ${position}`, { file: this.log.file, position });
  }

  /** The offset after the last batch: reads from the last offset-index entry to the end (cached). */
  readNextOffset(cursor: BatchCursor): number {
    if (this.cachedNextOffset >= 0 && this.options.writable) return this.cachedNextOffset;
    const last = this.offsetIndex.lookup(Number.MAX_SAFE_INTEGER);
    let next = this.walkToEnd(cursor, last.position, last.offset);
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
   */
  private walkToEnd(cursor: BatchCursor, position: number, expectLastOffset: number): number {
    let next = this.baseOffset;
    cursor.seek(position, this.log.size);
    try {
      if (position > 0 && (!cursor.next() || cursor.lastOffset !== expectLastOffset)) return -1;
      if (position > 0) next = cursor.lastOffset + 1;
      while (cursor.next()) next = cursor.lastOffset + 1;
    } catch (err) {
      // A read-only opener of a crashed log sees it up to the damage, as the writer will after recovery.
      if (this.options.writable || !(err instanceof CorruptRecordError)) throw err;
      if (next === this.baseOffset && position > 0) return -1;
    }
    return next;
  }

  /** Forgets the cached next offset (read-only openers, after the writer appended). */
  invalidate(): void {
    this.cachedNextOffset = -1;
    if (!this.options.writable) {
      this.maxTimestampSoFar = NOT_LOADED;
      this._offsetIndex?.refresh();
      this._timeIndex?.refresh();
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
    this.rollingBasedTimestamp = cursor.seek(0).next() ? cursor.maxTimestamp : -1;
  }

  /** On roll: the closing time-index entry, indexes trimmed to their entries, reserved blocks freed. */
  onBecomeInactiveSegment(): void {
    this.log.releaseReserved();
    this.appendFinalTimeIndexEntry();
    this.offsetIndex.trimToValidSize();
    this.timeIndex.trimToValidSize();
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
    this.offsetIndex.resize(this.options.maxIndexSize);
    this.timeIndex.resize(this.options.maxIndexSize);
  }

  /** Forces both indexes (not the `.log`) to disk. */
  flushIndexes(): void {
    this._offsetIndex?.flush();
    this._timeIndex?.flush();
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

  /** Closes the files without writing anything (read-only openers, or a segment being deleted). */
  closeHandlers(): void {
    if (this.options.writable) {
      this._offsetIndex?.close();
      this._timeIndex?.close();
    } else {
      this._offsetIndex?.closeWithoutTrim();
      this._timeIndex?.closeWithoutTrim();
    }
    this._offsetIndex = null;
    this._timeIndex = null;
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
    const offsetIndex = this.offsetIndex;
    const timeIndex = this.timeIndex;
    offsetIndex.truncateTo(offset);
    timeIndex.truncateTo(offset);
    offsetIndex.resize(this.options.maxIndexSize);
    timeIndex.resize(this.options.maxIndexSize);
    const truncated = this.log.truncateTo(position);
    if (this.log.size === 0) this.created = now;
    this.rollingBasedTimestamp = NOT_LOADED;
    this.bytesSinceLastIndexEntry = 0;
    this.cachedNextOffset = -1;
    this.loadLargestTimestamp(cursor);
    return truncated;
  }

  /** Kafka's loadLargestTimestamp: the time index's last entry, or a larger timestamp found in the batches after it. */
  private loadLargestTimestamp(cursor: BatchCursor): void {
    const last = this.timeIndex.lastEntry;
    let max = last.timestamp;
    let offsetOfMax = last.offset;
    cursor.seek(this.offsetIndex.lookupPosition(last.offset), this.log.size);
    while (cursor.next()) {
      if (cursor.maxTimestamp > max) {
        max = cursor.maxTimestamp;
        offsetOfMax = cursor.lastOffset;
      }
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
    this._offsetIndex?.closeWithoutTrim();
    this._timeIndex?.closeWithoutTrim();
    this._offsetIndex = null;
    this._timeIndex = null;
    this.log.close();
    const suffix = this.log.file.slice(logFile(this.dir, this.baseOffset).length);
    for (const file of [this.log.file, this.offsetIndexFile, this.timeIndexFile, txnIndexFile(this.dir, this.baseOffset, suffix)]) {
      try {
        fs.rmSync(file, { force: true });
      } catch (cause) {
        throw new LogIOError(`cannot delete ${file}: ${(cause as Error).message}`, { file, cause });
      }
    }
  }
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
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new LogIOError(`cannot rename ${from} to ${to}: ${(cause as Error).message}`, { file: from, cause });
  }
}
