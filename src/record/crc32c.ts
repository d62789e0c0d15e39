/**
 * CRC-32C (Castagnoli), the checksum of Kafka v2 record batches: reflected polynomial 0x82F63B78,
 * initial value and final xor 0xFFFFFFFF; the check value of ASCII "123456789" is 0xE3069283.
 *
 * Three implementations; the first one available is the native one, used from its own size up:
 *
 * - seglog's addon (`native/crc32c.c`, built by node-gyp at install): AVX-512 carry-less folding,
 *   ~63 GB/s here and ~40 ns per call, so it wins over JS from 64 bytes. Only on x86-64 CPUs with
 *   AVX-512 and VPCLMULQDQ; the build is allowed to fail (no compiler), and then it is absent.
 * - `aws-crt` (optional dependency; AWS's aws-checksums): CRC32 instructions on three streams,
 *   ~30 GB/s here, ~110 ns per call: used from 192 bytes. Its prebuilt binaries lack an AVX-512 path.
 * - `crc-32/crc32c` in JS (slicing tables): ~2 GB/s but nothing to call; small inputs and the
 *   fallback when neither native one loads. Slower, never different.
 *
 * A batch's CRC is the largest cost of encoding it after the copy of its records: for 100 KiB,
 * 1.6-1.9 us with the addon, 3.4 us with aws-crt, 43-64 us in JS (`bench/crc32c.ts`). The native
 * code is loaded on the first input of 64 bytes or more (aws-crt's binary takes ~40 ms to load,
 * which a process that only ever checks tiny inputs should not pay).
 */
import { createRequire } from 'node:module';
import CRC32C from 'crc-32/crc32c.js';

/** A native CRC-32C of `buf[start, end)` (unsigned), and the smallest input it is used for. */
export interface NativeCrc32c {
  readonly name: 'seglog-avx512' | 'aws-crt';
  readonly minBytes: number;
  crc32c(buf: Uint8Array, start: number, end: number): number;
}

/**
 * Smallest input for which any native CRC is tried. Measured on the development machine (AMD
 * EPYC, 2 cores, Node 20.20, `bench/crc32c.ts`); see the bench for the table.
 */
export const NATIVE_CRC32C_MIN_BYTES = 64;
/** aws-crt's call costs ~110 ns, which JS beats below this size. */
const AWS_CRT_MIN_BYTES = 192;
const CHECK_INPUT = Buffer.from('123456789');
const CHECK_VALUE = 0xe3069283;

/** undefined: not tried yet; null: neither native implementation loads on this machine. */
let native: NativeCrc32c | null | undefined;

/** The native implementation, loading it on first use; null when none is available. */
export function nativeCrc32cImpl(): NativeCrc32c | null {
  if (native === undefined) native = loadAddon() ?? loadAwsCrt();
  return native;
}

/** Every native implementation that loads here, preferred first (for tests and benches). */
export function nativeCrc32cImpls(): NativeCrc32c[] {
  return [loadAddon(), loadAwsCrt()].filter((impl): impl is NativeCrc32c => impl !== null);
}

/** The addon's own report, or null when it was not built: 'avx512' where it can run. */
export function addonHardware(): string | null {
  const addon = requireAddon();
  return addon === null ? null : addon.hardware;
}

interface Addon {
  hardware: string;
  crc32c(buf: Uint8Array, start: number, end: number): number;
}

function requireAddon(): Addon | null {
  // The package root is two levels up from src/record (tests) and dist/record (the package),
  // three from dist-all/src/record (benches); never look outside the package.
  const root = import.meta.url.includes('/dist-all/') ? '../../../' : '../../';
  try {
    return createRequire(import.meta.url)(`${root}build/Release/seglog_native.node`) as Addon;
  } catch {
    return null; // not built here (no compiler at install)
  }
}

function loadAddon(): NativeCrc32c | null {
  const addon = requireAddon();
  if (addon === null || addon.hardware !== 'avx512' || typeof addon.crc32c !== 'function') return null;
  try {
    if (addon.crc32c(CHECK_INPUT, 0, CHECK_INPUT.length) !== CHECK_VALUE) return null;
  } catch {
    return null;
  }
  return { name: 'seglog-avx512', minBytes: NATIVE_CRC32C_MIN_BYTES, crc32c: addon.crc32c };
}

function loadAwsCrt(): NativeCrc32c | null {
  try {
    // Only the checksums module: the package's index would load its HTTP and MQTT clients too.
    const mod = createRequire(import.meta.url)('aws-crt/dist/native/checksums.js') as { crc32c(input: Uint8Array): number };
    if (mod.crc32c(CHECK_INPUT) >>> 0 !== CHECK_VALUE) return null;
    const crc = mod.crc32c;
    return { name: 'aws-crt', minBytes: AWS_CRT_MIN_BYTES, crc32c: (buf, start, end) => crc(buf.subarray(start, end)) >>> 0 };
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
