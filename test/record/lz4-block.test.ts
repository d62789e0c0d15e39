/**
 * The TypeScript LZ4 block compressor: output decoded by two independent decoders (lz4js, and
 * lz4_flex through our frame reader), and every block checked against the LZ4 block format's
 * end-of-block rules, which strict decoders such as lz4-java enforce.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { compress, decompress } from '../../src/record/compression.js';
import { lz4BlockBound, lz4CompressBlock } from '../../src/record/lz4-block.js';
import { lz4js } from './helpers.js';

/** Throws unless `condition` holds (plain checks: `expect` per sequence is too slow here). */
function rule(condition: boolean, message: string): void {
  if (!condition) throw new Error(`LZ4 block rule broken: ${message}`);
}

/** Checks one raw block against the format rules and its decoded length. */
function checkBlock(block: Uint8Array, decodedLength: number): void {
  let pos = 0;
  let out = 0;
  for (;;) {
    const token = block[pos++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do literals += b = block[pos++]!;
      while (b === 255);
    }
    pos += literals;
    out += literals;
    if (pos === block.length) {
      // Last sequence: literals only, and the block's last 5 bytes (or all of a shorter one) are literals.
      rule(literals >= Math.min(5, decodedLength), 'the last 5 bytes are literals');
      break;
    }
    const offset = block[pos]! | (block[pos + 1]! << 8);
    pos += 2;
    let length = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do length += b = block[pos++]!;
      while (b === 255);
    }
    rule(offset > 0 && offset <= out, `offset ${offset} at output ${out}`);
    rule(out <= decodedLength - 12, 'the last match starts at least 12 bytes before the end');
    out += length;
    rule(out <= decodedLength - 5, 'a match ends at least 5 bytes before the end');
  }
  rule(out === decodedLength, `decoded length ${out}, expected ${decodedLength}`);
}

/** The blocks of a Kafka-style frame produced by `compress('lz4', ...)`. */
function checkFrame(frame: Buffer, input: Buffer): void {
  let pos = 7;
  let consumed = 0;
  for (;;) {
    const field = frame.readUInt32LE(pos);
    pos += 4;
    if (field === 0) break;
    const size = field & 0x7fffffff;
    const blockLength = Math.min(65536, input.length - consumed);
    if (field === size) checkBlock(frame.subarray(pos, pos + size), blockLength);
    pos += size;
    consumed += blockLength;
  }
  expect(consumed).toBe(input.length);
}

/** Deterministic data of a given length from a small alphabet with runs, so that it has matches. */
function patterned(length: number, alphabet: number, seed: number, runs: boolean): Buffer {
  const out = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const byte = (x >>> 0) % alphabet;
    const run = runs ? 1 + ((x >>> 8) & 31) : 1;
    for (let k = 0; k < run && i < length; k++) out[i++] = byte;
  }
  return out;
}

const inputs = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
  fc
    .record({ length: fc.integer({ min: 0, max: 150_000 }), alphabet: fc.integer({ min: 1, max: 256 }), seed: fc.integer(), runs: fc.boolean() })
    .map(({ length, alphabet, seed, runs }) => patterned(length, alphabet, seed, runs)),
);

describe('lz4 block compressor', () => {
  it('is checked by a rule checker that catches a match running to the block end', () => {
    // 'a' then a match of 11 at offset 1: decodes to 12 'a's (lz4js accepts it), but breaks both rules.
    const bad = Uint8Array.from([0x17, 0x61, 0x01, 0x00]);
    expect(() => checkBlock(bad, 12)).toThrow(/rule broken/);
    expect(() => checkBlock(Uint8Array.from([0x50, 0x61, 0x61, 0x61, 0x61, 0x61]), 5)).not.toThrow();
  });

  it('round-trips through lz4js and lz4_flex and keeps the end-of-block rules', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const frame = compress('lz4', input);
        checkFrame(frame, input);
        expect(Buffer.from(lz4js.decompress(frame)).equals(input)).toBe(true);
        expect(decompress('lz4', frame).equals(input)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('compresses at every length from 0 to 80 bytes, at block edges, and long runs', () => {
    const cases: Buffer[] = [];
    for (let n = 0; n <= 80; n++) cases.push(Buffer.alloc(n, 0x61), patterned(n, 3, n + 1, false));
    for (const n of [65535, 65536, 65537, 131072, 131073]) cases.push(Buffer.alloc(n, 0x62), patterned(n, 4, n, true));
    for (const input of cases) {
      const frame = compress('lz4', input);
      checkFrame(frame, input);
      expect(Buffer.from(lz4js.decompress(frame)).equals(input)).toBe(true);
    }
  });

  it('stays within lz4BlockBound on incompressible input and writes nothing past it', () => {
    const input = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 2654435761) >>> 24));
    const bound = lz4BlockBound(input.length);
    const dst = Buffer.alloc(bound + 8, 0xee);
    const end = lz4CompressBlock(input, 0, input.length, dst, 4);
    expect(end).toBeLessThanOrEqual(4 + bound);
    expect(dst.subarray(end).every((b) => b === 0xee)).toBe(true);
    checkBlock(dst.subarray(4, end), input.length);
  });

  it('compresses a range of a larger buffer without reading outside it', () => {
    const buf = Buffer.concat([Buffer.alloc(100, 0x61), patterned(3000, 5, 9, true), Buffer.alloc(100, 0x61)]);
    const dst = Buffer.alloc(lz4BlockBound(3000));
    const end = lz4CompressBlock(buf, 100, 3100, dst, 0);
    checkBlock(dst.subarray(0, end), 3000);
  });
});
