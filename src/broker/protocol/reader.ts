import { ProtocolError } from '../../errors.js';

/**
 * A bounds-checked cursor over one frame. Every read checks the bytes it needs first, so truncated
 * or lying input ends in a `ProtocolError` naming the position, never a `RangeError`; lengths are
 * checked against the bytes left before anything is allocated for them.
 */
export class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    public end: number = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(what: string): never {
    throw new ProtocolError(`malformed frame: ${what} at byte ${this.pos}`, { position: this.pos });
  }

  private need(n: number, what: string): number {
    const at = this.pos;
    if (n > this.end - at) this.fail(`${what} needs ${n} bytes, ${this.end - at} left`);
    this.pos = at + n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1, 'int8'));
  }

  bool(): boolean {
    return this.buf[this.need(1, 'bool')] !== 0;
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2, 'int16'));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.need(2, 'uint16'));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4, 'int32'));
  }

  int64(): bigint {
    return this.buf.readBigInt64BE(this.need(8, 'int64'));
  }

  float64(): number {
    return this.buf.readDoubleBE(this.need(8, 'float64'));
  }

  /** Kafka's unsigned varint: at most 5 bytes, 32 bits. */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) this.fail('varint runs past the end');
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) this.fail('varint over 32 bits');
        return value;
      }
    }
    return this.fail('varint longer than 5 bytes');
  }

  /**
   * A length prefix: int16/int32 (classic) or uvarint(length + 1) (compact). Returns -1 for null
   * and checks that `length * minElementBytes` bytes are left.
   */
  length(kind: LengthKind, minElementBytes: number, what: string): number {
    let n: number;
    if (kind === LengthKind.Int16) n = this.int16();
    else if (kind === LengthKind.Int32) n = this.int32();
    else n = this.uvarint() - 1;
    if (n < -1) this.fail(`negative ${what} length ${n}`);
    if (n > 0 && n * minElementBytes > this.end - this.pos) {
      this.fail(`${what} length ${n} past the end of the frame (${this.end - this.pos} bytes left)`);
    }
    return n;
  }

  /** `n` bytes as a view into the frame (no copy); the caller checked `n` with `length`. */
  view(n: number): Buffer {
    const at = this.need(n, 'bytes');
    return this.buf.subarray(at, at + n);
  }

  /** `n` bytes copied out of the frame, for values kept after the request (the frame may be reused). */
  copy(n: number): Buffer {
    const at = this.need(n, 'bytes');
    return Buffer.from(this.buf.subarray(at, at + n));
  }

  utf8(n: number): string {
    const at = this.need(n, 'string');
    return this.buf.toString('utf8', at, at + n);
  }

  skip(n: number): void {
    this.need(n, 'tagged field');
  }

  /** A tagged-field section's field count, checked against the bytes left (a field takes at least two). */
  taggedFieldCount(): number {
    const count = this.uvarint();
    if (count * 2 > this.remaining) this.fail(`${count} tagged fields past the end of the frame`);
    return count;
  }

  /** The size of tagged field `tag`, read after its tag, checked against the bytes left. */
  taggedFieldSize(tag: number): number {
    const size = this.uvarint();
    if (size > this.remaining) this.fail(`tagged field ${tag} of ${size} bytes past the end of the frame`);
    return size;
  }
}

/** How a string, bytes or array length is written: int16 (classic strings), int32 (classic bytes and arrays), uvarint(n + 1) (compact). */
export const LengthKind = { Int16: 0, Int32: 1, Compact: 2 } as const;
export type LengthKind = (typeof LengthKind)[keyof typeof LengthKind];
