/**
 * Kafka's `Utils.murmur2` (clients/src/main/java/org/apache/kafka/common/utils/Utils.java): the
 * 32-bit MurmurHash2 that the Java producer's default partitioner applies to the serialized key.
 * Partition numbers only match Kafka's if every bit matches, so this follows the Java code step
 * by step in Java `int` arithmetic:
 *
 * - `Math.imul` is Java's wrapping `int * int`; `|`, `^` and `<<` already give int32 in JS.
 * - `>>>` in JS reads its left side as uint32, which has the same bits as Java's `>>>` on an int.
 * - The key is read in 4-byte little-endian words; the 1-3 trailing bytes are mixed in by the
 *   tail step, then two final avalanche rounds.
 */

const SEED = 0x9747b28c;
// 'm' and 'r' are the mixing constants of MurmurHash2.
const M = 0x5bd1e995;
const R = 24;

/**
 * The signed 32-bit MurmurHash2 of `data[0, length)`, bit for bit what Kafka's Java
 * `Utils.murmur2` returns for the same bytes. `length` lets callers hash the front of a reused
 * scratch buffer; it defaults to the whole array.
 */
export function murmur2(data: Uint8Array, length: number = data.length): number {
  let h = (SEED ^ length) | 0;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const at = i << 2;
    h = mixWord(h, data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24));
  }
  h = mixTail(h, data, length);
  return avalanche(h);
}

/**
 * `murmur2` of the UTF-8 bytes of `key` when `key` is all ASCII (its bytes are then its char
 * codes, so nothing needs encoding: most keys hash with no native call and no copy); NaN as soon
 * as a character is not ASCII, for the caller to encode the string and use `murmur2`.
 */
export function murmur2Ascii(key: string): number {
  const length = key.length;
  let h = (SEED ^ length) | 0;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const at = i << 2;
    const c0 = key.charCodeAt(at);
    const c1 = key.charCodeAt(at + 1);
    const c2 = key.charCodeAt(at + 2);
    const c3 = key.charCodeAt(at + 3);
    if ((c0 | c1 | c2 | c3) > 0x7f) return NaN;
    h = mixWord(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
  }
  const base = length & ~3;
  for (let i = base; i < length; i++) if (key.charCodeAt(i) > 0x7f) return NaN;
  const tail = length & 3;
  if (tail !== 0) {
    if (tail === 3) h ^= key.charCodeAt(base + 2) << 16;
    if (tail >= 2) h ^= key.charCodeAt(base + 1) << 8;
    h ^= key.charCodeAt(base);
    h = Math.imul(h, M);
  }
  return avalanche(h);
}

/** Mixes one little-endian 4-byte word `k` into `h`. */
function mixWord(h: number, k: number): number {
  k = Math.imul(k, M);
  k ^= k >>> R;
  k = Math.imul(k, M);
  return Math.imul(h, M) ^ k;
}

/** The final mix of every murmur2 hash. */
function avalanche(h: number): number {
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's `switch (length % 4)` with fall-through, written without fall-through. */
function mixTail(h: number, data: Uint8Array, length: number): number {
  const tail = length & 3;
  if (tail === 0) return h;
  const base = length & ~3;
  if (tail === 3) h ^= data[base + 2]! << 16;
  if (tail >= 2) h ^= data[base + 1]! << 8;
  h ^= data[base]!;
  return Math.imul(h, M);
}

/**
 * Kafka's `Utils.toPositive`: clears the sign bit. Not `Math.abs`, which would send
 * -2147483648 to a non-int and map `n` and `-n` to the same partition.
 */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}
