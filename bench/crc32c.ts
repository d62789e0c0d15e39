/**
 * Races the pure-JS and native CRC-32C by input size, to place `NATIVE_CRC32C_MIN_BYTES`
 * (src/record/crc32c.ts). Run: `npx tsc -p tsconfig.json && node dist-all/bench/crc32c.js`.
 */
import { crc32cJs, crc32cNative, NATIVE_CRC32C_MIN_BYTES } from '../src/record/crc32c.js';

const SIZES = [16, 64, 96, 128, 160, 192, 256, 320, 384, 512, 1024, 4096, 65536, 1 << 20];
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

console.log(`threshold in use: ${NATIVE_CRC32C_MIN_BYTES} B`);
console.log('bytes      js ns   native ns   faster');
for (const size of SIZES) {
  const js = nsPerCall(crc32cJs, size);
  const native = nsPerCall(crc32cNative, size);
  const faster = js <= native ? 'js' : 'native';
  console.log(`${String(size).padStart(7)} ${js.toFixed(0).padStart(9)} ${native.toFixed(0).padStart(11)}   ${faster}`);
}
