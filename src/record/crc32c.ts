/**
 * CRC-32C (Castagnoli), the checksum of Kafka v2 record batches: reflected polynomial 0x82F63B78,
 * initial value and final xor 0xFFFFFFFF; the check value of ASCII "123456789" is 0xE3069283.
 *
 * Two implementations, chosen by input size: the pure-JS slicing table of `crc-32/crc32c` costs
 * nothing to call, while the native one in `aws-crt` (AWS's aws-checksums: hardware CRC32
 * instructions on three streams, folded with carry-less multiplies) runs at ~30 GB/s here against
 * JS's ~2 GB/s but pays ~60 ns per call. A batch's CRC is the largest cost of encoding it after the
 * copy, so for a 100 KiB batch this is the difference between 13 us (single-stream SSE4.2) and 3 us.
 *
 * `aws-crt` is an optional dependency and is loaded on the first input that is large enough (its
 * binary takes ~40 ms to load, which a process that never checks a large batch should not pay).
 * Without it every CRC is computed in JS: slower, never different.
 */
import { createRequire } from 'node:module';
import CRC32C from 'crc-32/crc32c.js';

type NativeCrc32c = (input: Uint8Array, previous?: number) => number;

/**
 * Smallest input for which the native CRC is used. Measured on the development machine (AMD EPYC,
 * 2 cores, Node 20.20, `bench/crc32c.ts`); see the bench for the table.
 */
export const NATIVE_CRC32C_MIN_BYTES = 192;

/** undefined: not tried yet; null: not installed or not loadable on this platform. */
let native: NativeCrc32c | null | undefined;

/** The native implementation, loading it on first use; null when `aws-crt` is not available. */
export function nativeCrc32cImpl(): NativeCrc32c | null {
  if (native === undefined) native = loadNative();
  return native;
}

function loadNative(): NativeCrc32c | null {
  try {
    // Only the checksums module: the package's index would load its HTTP and MQTT clients too.
    const mod = createRequire(import.meta.url)('aws-crt/dist/native/checksums.js') as { crc32c: NativeCrc32c };
    const check = Buffer.from('123456789');
    return (mod.crc32c(check) >>> 0) === 0xe3069283 ? mod.crc32c : null;
  } catch {
    return null;
  }
}

/** CRC-32C of `buf[start, end)` with the pure-JS implementation; unsigned. */
export function crc32cJs(buf: Uint8Array, start = 0, end = buf.length): number {
  return CRC32C.buf(buf.subarray(start, end), 0) >>> 0;
}

/** CRC-32C of `buf[start, end)` with the native implementation (JS fallback if it is missing); unsigned. */
export function crc32cNative(buf: Uint8Array, start = 0, end = buf.length): number {
  const impl = nativeCrc32cImpl();
  if (impl === null) return crc32cJs(buf, start, end);
  return impl(buf.subarray(start, end)) >>> 0;
}

/** CRC-32C of `buf[start, end)`, unsigned, with whichever implementation is faster for the size. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  if (end - start >= NATIVE_CRC32C_MIN_BYTES) return crc32cNative(buf, start, end);
  return CRC32C.buf(buf.subarray(start, end), 0) >>> 0;
}
