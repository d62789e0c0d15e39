import { ProtocolError } from '../../errors.js';

const FIRST_BLOCK = 1024;
const MAX_BLOCK = 64 * 1024;

/**
 * Appends a message to a list of chunks. Small fields go into a growing block; record slices are
 * pushed as chunks of their own between two pieces of the block, so stored batches reach the
 * socket without being copied.
 */
export class Writer {
  private readonly chunks: Buffer[] = [];
  private block: Buffer;
  private start = 0;
  private pos = 0;
  private flushed = 0;

  constructor(firstBlock = FIRST_BLOCK) {
    this.block = Buffer.allocUnsafe(firstBlock);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.flushed + this.pos - this.start;
  }

  private room(n: number): Buffer {
    if (this.pos + n > this.block.length) {
      this.cut();
      const size = Math.max(n, Math.min(MAX_BLOCK, this.block.length * 2));
      this.block = Buffer.allocUnsafe(size);
      this.start = 0;
      this.pos = 0;
    }
    return this.block;
  }

  private cut(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.block.subarray(this.start, this.pos));
      this.flushed += this.pos - this.start;
      this.start = this.pos;
    }
  }

  int8(v: number): void {
    this.room(1).writeInt8(v, this.pos);
    this.pos += 1;
  }

  bool(v: boolean): void {
    this.room(1)[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.room(2).writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  uint16(v: number): void {
    this.room(2).writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  int32(v: number): void {
    this.room(4).writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  int64(v: bigint): void {
    this.room(8).writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  float64(v: number): void {
    this.room(8).writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  uvarint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new ProtocolError(`cannot encode ${v} as an unsigned varint`);
    }
    const b = this.room(5);
    while (v >= 0x80) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
  }

  bytes(src: Uint8Array): void {
    const b = this.room(src.length);
    b.set(src, this.pos);
    this.pos += src.length;
  }

  utf8(s: string, byteLength: number): void {
    this.room(byteLength).write(s, this.pos, byteLength, 'utf8');
    this.pos += byteLength;
  }

  /** Appends buffers by reference: they become chunks of their own. */
  slices(list: readonly Buffer[]): void {
    this.cut();
    for (const s of list) {
      if (s.length === 0) continue;
      this.chunks.push(s);
      this.flushed += s.length;
    }
  }

  /** The chunks written; the writer must not be used afterwards. */
  finish(): Buffer[] {
    this.cut();
    return this.chunks;
  }

  /** Everything written, as one buffer (for small nested values such as tagged fields). */
  concat(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.flushed);
  }
}
