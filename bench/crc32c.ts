/**
 * Races the CRC-32C implementations by input size, to place their thresholds
 * (src/record/crc32c.ts): JS, and the addon's path on this CPU (AVX-512, SSE4.2 or ARMv8).
 * Run: `npx tsc -p tsconfig.json && node dist-all/bench/crc32c.js`.
 */
import { machineLine } from './common.js';
import { crc32cJs, NATIVE_CRC32C_MIN_BYTES, nativeCrc32cImpl, nativeCrc32cImpls } from '../src/record/crc32c.js';

const SIZES = [16, 64, 96, 128, 160, 192, 256, 320, 384, 512, 1024, 4096, 16384, 65536, 103461, 1 << 20];
const data = Buffer.alloc((1 << 20) + 64);
for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;

function nsPerCall(fn: (buf: Uint8Array, start: number, end: number) => number, size: number): number {
  const iterations = Math.max(200, Math.floor(2e7 / (size + 64)));
  let sink = 0;
  for (let i = 0; i < iterations; i++) sink ^= fn(data, i & 7, (i & 7) + size);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink ^= fn(data, i & 7, (i & 7) + size);
  const elapsed = Number(process.hrtime.bigint() - start) / iterations;
  if (sink === 0.5) console.log(sink);
  return elapsed;
}

const impls = [{ name: 'js', minBytes: 0, crc32c: crc32cJs }, ...nativeCrc32cImpls()];
const chosen = nativeCrc32cImpl();
console.log(machineLine());
console.log(`in use: ${chosen === null ? 'js only' : `${chosen.name} from ${chosen.minBytes} B (any native from ${NATIVE_CRC32C_MIN_BYTES} B), js below`}`);
console.log(`${'bytes'.padStart(7)} ${impls.map((impl) => `${impl.name} ns`.padStart(18)).join('')}   fastest`);
for (const size of SIZES) {
  const times = impls.map((impl) => nsPerCall(impl.crc32c, size));
  const fastest = impls[times.indexOf(Math.min(...times))]!.name;
  console.log(`${String(size).padStart(7)} ${times.map((t) => t.toFixed(0).padStart(18)).join('')}   ${fastest}`);
}
