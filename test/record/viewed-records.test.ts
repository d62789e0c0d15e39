/**
 * The two ways `decodeRecords` decodes an uncompressed batch must agree: with fields viewed (a
 * scan's path, which decodes most records in one loop and hands the rest to the general decoder)
 * and with fields copied (the general decoder for every record). Random batches mix what the
 * loop takes (one- and two-byte varints, no headers) with what it must hand over (headers, long
 * keys, values and timestamp deltas, records below `minOffset`, LogAppendTime); the same batches
 * with a byte changed must decode to the same records or fail with the same message.
 */
import { describe, expect, it } from 'vitest';

import { encodeBatch } from '../../src/record/batch-builder.js';
import { RECORDS_OFFSET } from '../../src/record/batch-layout.js';
import { decodeRecords } from '../../src/record/batch-reader.js';
import type { LogRecord, RecordInput } from '../../src/record/types.js';
import { prng } from '../support/prng.js';

const context = { file: '/data/t-0/00000000000000000000.log', position: 0 };
const BASE_TIME = 1_700_000_000_000;

function bytes(rand: () => number): Buffer | null {
  const r = rand();
  if (r < 0.15) return null;
  // Up to 9,000 bytes: lengths past 8191 take a three-byte varint.
  const length = r < 0.3 ? Math.floor(rand() * 3) : r < 0.97 ? Math.floor(rand() * 100) : 8192 + Math.floor(rand() * 100);
  return Buffer.alloc(length, Math.floor(rand() * 256));
}

function randomBatch(rand: () => number): Buffer {
  const records: RecordInput[] = [];
  const count = 1 + Math.floor(rand() * 30);
  for (let i = 0; i < count; i++) {
    const record: RecordInput = { key: bytes(rand), value: bytes(rand) };
    // Deltas from the first timestamp: most fit two bytes, some take three or more.
    if (rand() < 0.9) record.timestamp = BASE_TIME + (rand() < 0.8 ? Math.floor(rand() * 8000) : Math.floor(rand() * 1e9));
    if (rand() < 0.15) record.headers = [{ key: 'h', value: rand() < 0.5 ? null : Buffer.from('x') }];
    records.push(record);
  }
  const timestampType = rand() < 0.1 ? 'LogAppendTime' : 'CreateTime';
  return Buffer.from(encodeBatch(records, 1000, { compression: 'none', timestampType, now: BASE_TIME + 5 }).buffer);
}

/** The records of `batch` decoded with fields viewed or copied, or the message of the error. */
function decode(batch: Buffer, copy: boolean, minOffset: number, maxRecords: number): LogRecord[] | string {
  const out: LogRecord[] = [];
  try {
    decodeRecords(batch, 0, out, minOffset, maxRecords, context, copy);
    return out;
  } catch (err) {
    return (err as Error).message;
  }
}

/** `decode`'s result as text (a deep comparison of large Buffers byte by byte is slow). */
function summary(result: LogRecord[] | string): string {
  if (typeof result === 'string') return result;
  const hex = (b: Buffer | null): string => (b === null ? 'null' : b.toString('hex'));
  return result.map((r) => `${r.offset} ${r.timestamp} ${hex(r.key)} ${hex(r.value)} ${r.headers.map((h) => `${h.key}=${hex(h.value)}`).join(',')}`).join('\n');
}

/** Where each record of an uncompressed batch starts: its length varint (zigzag). */
function recordStarts(batch: Buffer): number[] {
  const starts: number[] = [];
  for (let at = RECORDS_OFFSET; at < batch.length; ) {
    starts.push(at);
    let shift = 0;
    let z = 0;
    for (;;) {
      const b = batch[at++]!;
      z |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) break;
    }
    at += (z >>> 1) ^ -(z & 1);
  }
  return starts;
}

describe('decodeRecords with viewed fields', () => {
  it('decodes what the general decoder decodes, records views into the batch', () => {
    const rand = prng(18);
    for (let n = 0; n < 300; n++) {
      const batch = randomBatch(rand);
      const minOffset = rand() < 0.3 ? 1000 + Math.floor(rand() * 10) : 0;
      const maxRecords = rand() < 0.2 ? 1 + Math.floor(rand() * 10) : 1000;
      const viewed = decode(batch, false, minOffset, maxRecords);
      expect(summary(viewed), `batch ${n}`).toBe(summary(decode(batch, true, minOffset, maxRecords)));
      expect(typeof viewed).not.toBe('string');
      for (const record of viewed as LogRecord[]) {
        for (const field of [record.key, record.value]) if (field !== null) expect(field.buffer).toBe(batch.buffer);
      }
    }
  });

  it('fails where the general decoder fails, with the same message, whatever byte of the records changed', () => {
    const rand = prng(4);
    let failures = 0;
    for (let n = 0; n < 60; n++) {
      const batch = randomBatch(rand);
      const starts = recordStarts(batch);
      for (let k = 0; k < 40; k++) {
        const damaged = Buffer.from(batch);
        // Mostly the first bytes of a record (its length, timestamp and offset deltas, key length).
        const at = rand() < 0.8 ? starts[Math.floor(rand() * starts.length)]! + Math.floor(rand() * 6) : RECORDS_OFFSET + Math.floor(rand() * (batch.length - RECORDS_OFFSET));
        if (at >= batch.length) continue;
        damaged[at] = rand() < 0.5 ? damaged[at]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
        const viewed = decode(damaged, false, 0, 1000);
        expect(summary(viewed), `batch ${n}, byte ${at}`).toBe(summary(decode(damaged, true, 0, 1000)));
        if (typeof viewed === 'string') failures++;
      }
    }
    // Most changes must have been caught, or the comparison says little.
    expect(failures).toBeGreaterThan(600);
  });
});
