import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  addonHardware,
  crc32c,
  crc32cJs,
  crc32cNative,
  NATIVE_CRC32C_MIN_BYTES,
  nativeCrc32cImpl,
  nativeCrc32cImpls,
} from '../../src/record/crc32c.js';
import { crcPathAsked, nativeDisabled } from '../../src/files/native.js';
import { ensureDist } from '../support/dist.js';
import { kafkajs } from './helpers.js';

/** The CRC paths this CPU has by /proc/cpuinfo, preferred first (what the addon must offer). */
function cpuPaths(): string[] {
  const cpu = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const flags = new Set((/^(?:flags|Features)\s*:(.*)$/m.exec(cpu)?.[1] ?? '').trim().split(/\s+/));
  const x64 = (...needed: string[]): boolean => process.arch === 'x64' && needed.every((f) => flags.has(f));
  const paths: string[] = [];
  if (x64('avx512f', 'avx512vl', 'avx512bw', 'vpclmulqdq', 'pclmulqdq', 'sse4_2')) paths.push('avx512');
  if (x64('avx2', 'vpclmulqdq', 'pclmulqdq', 'sse4_2')) paths.push('avx2');
  if (x64('sse4_2')) paths.push('sse42');
  if (process.arch === 'arm64' && flags.has('crc32')) paths.push('armv8');
  return paths;
}

