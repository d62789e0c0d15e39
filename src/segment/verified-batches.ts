import {
  CONTROL_FLAG_MASK,
  readAttributes,
  readBaseOffset,
  readBaseTimestamp,
  readBatchSize,
  readCrc,
  readLastOffsetDelta,
  readMaxTimestamp,
  readRecordCount,
  readTimestampType,
} from '../record/batch-layout.js';
import type { BatchFacts } from '../record/batch-reader.js';
import { validateBatch } from '../record/batch-reader.js';
import { recordTable, type RecordTable } from '../record/record-table.js';

/**
 * Bound on the batches remembered per file; past it the memory starts again. With tables of at
 * most 256 entries a full cache stays within a few MiB, and the pool of open files drops the
 * caches of the files it closes.
 */
const MAX_BATCHES = 4096;

/** A batch of a `.log` as seen at `position`: its header fields, and whether its bytes were checked. */
export interface KnownBatch extends BatchFacts {
  readonly position: number;
  readonly size: number;
  readonly crc: number;
  readonly lastOffset: number;
  readonly control: boolean;
  /** True once the CRC and the record offsets were checked (see `check`); false: header only. */
  checked: boolean;
  /**
   * Where its records start (uncompressed batches whose records fill their offsets), null for
   * other batches, undefined until a point read asked for it (a scan needs none).
   */
  table: RecordTable | null | undefined;
}

/**
 * The batches of one `.log` that this process has seen, by position: what makes a repeated read
 * of the same batch cheap. A checked batch is not CRC-checked again, and its record table lets a
 * point read go straight to one record. Entries are only trusted while the header at their
 * position is the same (`matches`: size, base offset and CRC field), and the file's owner clears
 * them whenever the file may have been rewritten (a truncation, a shrink seen by a reader).
 * Header-only entries link a batch to the next one for lookups that start at an index entry.
 */
export class VerifiedBatches {
  private readonly batches = new Map<number, KnownBatch>();

  /** `withCrcs`: record tables carry their entries' CRCs (see `RecordTable.crcs`). */
  constructor(private readonly withCrcs = false) {}

  get(position: number): KnownBatch | undefined {
    return this.batches.get(position);
  }

  /**
   * The checked batch at `at` of `buf` (file position `position`): remembered, or its CRC checked
   * now. `withTable` (point reads) also walks its records once for their table, which checks
   * their offsets; a scan decodes every record anyway and needs none.
   */
  check(buf: Buffer, at: number, position: number, file: string, withTable: boolean): KnownBatch {
    const known = this.batches.get(position);
    const same = known !== undefined && matches(known, buf, at);
    if (same && known.checked) {
      if (withTable && known.table === undefined) known.table = recordTable(buf, at, { file, position }, this.withCrcs);
      return known;
    }
    // Another header where a batch was known: the file was cut and rewritten, so nothing known of it holds.
    if (known !== undefined && !same) this.batches.clear();
    const context = { file, position };
    validateBatch(buf, at, context);
    const table = withTable ? recordTable(buf, at, context, this.withCrcs) : undefined;
    const batch = describe(buf, at, position, true, table);
    this.put(batch);
    return batch;
  }

  /** Remembers the header at `at` of `buf` (file position `position`), unless a batch with that header is known. */
  noteHeader(buf: Buffer, at: number, position: number): void {
    const known = this.batches.get(position);
    if (known !== undefined && matches(known, buf, at)) return;
    if (known !== undefined) this.batches.clear();
    this.put(describe(buf, at, position, false, undefined));
  }

  clear(): void {
    this.batches.clear();
  }

  private put(batch: KnownBatch): void {
    if (this.batches.size >= MAX_BATCHES) this.batches.clear();
    this.batches.set(batch.position, batch);
  }
}

/** True when the header at `at` of `buf` is the one `known` was made from. */
export function matches(known: KnownBatch, buf: Buffer, at: number): boolean {
  return readCrc(buf, at) === known.crc && readBatchSize(buf, at) === known.size && readBaseOffset(buf, at) === known.baseOffset;
}

function describe(buf: Buffer, at: number, position: number, checked: boolean, table: RecordTable | null | undefined): KnownBatch {
  const baseOffset = readBaseOffset(buf, at);
  const lastOffsetDelta = readLastOffsetDelta(buf, at);
  return {
    position,
    size: readBatchSize(buf, at),
    crc: readCrc(buf, at),
    baseOffset,
    lastOffsetDelta,
    lastOffset: baseOffset + lastOffsetDelta,
    count: readRecordCount(buf, at),
    baseTimestamp: readBaseTimestamp(buf, at),
    maxTimestamp: readMaxTimestamp(buf, at),
    logAppendTime: readTimestampType(buf, at) === 'LogAppendTime',
    control: (readAttributes(buf, at) & CONTROL_FLAG_MASK) !== 0,
    checked,
    table,
  };
}
