import { describe, expect, it } from 'vitest';

import { CorruptRecordError } from '../../src/errors.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { parseBatchHeader, writeInt32 } from '../../src/record/batch-layout.js';
import { decodeBatch, decodeRecords, validateBatch } from '../../src/record/batch-reader.js';
import type { LogRecord } from '../../src/record/types.js';
import { rawBatch, referenceVarlong } from './helpers.js';

const FILE = '/data/topic-0/00000000000000004000.log';
const context = { file: FILE, position: 4200 };

function sampleBatch(): Buffer {
  const encoded = encodeBatch(
    [
      { key: 'k1', value: 'value one', headers: { h: 'x' } },
      { key: null, value: 'value two', timestamp: 5 },
    ],
    4000,
    { compression: 'none', timestampType: 'CreateTime', now: 1_700_000_000_000 },
  );
  return Buffer.from(encoded.buffer);
}

/** Runs `fn` and returns the CorruptRecordError it throws. */
function corruption(fn: () => unknown): CorruptRecordError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CorruptRecordError);
    return err as CorruptRecordError;
  }
  throw new Error('expected a CorruptRecordError');
}

function decodeAll(batch: Buffer): LogRecord[] {
  const out: LogRecord[] = [];
  decodeRecords(batch, 0, out, 0, 1000, context);
  return out;
}

describe('validateBatch', () => {
  it('accepts an intact batch at any position in a buffer', () => {
    const batch = sampleBatch();
    const buf = Buffer.concat([Buffer.alloc(200, 0xab), batch, Buffer.alloc(3)]);
    expect(() => validateBatch(buf, 200, context)).not.toThrow();
  });

  it('names the file, the position and both CRCs when one byte changed', () => {
    const batch = sampleBatch();
    const buf = Buffer.concat([Buffer.alloc(200), batch]);
    buf[200 + 70]! ^= 0x01;
    const err = corruption(() => validateBatch(buf, 200, context));
    expect(err.message).toContain(FILE);
    expect(err.message).toContain('position 4200');
    expect(err.message).toMatch(/CRC mismatch: stored \d+, computed \d+/);
    expect(err).toMatchObject({ code: 'SEGLOG_CORRUPT_RECORD', file: FILE, position: 4200, offset: 4000 });
  });

  it('uses the buffer position when the context has none', () => {
    const batch = sampleBatch();
    batch[65]! ^= 0x80;
    expect(corruption(() => validateBatch(batch, 0)).message).toMatch(/position 0:/);
  });

  it('detects a flipped bit anywhere from the attributes on, and ignores baseOffset and leader epoch', () => {
    const batch = sampleBatch();
    for (let pos = 0; pos < batch.length; pos++) {
      if (pos === 16) continue; // magic: its own check
      const damaged = Buffer.from(batch);
      damaged[pos]! ^= 1 << pos % 8;
      const covered = pos >= 17;
      if (pos >= 8 && pos < 12) continue; // length: framing checks, below
      if (covered) expect(() => validateBatch(damaged, 0, context), `byte ${pos}`).toThrow(CorruptRecordError);
      else expect(() => validateBatch(damaged, 0, context), `byte ${pos}`).not.toThrow();
    }
  });

  it('rejects a truncated batch, a short buffer and a size below 61', () => {
    const batch = sampleBatch();
    expect(corruption(() => validateBatch(batch.subarray(0, batch.length - 1), 0, context)).message).toMatch(
      new RegExp(`batch size ${batch.length} exceeds the ${batch.length - 1} bytes available`),
    );
    expect(corruption(() => validateBatch(batch.subarray(0, 11), 0, context)).message).toMatch(/fewer than the 12-byte log overhead/);
    const small = Buffer.from(batch);
    writeInt32(small, 8, 40);
    expect(corruption(() => validateBatch(small, 0, context)).message).toMatch(/batch size 52 is below the minimum of 61/);
    writeInt32(small, 8, -5);
    expect(() => validateBatch(small, 0, context)).toThrow(/below the minimum/);
  });

  it('rejects a magic other than 2', () => {
    const batch = sampleBatch();
    batch[16] = 1;
    expect(corruption(() => validateBatch(batch, 0, context)).message).toMatch(/magic 1 where 2 was expected/);
    expect(() => decodeAll(batch)).toThrow(/magic 1/);
  });
});

