import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../../src/index.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { checkRecordOffsets } from '../../src/record/batch-reader.js';
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
  });
});
