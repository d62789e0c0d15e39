// Prints the folding constants of native/crc32c.c: for each folding distance D (bits), the pair
// { x^(D+63) mod P, x^(D-1) mod P } with P the CRC-32C polynomial 0x1EDC6F41, each bit-reflected
// into the upper half of a 64-bit word (coefficient of x^i at bit 63 - i), which is the form a
// carry-less multiply of two reflected 64-bit operands needs (the product comes out times x).
// Run: node native/constants.mjs
const P = (1n << 32n) | 0x1edc6f41n;

function mulMod(a, b) {
  let result = 0n;
  while (b > 0n) {
    if (b & 1n) result ^= a;
    b >>= 1n;
    a <<= 1n;
    if (a & (1n << 32n)) a ^= P;
  }
  return result;
}

function xPowMod(e) {
  let result = 1n;
  let base = 2n; // x
  for (let n = BigInt(e); n > 0n; n >>= 1n) {
    if (n & 1n) result = mulMod(result, base);
    base = mulMod(base, base);
  }
  return result;
}

function reflect64(g) {
  let v = 0n;
  for (let i = 0n; i < 32n; i++) if ((g >> i) & 1n) v |= 1n << (63n - i);
  return v;
}

const hex = (v) => `0x${v.toString(16).padStart(16, '0')}ULL`;
for (const d of [4096, 2048, 512, 128]) {
  console.log(`#define K${d}_LO ${hex(reflect64(xPowMod(d + 63)))}`);
  console.log(`#define K${d}_HI ${hex(reflect64(xPowMod(d - 1)))}`);
}