describe('decodeRecords on malformed records (CRC valid)', () => {
  // The worked example's record: len 7, attr, tsDelta 0, offsetDelta 0, key null, value "a", 0 headers.
  const RECORD = '0e000000010261' + '00';

  const check = (recordsHex: string, count: number, pattern: RegExp, attributes = 0): CorruptRecordError => {
    const batch = rawBatch(Buffer.from(recordsHex, 'hex'), { recordCount: count, attributes });
    expect(() => validateBatch(batch, 0, context)).not.toThrow();
    const err = corruption(() => decodeAll(batch));
    expect(err.message).toMatch(pattern);
    expect(err.message).toContain(FILE);
    expect(err.message).toContain('position 4200');
    return err;
  };

  it('decodes the well-formed record', () => {
    const batch = rawBatch(Buffer.from(RECORD, 'hex'), { recordCount: 1 });
    expect(decodeAll(batch)).toMatchObject([{ offset: 0, key: null, value: Buffer.from('a'), headers: [] }]);
  });

  it('decodes varints in every legal form: padded with continuation bytes, one byte, two, three', () => {
    // Each field of the first record in a longer form than needed (0 as 80 00, ...), its header
    // count the record's last byte; the second has a 3-byte value length and a 2-byte timestamp.
    const padded = '16' + '00' + '8000' + '8000' + '8000' + '0261' + '8000';
    const value = Buffer.alloc(10_000, 7);
    const body = Buffer.concat([Buffer.from('00' + 'c801' + '02' + '01', 'hex'), referenceVarlong(10_000n), value, Buffer.from('00', 'hex')]);
    const second = Buffer.concat([referenceVarlong(BigInt(body.length)), body]);
    const batch = rawBatch(Buffer.concat([Buffer.from(padded, 'hex'), second]), { recordCount: 2 });
    const records = decodeAll(batch);
    expect(records).toMatchObject([
      { offset: 0, timestamp: 1_700_000_000_000, key: Buffer.alloc(0), value: Buffer.from('a'), headers: [] },
      { offset: 1, timestamp: 1_700_000_000_100, key: null, headers: [] },
    ]);
    expect(records[1]!.value!.equals(value)).toBe(true);
  });

  it('rejects a varint cut by its record end, even where bytes of the next record follow', () => {
    check('0e000000010261' + '80' + RECORD, 2, /record 0 of 2: varint at byte \d+ runs past the end/);
    check('02' + '00' + RECORD, 2, /record 0 of 2: varint at byte \d+ runs past the end/);
  });

  it('rejects a varint with a 5th continuation byte', () => {
    // offsetDelta written with 6 bytes: ff ff ff ff ff 01
    check('16' + '00' + '00' + 'ffffffffff01' + '01' + '0261' + '00', 1, /record 0 of 1: illegal varint/);
  });

  it('rejects a record whose fields do not fill its declared length', () => {
    check('10000000010261' + '00' + 'ee', 1, /record length 8 but its fields take 7 bytes/);
  });

  it('rejects a record length that overruns the batch, or a negative one', () => {
    check('c801000000010261' + '00', 1, /record length 100 overruns/);
    check('03', 1, /record length -2 overruns/);
  });

  it('rejects a count larger than the records present, and bytes left after the last record', () => {
    check(RECORD, 2, /record 1 of 2: varint at byte \d+ runs past the end/);
    check(RECORD + RECORD, 1, /8 bytes remain after the 1 declared records/);
  });

  it('rejects a negative record count', () => {
    check(RECORD, -1, /negative record count -1/);
  });

  it('rejects a negative header count and a null header key', () => {
    check('0e000000010261' + '01', 1, /invalid header count -1/);
    check('12000000010261' + '02' + '01' + '01', 1, /header 0 has a null key/);
  });

  it('rejects codec ids 5-7', () => {
    check(RECORD, 1, /unknown compression codec id 5/, 5);
    const batch = rawBatch(Buffer.from(RECORD, 'hex'), { recordCount: 1, attributes: 7 });
    expect(() => parseBatchHeader(batch, 0, context)).toThrow(/unknown compression codec id 7/);
  });

  it('rejects a compressed section that does not decompress', () => {
    const err = check('00112233445566778899', 1, /gzip data could not be decompressed/, 1);
    expect(err.cause).toBeDefined();
    check('00112233445566778899', 1, /not an LZ4 frame/, 3);
  });

  it('reports a zstd section that does not decompress as corruption, on every Node.js', () => {
    const batch = rawBatch(Buffer.from('28b52ffd2000090000687965', 'hex'), { recordCount: 1, attributes: 4 });
    expect(() => decodeAll(batch)).toThrow(CorruptRecordError);
  });

  it('decodeBatch validates the CRC first', () => {
    const batch = rawBatch(Buffer.from(RECORD, 'hex'), { recordCount: 1 });
    batch[62]! ^= 0xff;
    expect(() => decodeBatch(batch, 0, context)).toThrow(/CRC mismatch/);
  });
});
