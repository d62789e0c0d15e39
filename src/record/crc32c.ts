/**
 * CRC-32C (Castagnoli), the checksum of Kafka v2 record batches: reflected polynomial 0x82F63B78,
 * initial value and final xor 0xFFFFFFFF; the check value of ASCII "123456789" is 0xE3069283.
 *
 * Two implementations; the native one is used from its own size up where it loads:
 *
 * - seglog's addon (`native/crc32c.c`, loaded by `files/native.ts`), by CPU: AVX-512 carry-less
 *   folding, else the same folding on 256-bit registers (AVX2 with VPCLMULQDQ; the three streams
 *   below 1 KiB), else the SSE4.2 CRC32 instruction on three streams,
 *   else the ARMv8 CRC32CX instruction on three streams. Absent when the addon is (an unusual
 *   platform, `SEGLOG_NO_NATIVE=1`) or the CPU has none of them. `SEGLOG_CRC32C` picks another
 *   path the CPU has, or `js` (files/native.ts), to measure a smaller CPU's path on a larger one.
 * - `crc-32/crc32c` in JS (slicing tables): no call overhead, so it serves small inputs, and it is
 *   the fallback. Slower on large inputs, never different.
 *
 * A batch's CRC is the largest cost of encoding it after the copy of its records, which is why
 * the native paths exist (`bench/crc32c.ts` races every path that loads on this machine).
 * The addon is loaded on the first input of 64 bytes or more.
 */
import CRC32C from 'crc-32/crc32c.js';
import { nativeAddon, type CrcHardware } from '../files/native.js';

/** A native CRC-32C of `buf[start, end)` (unsigned), and the smallest input it is used for. */
export interface NativeCrc32c {
  readonly name: `seglog-${Exclude<CrcHardware, 'none'>}`;
  readonly minBytes: number;
  crc32c(buf: Uint8Array, start: number, end: number): number;
}

/**
 * Smallest input for which the native CRC is used: below it a call into the addon (~40 ns)
 * costs more than JS's tables. Measured on the development machine (AMD EPYC, 2 cores,
 * `bench/crc32c.ts`), for the AVX-512 and the SSE4.2 paths alike.
 */
export const NATIVE_CRC32C_MIN_BYTES = 64;

/** undefined: not tried yet; null: no native implementation on this machine. */
let native: NativeCrc32c | null | undefined;

/** The native implementation, loading it on first use; null when none is available. */
export function nativeCrc32cImpl(): NativeCrc32c | null {
  if (native === undefined) native = loadNative();
  return native;
}

/**
 * Every native path this CPU has, preferred first, whatever `SEGLOG_CRC32C` chose (for tests and
 * benches); empty when the addon is not loaded.
 */
export function nativeCrc32cImpls(): NativeCrc32c[] {
  const paths = nativeAddon()?.crc32cPaths;
  if (paths === undefined) return [];
  return Object.entries(paths).map(([name, fn]) => ({
    name: `seglog-${name as Exclude<CrcHardware, 'none'>}`,
    minBytes: NATIVE_CRC32C_MIN_BYTES,
    crc32c: fn,
  }));
}

/**
 * The addon's CRC path in this process (the fastest this CPU has, unless `SEGLOG_CRC32C` chose
 * another; 'none' when it chose `js`), or null when the addon is not loaded.
 */
export function addonHardware(): CrcHardware | null {
  return nativeAddon()?.crcHardware ?? null;
}

function loadNative(): NativeCrc32c | null {
  const addon = nativeAddon();
  if (addon === null || addon.crcHardware === 'none') return null;
  // files/native.ts has checked the result on the check input before handing the addon out.
  return { name: `seglog-${addon.crcHardware}`, minBytes: NATIVE_CRC32C_MIN_BYTES, crc32c: addon.crc32c };
}

/** CRC-32C of `buf[start, end)` with the pure-JS implementation; unsigned. */
export function crc32cJs(buf: Uint8Array, start = 0, end = buf.length): number {
  return CRC32C.buf(buf.subarray(start, end), 0) >>> 0;
}

/** CRC-32C of `buf[start, end)` with the native implementation (JS fallback if it is missing); unsigned. */
export function crc32cNative(buf: Uint8Array, start = 0, end = buf.length): number {
  const impl = nativeCrc32cImpl();
  if (impl === null) return crc32cJs(buf, start, end);
  return impl.crc32c(buf, start, end);
}

/** CRC-32C of `buf[start, end)`, unsigned, with whichever implementation is faster for the size. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  if (end - start >= NATIVE_CRC32C_MIN_BYTES) {
    const impl = native === undefined ? nativeCrc32cImpl() : native;
    if (impl !== null && end - start >= impl.minBytes) return impl.crc32c(buf, start, end);
  }
  return CRC32C.buf(buf.subarray(start, end), 0) >>> 0;
}
