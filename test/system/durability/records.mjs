/**
 * The crash test's log content, a pure function of the offset, shared by the writer child
 * (crash-writer.mjs) and the checking parent (crash.test.ts): batch `b` starts at offset `o` and
 * holds `batchSizeAt(o)` records, and the record at offset `o` is `recordAt(o)`. So after any
 * crash the parent knows exactly what every present record and batch must be.
 */
import { createHash } from 'node:crypto';

export const BASE_TIMESTAMP = 1_600_000_000_000;

/** A 32-bit integer hash (good enough to look random, cheap, deterministic). */
export function mix(x) {
  x = Math.imul((x ^ (x >>> 16)) >>> 0, 0x45d9f3b);
  x = Math.imul((x ^ (x >>> 16)) >>> 0, 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Records in the batch whose base offset is `baseOffset`: 1 to 16. */
export function batchSizeAt(baseOffset) {
  return 1 + (mix(baseOffset * 2 + 1) % 16);
}

/** The record at `offset`: mostly small values, one in 61 a 20-60 KB one (those tear on SIGKILL). */
export function recordAt(offset) {
  const h = mix(offset + 0x2545f491);
  const length = h % 61 === 0 ? 20_000 + (h % 40_000) : h % 600;
  const value = Buffer.allocUnsafe(length);
  let state = (h | 1) >>> 0;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    value[i] = state & 0xff;
  }
  return {
    key: h % 5 === 0 ? null : Buffer.from(`key-${offset}`),
    value,
    timestamp: BASE_TIMESTAMP + offset * 10 + (h % 7),
    headers: h % 3 === 0 ? [{ key: 'offset', value: Buffer.from(String(offset)) }] : [],
  };
}

/** The records of the batch starting at `baseOffset`. */
export function batchAt(baseOffset) {
  const records = [];
  for (let i = 0; i < batchSizeAt(baseOffset); i++) records.push(recordAt(baseOffset + i));
  return records;
}

/** SHA-1 over offset, timestamp, key and value of each record, in order. */
export function checksum(records) {
  const hash = createHash('sha1');
  for (const r of records) {
    hash.update(`${r.offset}:${r.timestamp}:${r.key === null ? '-' : r.key.toString('hex')}:`);
    hash.update(r.value ?? Buffer.alloc(0));
    hash.update(';');
  }
  return hash.digest('hex');
}
