import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../../src/index.js';
import { nativeAddon } from '../../src/files/native.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { checkRecordOffsets } from '../../src/record/batch-reader.js';
import { recordDeltaProblem } from '../../src/record/batch-rules.js';
import { readVarint, type Cursor } from '../../src/record/varint.js';
import { prng } from '../support/prng.js';
import { rawBatch, referenceVarlong } from './helpers.js';

/**
 * `checkRecordOffsets`, the walk recovery adds to the CRC for uncompressed batches: it reads only
 * lengths, skips timestamp deltas and reads offset deltas, and must still refuse every record
 * layout that breaks the offset rules or the framing it reads.
 */

/** A record body by hand: attributes, timestamp delta (its varlong bytes given), offset delta, null key, value, no headers. */
function record(timestampDelta: Buffer, offsetDelta: number, value = 'v'): Buffer {
  const body = Buffer.concat([Buffer.from([0]), timestampDelta, referenceVarlong(BigInt(offsetDelta)), referenceVarlong(-1n), referenceVarlong(BigInt(value.length)), Buffer.from(value), referenceVarlong(0n)]);
  return Buffer.concat([referenceVarlong(BigInt(body.length)), body]);
}

function batch(records: Buffer[], lastOffsetDelta = records.length - 1, recordCount = records.length): Buffer {
  return rawBatch(Buffer.concat(records), { recordCount, lastOffsetDelta });
}

const ts = (n: number): Buffer => referenceVarlong(BigInt(n));

