import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log } from '../../../src/index.js';
import { compress, isCompressionSupported } from '../../../src/record/compression.js';
import type { CompressionType } from '../../../src/record/types.js';
import { rawBatch, referenceVarlong } from '../../record/helpers.js';
import { logFiles, partitionDir, runChild } from './helpers.js';

/**
 * A read of a few records from a huge compressed batch costs memory in proportion to what it
 * returns: the records section is inflated a piece at a time and only as far as the records
 * wanted (`src/record/inflater.ts`). Memory is the child process's peak RSS (VmHWM) around
 * the one call, after a warm-up read of the same codec.
 */

const RECORDS = 150_000;
const VALUE_BYTES = 400;
/** The records section inflates to about 62 MiB; the cap is raised above it, so the batch is legal. */
const CAP = 256 * 1024 * 1024;
/** Peak RSS growth allowed for a one-record read: a few pieces of at most 1 MiB, and slack. */
const PREFIX_LIMIT_KB = 12 * 1024;
const CODEC_IDS: Record<string, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** The records section of RECORDS records (offset deltas 0, 1, ...), each value VALUE_BYTES long, encoded here by hand. */
function section(): Buffer {
  const parts: Buffer[] = [];
  const filler = 'the quick brown fox jumps over the lazy dog '.repeat(12);
  for (let i = 0; i < RECORDS; i++) {
    const value = Buffer.from(`value ${i} ${filler}`.slice(0, VALUE_BYTES));
    const body = Buffer.concat([Buffer.from([0]), referenceVarlong(0n), referenceVarlong(BigInt(i)), referenceVarlong(-1n), referenceVarlong(BigInt(value.length)), value, referenceVarlong(0n)]);
    parts.push(referenceVarlong(BigInt(body.length)), body);
  }
  return Buffer.concat(parts);
}

/** A log whose offset 0 is a small batch of `codec` (the warm-up) and offsets 1.. one huge batch of it. */
function hugeBatchLog(codec: CompressionType, records: Buffer): string {
  const dir = partitionDir();
  const log = Log.open(dir);
  log.append({ value: 'warm-up' }, { compression: codec });
  log.close();
  fs.appendFileSync(logFiles(dir)[0]!, rawBatch(compress(codec, records), { baseOffset: 1, attributes: CODEC_IDS[codec]!, recordCount: RECORDS }));
  return dir;
}

function measure(dir: string, call: string): { growthKb: number; offsets: number[]; value: string } {
  const r = runChild(
    `const log = seglog.Log.open(process.argv[1], { readOnly: true, maxDecompressedBytes: ${CAP} });
     log.read(0, { maxRecords: 1 });
     const before = peakRssKb();
     const out = ${call};
     const growthKb = peakRssKb() - before;
     console.log(JSON.stringify({ growthKb, offsets: out.slice(0, 3).map((r) => r.offset), value: out[0].value.toString().slice(0, 12) }));`,
    120_000,
    [dir],
  );
  expect(r.timedOut).toBe(false);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { growthKb: number; offsets: number[]; value: string };
}

const codecs = (['gzip', 'lz4', 'snappy', 'zstd'] as const).filter((c) => isCompressionSupported(c));

describe.each(codecs)('read(1, { maxRecords: 1 }) of a %s batch that inflates to 62 MiB', (codec) => {
  let dir = '';
  beforeAll(() => {
    dir = hugeBatchLog(codec, section());
  });

  it('returns the first record at a memory cost of a few pieces, not of the batch', () => {
    const one = measure(dir, 'log.read(1, { maxRecords: 1 })');
    expect(one.offsets).toEqual([1]);
    expect(one.value).toBe('value 0 the ');
    expect(one.growthKb).toBeLessThan(PREFIX_LIMIT_KB);
    // A read of a few records in the middle inflates the batch up to them (a window at a time, but
    // the pieces passed are garbage the collector frees later), and finds the right ones.
    const middle = measure(dir, `log.read(${RECORDS / 2}, { maxRecords: 3 })`);
    expect(middle.offsets).toEqual([RECORDS / 2, RECORDS / 2 + 1, RECORDS / 2 + 2]);
    expect(middle.value).toBe(`value ${RECORDS / 2 - 1} `.slice(0, 12));
    // The measurement sees memory: a read of every record holds the whole section (62 MiB).
    const all = measure(dir, 'log.read(1)');
    expect(all.offsets).toEqual([1, 2, 3]);
    expect(all.growthKb).toBeGreaterThan(3 * PREFIX_LIMIT_KB);
  });
});
