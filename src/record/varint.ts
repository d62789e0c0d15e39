/**
 * Zigzag varints as Kafka's record format uses them (protobuf encoding): a signed value v is mapped
 * to the unsigned z = (v << 1) ^ (v >> 63) (so 0, -1, 1, -2 ... become 0, 1, 2, 3 ...), then written
 * little-endian in groups of 7 bits, the high bit of each byte saying "more bytes follow".
 *
 * - varint: 32-bit; at most 5 bytes. A 5th byte that still has the continuation bit is illegal.
 * - varlong: 64-bit; at most 10 bytes. Here the value is a JS number: exact for safe integers
 *   (|v| <= 2^53 - 1) with no BigInt; values beyond that decode rounded.
 *
 * Writers take a position and return the next one. Readers take a `Cursor`, read at `cursor.pos`
 * and advance it, so decoding allocates nothing. Readers also take `end`, the first position they
 * may not read, and throw `CorruptRecordError` past it or on an illegal encoding.
 */
import { CorruptRecordError } from '../errors.js';

/** A read position, advanced by the read functions. */
export interface Cursor {
  pos: number;
}

const TWO_POW_27 = 134217728;

/** Bytes needed for an unsigned 32-bit value. */
export function sizeOfUnsignedVarint(value: number): number {
  const u = value >>> 0;
  if (u < 0x80) return 1;
  if (u < 0x4000) return 2;
  if (u < 0x200000) return 3;
  if (u < 0x10000000) return 4;
  return 5;
}

/** Bytes needed for a zigzag varint of the int32 `value`. */
export function sizeOfVarint(value: number): number {
  return sizeOfUnsignedVarint((value << 1) ^ (value >> 31));
}

/** Bytes needed for a zigzag varlong of the safe integer `value`. */
export function sizeOfVarlong(value: number): number {
  if (value >= -2147483648 && value <= 2147483647) return sizeOfVarint(value);
  // z = 2m + s with m = |v| or |v| - 1; the first byte holds 6 bits of m, the rest 7 each.
  let rest = Math.floor((value < 0 ? -value - 1 : value) / 64);
  let size = 2;
  while (rest >= 0x80) {
    rest = Math.floor(rest / 128);
    size++;
  }
  return size;
}

/** Writes the unsigned 32-bit `value` as a varint at `pos`; returns the next position. */
export function writeUnsignedVarint(buf: Uint8Array, pos: number, value: number): number {
  let u = value >>> 0;
  while (u >= 0x80) {
    buf[pos++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[pos++] = u;
  return pos;
}

/** Writes the int32 `value` as a zigzag varint at `pos`; returns the next position. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  return writeUnsignedVarint(buf, pos, (value << 1) ^ (value >> 31));
}

/** Writes the safe integer `value` as a zigzag varlong at `pos`; returns the next position. */
export function writeVarlong(buf: Uint8Array, pos: number, value: number): number {
  // Within int32 the 64-bit zigzag form equals the 32-bit one.
  if (value >= -2147483648 && value <= 2147483647) return writeVarint(buf, pos, value);
  const negative = value < 0;
  const magnitude = negative ? -value - 1 : value; // z = 2 * magnitude + sign, computed in parts
  buf[pos++] = ((magnitude % 64) << 1) | (negative ? 1 : 0) | 0x80;
  let rest = Math.floor(magnitude / 64);
  while (rest >= 0x80) {
    buf[pos++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  buf[pos++] = rest;
  return pos;
}

function pastEnd(pos: number): CorruptRecordError {
  return new CorruptRecordError(`varint at byte ${pos} runs past the end of its data`, { position: pos });
}

/** Reads a zigzag varint (int32) at `cursor.pos`, not reading at or past `end`. */
export function readVarint(buf: Uint8Array, cursor: Cursor, end: number): number {
  let pos = cursor.pos;
  if (pos >= end) throw pastEnd(pos);
  let b = buf[pos++]!;
  let value = b & 0x7f;
  let shift = 7;
  while (b >= 0x80) {
    if (pos >= end) throw pastEnd(cursor.pos);
    b = buf[pos++]!;
    if (shift === 28) {
      if (b >= 0x80) {
        throw new CorruptRecordError(`illegal varint at byte ${cursor.pos}: more than 5 bytes`, { position: cursor.pos });
      }
      value |= b << 28; // like Kafka, bits past 32 are dropped
      break;
    }
    value |= (b & 0x7f) << shift;
    shift += 7;
  }
  cursor.pos = pos;
  return (value >>> 1) ^ -(value & 1);
}

/** Reads a zigzag varlong (int64) at `cursor.pos` as a number, not reading at or past `end`. */
export function readVarlong(buf: Uint8Array, cursor: Cursor, end: number): number {
  let pos = cursor.pos;
  if (pos >= end) throw pastEnd(pos);
  let b = buf[pos++]!;
  let low = b & 0x7f; // bits 0-27 of z, built with int32 arithmetic
  let shift = 7;
  while (b >= 0x80 && shift < 28) {
    if (pos >= end) throw pastEnd(cursor.pos);
    b = buf[pos++]!;
    low |= (b & 0x7f) << shift;
    shift += 7;
  }
  let high = 0; // z >> 28, built with float arithmetic (exact below 2^53)
  let scale = 1;
  while (b >= 0x80) {
    if (shift > 63) {
      throw new CorruptRecordError(`illegal varlong at byte ${cursor.pos}: more than 10 bytes`, { position: cursor.pos });
    }
    if (pos >= end) throw pastEnd(cursor.pos);
    b = buf[pos++]!;
    high += (b & 0x7f) * scale;
    scale *= 128;
    shift += 7;
  }
  cursor.pos = pos;
  if (high === 0) return (low >>> 1) ^ -(low & 1);
  const magnitude = high * TWO_POW_27 + (low >>> 1); // floor(z / 2)
  return (low & 1) === 0 ? magnitude : -magnitude - 1;
}