describe('checkRecordOffsets', () => {
  it('accepts what the encoder writes: one-byte and multi-byte lengths, deltas and timestamp deltas', () => {
    for (const [count, valueBytes] of [[1, 10], [70, 5], [300, 200], [5, 20_000]] as const) {
      const records = Array.from({ length: count }, (_, i) => ({ value: Buffer.alloc(valueBytes, i), timestamp: 1_700_000_000_000 + i * 1_000_003 }));
      const buf = Buffer.from(encodeBatch(records, 0, { compression: 'none', timestampType: 'CreateTime', now: 0 }).buffer);
      expect(() => checkRecordOffsets(buf, 0)).not.toThrow();
    }
  });

  it('accepts a compacted batch: fewer records than offsets, deltas increasing with gaps', () => {
    expect(() => checkRecordOffsets(batch([record(ts(0), 1), record(ts(-5), 4), record(ts(2 ** 40), 200)], 200), 0)).not.toThrow();
  });

  it.each([
    ['a repeated delta', [record(ts(0), 0), record(ts(0), 0)], /not above the previous/],
    ['a decreasing delta', [record(ts(0), 1), record(ts(0), 0)], /not above the previous/],
    ['a delta past lastOffsetDelta', [record(ts(0), 0), record(ts(0), 2)], /past the batch's last offset delta/],
    ['a timestamp delta of 11 bytes', [record(Buffer.from([0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01]), 0), record(ts(0), 1)], /more than 10 bytes/],
  ])('refuses %s', (_what, records, message) => {
    expect(() => checkRecordOffsets(batch(records, 1), 0)).toThrow(message);
  });

  it('refuses a record length past the batch, bytes after the records, and a timestamp delta that runs past its record', () => {
    const good = [record(ts(0), 0), record(ts(0), 1)];
    expect(() => checkRecordOffsets(batch(good, 2, 3), 0)).toThrow(CorruptRecordError);
    expect(() => checkRecordOffsets(rawBatch(Buffer.concat([...good, Buffer.from([0])]), { recordCount: 2 }), 0)).toThrow(/bytes remain/);
    // A record whose body is the attributes and an unterminated timestamp delta.
    const cut = Buffer.from([4, 0, 0x81, 0x81]);
    expect(() => checkRecordOffsets(rawBatch(cut, { recordCount: 1 }), 0)).toThrow(/runs past the end of its record/);
    // A record that ends after its timestamp delta: the byte after it, the next record's length
    // (7, as a varint), would read as a legal offset delta of 7 below the next record's 10.
    const deltaOutside = Buffer.concat([Buffer.from([4, 0, 0]), record(ts(0), 10)]);
    expect(() => checkRecordOffsets(rawBatch(deltaOutside, { recordCount: 2, lastOffsetDelta: 20 }), 0)).toThrow(CorruptRecordError);
  });
});

/**
 * What `checkRecordOffsets` must decide, written plainly: every varint read with its bound, the
 * timestamp delta skipped by its continuation bits within its record and 10 bytes.
 */
function offsetsHold(buf: Buffer): boolean {
  const count = buf.readInt32BE(57);
  const lastOffsetDelta = buf.readInt32BE(23);
  const end = buf.length;
  const at: Cursor = { pos: 61 };
  let previous = -1;
  try {
    for (let i = 0; i < count; i++) {
      const length = readVarint(buf, at, end);
      const recordEnd = at.pos + length;
      if (length < 0 || recordEnd > end) return false;
      let q = at.pos + 1;
      while (q < recordEnd && q < at.pos + 11 && buf[q]! >= 0x80) q++;
      if (q >= recordEnd || q >= at.pos + 11) return false;
      at.pos = q + 1;
      const delta = readVarint(buf, at, recordEnd);
      if (recordDeltaProblem(delta, previous, lastOffsetDelta) !== null) return false;
      previous = delta;
      at.pos = recordEnd;
    }
  } catch {
    return false;
  }
  return at.pos === end;
}

describe('checkRecordOffsets on damaged records (valid CRC not needed: it reads no CRC)', () => {
  it('decides as the plain walk does for 20,000 batches with random bytes changed, and so does the addon', () => {
    const nativeWalk = nativeAddon()?.recordOffsetsHold?.bind(nativeAddon());
    const rand = prng(14);
    const shapes = [
      [1000, 20, 1],
      [40, 300, 1_000_003],
      [3, 9000, 7],
      [200, 1, 0],
    ] as const;
    const templates = shapes.map(([count, valueBytes, step]) => {
      const records = Array.from({ length: count }, (_, i) => ({ value: Buffer.alloc(valueBytes, i), timestamp: 1_700_000_000_000 + i * step }));
      return Buffer.from(encodeBatch(records, 0, { compression: 'none', timestampType: 'CreateTime', now: 0 }).buffer);
    });
    let refused = 0;
    for (let n = 0; n < 20_000; n++) {
      const buf = Buffer.from(templates[n % templates.length]!);
      // Mostly the first bytes of records, where lengths and deltas are; sometimes anywhere.
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
        const span = rand() < 0.7 ? Math.min(200, buf.length - 61) : buf.length - 61;
        buf[61 + Math.floor(rand() * span)] = rand() < 0.5 ? Math.floor(rand() * 256) : buf[61 + Math.floor(rand() * span)]! ^ 0x80;
      }
      const expected = offsetsHold(buf);
      // The addon's walk, which checkRecordOffsets asks first for batches of 8 records or more.
      if (nativeWalk !== undefined) expect(nativeWalk(buf, 61, buf.length, buf.readInt32BE(57), buf.readInt32BE(23)), `batch ${n}`).toBe(expected);
      let threw = false;
      try {
        checkRecordOffsets(buf, 0);
      } catch (err) {
        expect(err).toBeInstanceOf(CorruptRecordError);
        threw = true;
      }
      if (threw === expected) throw new Error(`batch ${n}: checkRecordOffsets ${threw ? 'refused' : 'accepted'} what the plain walk ${expected ? 'accepts' : 'refuses'}`);
      if (threw) refused++;
    }
    // Both kinds occur, so the comparison covers both.
    expect(refused).toBeGreaterThan(2_000);
    expect(refused).toBeLessThan(19_000);
  });
});