/** `nativeCrc32cImpl()`'s name (or 'null'), `addonHardware()` and stderr of a child run with `SEGLOG_CRC32C=choice`. */
function childWithPath(choice: string): { impl: string; hardware: string; status: number | null; stderr: string } {
  const dist = path.dirname(ensureDist());
  const script = `
    const { nativeCrc32cImpl, addonHardware, crc32c } = await import(${JSON.stringify(`${dist}/record/crc32c.js`)});
    const input = Buffer.alloc(4096, 7);
    if (crc32c(input) !== 0x${crc32cJs(Buffer.alloc(4096, 7)).toString(16)}) throw new Error('wrong CRC');
    console.log(JSON.stringify({ impl: nativeCrc32cImpl()?.name ?? 'null', hardware: addonHardware() ?? 'null' }));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, SEGLOG_CRC32C: choice },
    encoding: 'utf8',
  });
  const parsed = out.status === 0 ? (JSON.parse(out.stdout) as { impl: string; hardware: string }) : { impl: '', hardware: '' };
  return { ...parsed, status: out.status, stderr: out.stderr };
}

describe('crc32c', () => {
  it('gives the CRC-32C check value 0xE3069283 for "123456789" with every implementation', () => {
    const input = Buffer.from('123456789');
    expect(crc32c(input, 0, input.length)).toBe(0xe3069283);
    expect(crc32cJs(input, 0, input.length)).toBe(0xe3069283);
    expect(crc32cNative(input, 0, input.length)).toBe(0xe3069283);
    expect(kafkajs.crc32C(input)).toBe(0xe3069283);
  });

  it('takes the fastest CRC path the CPU has from the prebuilt addon (or the one SEGLOG_CRC32C asks for), or none when natives are disabled', () => {
    // The project's CI and development machines build prebuilds/ (npm run build:native): a
    // missing addon there means the package would ship without it. SEGLOG_NO_NATIVE=1 turns it off.
    if (nativeDisabled()) {
      expect(addonHardware()).toBeNull();
      expect(nativeCrc32cImpl()).toBeNull();
      expect(crc32cNative(Buffer.from('123456789'))).toBe(0xe3069283);
      return;
    }
    // The suite may run with SEGLOG_CRC32C set (to test a smaller CPU's path): then that path.
    const asked = crcPathAsked();
    const expected = asked === 'js' ? 'none' : (asked ?? cpuPaths()[0] ?? 'none');
    expect(addonHardware()).toBe(expected);
    expect(nativeCrc32cImpl()?.name ?? 'none').toBe(expected === 'none' ? 'none' : `seglog-${expected}`);
  });

  it('agrees between implementations on large inputs at every alignment', () => {
    // The native code takes different paths for long inputs (three-stream steps of 3 x 8 KiB) and unaligned starts.
    const big = randomBytes((1 << 20) + 200);
    for (const impl of nativeCrc32cImpls()) {
      for (let start = 0; start < 16; start++) {
        for (const length of [4096 + 7, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 773, 65536 + 13, (1 << 20) + 3]) {
          const end = Math.min(big.length, start + length);
          expect(impl.crc32c(big, start, end), `${impl.name} ${start}+${length}`).toBe(crc32cJs(big, start, end));
        }
      }
    }
  });

  it('agrees with JS at every length up to 2100 bytes and every start up to 64 (each folding step and tail)', () => {
    // AVX-512 folds 512 (from 1 KiB), 256, 64, then 16 bytes at a time and ends with 8- and 1-byte
    // steps; AVX2 (from 1 KiB) folds 256, then 16 bytes at a time; the three-stream paths take
    // 768-byte steps (three 256-byte blocks), then 8 and 1 bytes.
    const buf = randomBytes(2200);
    for (const impl of nativeCrc32cImpls()) {
      for (let start = 0; start < 64; start += 7) {
        for (let length = 0; length <= 2100; length++) {
          const got = impl.crc32c(buf, start, start + length);
          if (got !== crc32cJs(buf, start, start + length)) expect(got, `${impl.name} ${start}+${length}`).toBe(crc32cJs(buf, start, start + length));
        }
      }
      expect(impl.crc32c(buf, 5, 5)).toBe(0);
    }
  });

  it('makes the addon refuse a range outside its buffer instead of reading past it', () => {
    const addon = nativeCrc32cImpl();
    if (addon === null) {
      expect(addonHardware() ?? 'none').toBe('none');
      return;
    }
    const buf = Buffer.alloc(300);
    expect(() => addon.crc32c(buf, 0, 301)).toThrow(RangeError);
    expect(() => addon.crc32c(buf, 10, 5)).toThrow(RangeError);
    expect(() => addon.crc32c(buf, -1, 5)).toThrow(RangeError);
    expect(() => addon.crc32c('abc' as unknown as Uint8Array, 0, 1)).toThrow(TypeError);
    expect(() => addon.crc32c(buf, '0' as unknown as number, 1)).toThrow(TypeError);
    expect(() => addon.crc32c(buf, 0, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => addon.crc32c(buf, Number.NaN, 5)).toThrow(RangeError);
    expect(() => addon.crc32c(buf, 0.5, 5)).toThrow(RangeError);
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
        for (const impl of nativeCrc32cImpls()) expect(impl.crc32c(big, start, end)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('offers every path the CPU has, each giving the JS CRC on random inputs at random places', () => {
    expect(nativeCrc32cImpls().map((impl) => impl.name)).toEqual(nativeDisabled() ? [] : cpuPaths().map((p) => `seglog-${p}`));
    const big = randomBytes(256 * 1024);
    fc.assert(
      fc.property(fc.nat(big.length), fc.integer({ min: 0, max: 70_000 }), (start, length) => {
        const end = Math.min(big.length, start + length);
        const expected = crc32cJs(big, start, end);
        for (const impl of nativeCrc32cImpls()) expect(impl.crc32c(big, start, end), `${impl.name} ${start}..${end}`).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('takes the path SEGLOG_CRC32C names for the whole process, and refuses one the CPU lacks or an unknown name', () => {
    if (nativeDisabled()) return;
    const paths = cpuPaths();
    for (const p of paths) expect(childWithPath(p), p).toMatchObject({ impl: `seglog-${p}`, hardware: p, status: 0 });
    expect(childWithPath('js')).toMatchObject({ impl: 'null', hardware: 'none', status: 0 });
    for (const lacking of ['avx512', 'avx2', 'sse42', 'armv8'].filter((p) => !paths.includes(p))) {
      const out = childWithPath(lacking);
      expect(out.status, lacking).not.toBe(0);
      expect(out.stderr).toContain(`SEGLOG_CRC32C=${lacking}: this CPU`);
    }
    const unknown = childWithPath('sse4.2');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('SEGLOG_INVALID_CONFIG');
  });
});
