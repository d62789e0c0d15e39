/** The clean and dirty parts of a compacted partition, and the check that its clean part is deduplicated. */
import fs from 'node:fs';
import path from 'node:path';
import { CLEANER_OFFSET_CHECKPOINT } from '../cleaner/cleaner-checkpoint.js';
import { readCheckpoint, topicPartitionOf } from '../files/checkpoint.js';
import { CONTROL_FLAG_MASK, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD, readAttributes, readBatchSize } from '../record/batch-layout.js';
import { decodeRecords } from '../record/batch-reader.js';
import type { LogRecord } from '../record/types.js';
import type { Problem } from './check.js';
import { VanishedFileError, type SegmentFiles } from './listing.js';
import { InputError } from './args.js';

/**
 * The cleaner's first dirty offset (`cleaner-offset-checkpoint`), or null when the partition was
 * never compacted: the segments that end at or below it are the clean part.
 */
export function cleanerOffset(dir: string): number | null {
  return readCheckpoint(path.join(dir, CLEANER_OFFSET_CHECKPOINT), topicPartitionOf(dir));
}

/**
 * Each segment of the clean part is the output of one cleaned group: no key may appear twice in
 * it. Reports every repeated key (at the batch holding its second record). Decodes the records of
 * those segments (the CRCs are checked by the rest of verify).
 */
export function checkNoDuplicateKeys(seg: SegmentFiles, sink: (p: Problem) => void): number {
  if (seg.log === null) return 0;
  let buf: Buffer;
  try {
    buf = fs.readFileSync(seg.log);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new VanishedFileError(seg.log);
    throw new InputError(`${seg.log}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const seen = new Map<string, number>();
  const records: LogRecord[] = [];
  let duplicates = 0;
  for (let at = 0; at + RECORD_BATCH_OVERHEAD <= buf.length; ) {
    const size = readBatchSize(buf, at);
    if (size < RECORD_BATCH_OVERHEAD || at + size > buf.length) break;
    if ((readAttributes(buf, at) & CONTROL_FLAG_MASK) === 0) {
      records.length = 0;
      try {
        decodeRecords(buf, at, records, 0, Number.MAX_SAFE_INTEGER, { file: seg.log, position: at });
      } catch {
        // A damaged batch is reported by the batch checks.
      }
      for (const r of records) {
        if (r.key === null) continue;
        const key = r.key.toString('base64');
        const first = seen.get(key);
        if (first !== undefined) {
          duplicates++;
          sink({
            severity: 'error',
            kind: 'duplicate-key',
            file: seg.log,
            position: at,
            offset: r.offset,
            message: `key ${JSON.stringify(r.key.toString())} at offset ${r.offset} also at offset ${first}, in a segment the cleaner has cleaned (below its offset)`,
          });
        } else seen.set(key, r.offset);
      }
    }
    at += Math.max(size, LOG_OVERHEAD);
  }
  return duplicates;
}
