/**
 * Both indexes of a segment built from its `.log` in memory, for a read-only opener of a
 * directory without usable index files (a backup, a hand-made fixture, a directory copied without
 * them). Kafka's loader rebuilds missing indexes on open (`LogSegment.recover`); a reader cannot
 * write, so it builds the same entries into buffers, in the files' format, and hands them to
 * indexes in read mode (`IndexOptions.contents`).
 *
 * The rule is recovery's: an offset entry (last offset, position) for a batch that starts more than
 * `indexIntervalBytes` after the last indexed one, with a time entry (largest timestamp so far, its
 * offset) beside it when that timestamp is new, and a closing time entry for the segment's largest
 * timestamp. Batch headers are walked, not CRC-checked (every read checks the batches it returns);
 * a damaged tail ends the walk, as recovery would cut the segment there.
 */

import { CorruptRecordError } from '../errors.js';
import { OffsetIndex } from '../index/offset-index.js';
import { TimeIndex } from '../index/time-index.js';
import { INT32_MAX, writeInt64 } from '../record/batch-layout.js';
import type { BatchCursor } from './batch-cursor.js';
import type { FileRecords } from './file-records.js';


/** A growing buffer of fixed-size index entries. */
class EntryBuffer {
  private buf: Buffer = Buffer.allocUnsafe(4096);
  private length = 0;

  constructor(private readonly entrySize: number) {}

  /** Room for one more entry; returns where it goes. */
  private slot(): number {
    if (this.length + this.entrySize > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    const at = this.length;
    this.length += this.entrySize;
    return at;
  }

  addOffset(relativeOffset: number, position: number): void {
    const at = this.slot();
    this.buf.writeInt32BE(relativeOffset, at);
    this.buf.writeInt32BE(position, at + 4);
  }

  addTime(timestamp: number, relativeOffset: number): void {
    const at = this.slot();
    writeInt64(this.buf, at, timestamp);
    this.buf.writeInt32BE(relativeOffset, at + 8);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

export interface BuiltIndexes {
  offsets: OffsetIndex;
  times: TimeIndex;
}

/**
 * Walks `log` from its start with `cursor` and returns read-mode indexes holding the entries the
 * writer's recovery would write (named after `offsetFile` and `timeFile`, which are not read).
 */
export function buildIndexes(log: FileRecords, baseOffset: number, indexIntervalBytes: number, cursor: BatchCursor, offsetFile: string, timeFile: string): BuiltIndexes {
  const offsets = new EntryBuffer(OffsetIndex.ENTRY_SIZE);
  const times = new EntryBuffer(TimeIndex.ENTRY_SIZE);
  let maxTimestamp = -1;
  let offsetOfMax = -1;
  let lastIndexedTimestamp = -1;
  let lastIndexedPosition = 0;
  cursor.seek(0, log.size);
  try {
    while (cursor.next()) {
      // Offsets that do not fit this segment are damage: the writer's recovery would cut here.
      const relative = cursor.lastOffset - baseOffset;
      if (relative < 0 || relative > INT32_MAX) break;
      if (cursor.maxTimestamp > maxTimestamp) {
        maxTimestamp = cursor.maxTimestamp;
        offsetOfMax = cursor.lastOffset;
      }
      if (cursor.position - lastIndexedPosition > indexIntervalBytes) {
        offsets.addOffset(relative, cursor.position);
        if (maxTimestamp > lastIndexedTimestamp) {
          times.addTime(maxTimestamp, offsetOfMax - baseOffset);
          lastIndexedTimestamp = maxTimestamp;
        }
        lastIndexedPosition = cursor.position;
      }
    }
  } catch (err) {
    if (!(err instanceof CorruptRecordError)) throw err;
  }
  if (maxTimestamp > lastIndexedTimestamp) times.addTime(maxTimestamp, offsetOfMax - baseOffset);
  const options = { mode: 'read' as const };
  return {
    offsets: new OffsetIndex(offsetFile, baseOffset, { ...options, contents: offsets.bytes() }),
    times: new TimeIndex(timeFile, baseOffset, { ...options, contents: times.bytes() }),
  };
}
