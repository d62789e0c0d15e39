import fs from 'node:fs';

/**
 * Test-only readers of segment files that share no code with src/, so a test can check what
 * seglog wrote against an independent reading of the bytes.
 */

export interface RawBatch {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

export function rawBatches(logPath: string): RawBatch[] {
  const buf = fs.readFileSync(logPath);
  const out: RawBatch[] = [];
  let p = 0;
  while (p + 61 <= buf.length) {
    const size = 12 + buf.readInt32BE(p + 8);
    if (p + size > buf.length) break;
    const baseOffset = Number(buf.readBigInt64BE(p));
    out.push({
      position: p,
      size,
      baseOffset,
      lastOffset: baseOffset + buf.readInt32BE(p + 23),
      maxTimestamp: Number(buf.readBigInt64BE(p + 35)),
    });
    p += size;
  }
  return out;
}

/** Offset-index entries (absolute offset, position), stopping at a zero-filled tail. */
export function rawOffsetIndex(indexPath: string, baseOffset: number): { offset: number; position: number }[] {
  const buf = fs.readFileSync(indexPath);
  const out: { offset: number; position: number }[] = [];
  for (let i = 0; i + 8 <= buf.length; i += 8) {
    const rel = buf.readInt32BE(i);
    // A batch at position 0 is never indexed (the first append of a segment gets no entry), so
    // an all-zero slot is the unused, preallocated tail.
    if (rel === 0 && buf.readInt32BE(i + 4) === 0) break;
    out.push({ offset: baseOffset + rel, position: buf.readInt32BE(i + 4) });
  }
  return out;
}

/** Time-index entries (timestamp, absolute offset), stopping at a zero-filled tail. */
export function rawTimeIndex(indexPath: string, baseOffset: number): { timestamp: number; offset: number }[] {
  const buf = fs.readFileSync(indexPath);
  const out: { timestamp: number; offset: number }[] = [];
  for (let i = 0; i + 12 <= buf.length; i += 12) {
    const ts = Number(buf.readBigInt64BE(i));
    const rel = buf.readInt32BE(i + 8);
    if (i > 0 && ts <= out[out.length - 1]!.timestamp) break;
    // An all-zero first slot is either unused or (timestamp 0, base offset); both say nothing.
    if (i === 0 && ts === 0 && rel === 0) break;
    out.push({ timestamp: ts, offset: baseOffset + rel });
  }
  return out;
}
