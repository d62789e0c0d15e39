import { randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { crc32c, crc32cJs, crc32cNative, NATIVE_CRC32C_MIN_BYTES, nativeCrc32cImpl } from '../../src/record/crc32c.js';
import { kafkajs } from './helpers.js';

describe('crc32c', () => {
  it('gives the CRC-32C check value 0xE3069283 for "123456789" with every implementation', () => {
    const input = Buffer.from('123456789');
    expect(crc32c(input, 0, input.length)).toBe(0xe3069283);
    expect(crc32cJs(input, 0, input.length)).toBe(0xe3069283);
    expect(crc32cNative(input, 0, input.length)).toBe(0xe3069283);
    expect(kafkajs.crc32C(input)).toBe(0xe3069283);
  });

  it('has the native implementation (optional dependency aws-crt) available on this platform', () => {
    expect(nativeCrc32cImpl()).not.toBeNull();
  });

  it('agrees between implementations on large inputs at every alignment', () => {
    // The native code takes different paths for long inputs and unaligned starts.
    const big = randomBytes((1 << 20) + 200);
    for (let start = 0; start < 16; start++) {
      for (const length of [4096 + 7, 65536 + 13, (1 << 20) + 3]) {
        const end = Math.min(big.length, start + length);
        expect(crc32cNative(big, start, end)).toBe(crc32cJs(big, start, end));
      }
    }
  });

  it('returns unsigned values and covers only [start, end)', () => {
    const buf = Buffer.from('xx123456789yy');
    expect(crc32c(buf, 2, 11)).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('agrees between implementations and with kafkajs at every size around the threshold', () => {
    const big = randomBytes(3 * NATIVE_CRC32C_MIN_BYTES + 64);
    fc.assert(
      fc.property(fc.nat(big.length), fc.nat(big.length), (a, b) => {
        const start = Math.min(a, b);
        const end = Math.max(a, b);
        const expected = kafkajs.crc32C(big.subarray(start, end));
        expect(crc32c(big, start, end)).toBe(expected);
        expect(crc32cJs(big, start, end)).toBe(expected);
        expect(crc32cNative(big, start, end)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
