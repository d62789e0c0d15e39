import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../../src/errors.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { BatchCursor } from '../../src/segment/batch-cursor.js';
import { FileRecords } from '../../src/segment/file-records.js';
import { tmpDir } from '../support/tmp.js';

const OPTIONS = { compression: 'none', timestampType: 'CreateTime', now: 1_700_000_000_000 } as const;

interface Written {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

/** A `.log` of `count` batches of 1-4 records (sizes vary); returns the file and each batch's facts. */
function logOf(count: number): { file: string; batches: Written[] } {
  const parts: Buffer[] = [];
  const batches: Written[] = [];
  let offset = 0;
  let position = 0;
  for (let i = 0; i < count; i++) {
    const records = Array.from({ length: 1 + (i % 4) }, (_, j) => ({ key: `k${i}`, value: 'v'.repeat(10 + ((i * 31 + j) % 200)), timestamp: 1_000 + i * 10 + j }));
    const batch = Buffer.from(encodeBatch(records, offset, OPTIONS).buffer);
    batches.push({ position, size: batch.length, baseOffset: offset, lastOffset: offset + records.length - 1, maxTimestamp: 1_000 + i * 10 + records.length - 1 });
    parts.push(batch);
    offset += records.length;
    position += batch.length;
  }
  const file = path.join(tmpDir(), '00000000000000000000.log');
  fs.writeFileSync(file, Buffer.concat(parts));
  return { file, batches };
}

function walk(cursor: BatchCursor): Written[] {
  const out: Written[] = [];
  while (cursor.next()) out.push({ position: cursor.position, size: cursor.size, baseOffset: cursor.baseOffset, lastOffset: cursor.lastOffset, maxTimestamp: cursor.maxTimestamp });
  return out;
}

describe('BatchCursor', () => {
  it('walks every batch header, with a chunk smaller than the batches too (refills)', () => {
    const { file, batches } = logOf(40);
    const records = FileRecords.open(file, false);
    expect(walk(new BatchCursor(records).seek(0))).toEqual(batches);
    expect(walk(new BatchCursor(records, Buffer.allocUnsafe(200)).seek(0))).toEqual(batches);
    const from = batches[17]!;
    expect(walk(new BatchCursor(records).seek(from.position))).toEqual(batches.slice(17));
    records.close();
  });

  it('stops, without an error, before a batch that runs past the end (a torn tail), and says where the valid data ends', () => {
    const { file, batches } = logOf(10);
    const last = batches[9]!;
    fs.truncateSync(file, last.position + 30);
    const records = FileRecords.open(file, false);
    const cursor = new BatchCursor(records).seek(0);
    expect(walk(cursor)).toEqual(batches.slice(0, 9));
    expect(cursor.validEnd).toBe(last.position);
    expect(walk(new BatchCursor(records).seek(0, batches[5]!.position))).toEqual(batches.slice(0, 5));
    records.close();
  });

  it('throws CorruptRecordError naming file and position for a size field below 14 and for a magic other than 2', () => {
    const { file, batches } = logOf(6);
    const at = batches[3]!.position;
    const bytes = fs.readFileSync(file);
    const badSize = Buffer.from(bytes);
    badSize.writeInt32BE(5, at + 8);
    fs.writeFileSync(file, badSize);
    let records = FileRecords.open(file, false);
    expect(() => walk(new BatchCursor(records).seek(0))).toThrow(CorruptRecordError);
    try {
      walk(new BatchCursor(records).seek(0));
    } catch (err) {
      expect(err).toMatchObject({ file, position: at });
    }
    records.close();
    const badMagic = Buffer.from(bytes);
    badMagic[at + 16] = 1;
    fs.writeFileSync(file, badMagic);
    records = FileRecords.open(file, false);
    expect(() => walk(new BatchCursor(records).seek(0))).toThrow(/not a v2 record batch/);
    records.close();
  });

  it('validateCurrent checks the CRC of the batch under the cursor, also of a batch larger than the chunk', () => {
    const { file, batches } = logOf(8);
    const flipped = fs.readFileSync(file);
    const victim = batches[6]!;
    const p = victim.position + victim.size - 1;
    flipped[p] = flipped[p]! ^ 1;
    fs.writeFileSync(file, flipped);
    const records = FileRecords.open(file, false);
    for (const chunk of [Buffer.allocUnsafe(64 * 1024), Buffer.allocUnsafe(100)]) {
      const cursor = new BatchCursor(records, chunk).seek(0);
      for (let i = 0; i < 6; i++) {
        expect(cursor.next()).toBe(true);
        cursor.validateCurrent();
      }
      expect(cursor.next()).toBe(true);
      expect(() => cursor.validateCurrent()).toThrow(CorruptRecordError);
    }
    records.close();
  });
});
