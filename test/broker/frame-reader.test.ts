/**
 * FrameReader: frames come out whole and in order however the stream is cut into chunks, a frame
 * inside one chunk is a view of it, frames that span chunks share one reused buffer (up to
 * REUSED_FRAME_LIMIT), the rest of a large frame can be read straight into it (`readTarget`),
 * and a bad size is refused.
 */
import { describe, expect, it } from 'vitest';
import { FrameReader, IN_PLACE_READ_MIN, REUSED_FRAME_LIMIT, type FrameSink } from '../../src/broker/frame-reader.js';
import { prng } from '../support/prng.js';

class Sink implements FrameSink {
  readonly frames: Buffer[] = [];
  readonly backing: ArrayBufferLike[] = [];
  refused: number | null = null;
  get open(): boolean {
    return this.refused === null;
  }
  handle(frame: Buffer): void {
    // Copied: the frame is only valid during this call.
    this.frames.push(Buffer.from(frame));
    this.backing.push(frame.buffer);
  }
  refuse(size: number): void {
    this.refused = size;
  }
}

function framed(payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.flatMap((p) => [Buffer.from([p.length >>> 24, (p.length >>> 16) & 255, (p.length >>> 8) & 255, p.length & 255]), p]));
}

function cut(stream: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let pos = 0;
  for (let i = 0; pos < stream.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]!);
    chunks.push(Buffer.from(stream.subarray(pos, pos + n)));
    pos += n;
  }
  return chunks;
}

describe('FrameReader', () => {
  it('hands on every frame whole and in order, for any cut of the stream', () => {
    const random = prng(17);
    for (let round = 0; round < 50; round++) {
      const payloads = Array.from({ length: 1 + Math.floor(random() * 8) }, (_, i) => Buffer.alloc(Math.floor(random() * 3000), (round * 8 + i) & 255));
      const stream = framed(payloads);
      const sink = new Sink();
      const reader = new FrameReader(1 << 20, sink);
      for (const chunk of cut(stream, Array.from({ length: 5 }, () => 1 + Math.floor(random() * 700)))) reader.push(chunk);
      expect(sink.frames).toEqual(payloads);
      expect(reader.buffered).toBe(0);
    }
  });

  it('keeps a partial frame until the rest arrives, a size prefix split byte by byte included', () => {
    const payload = Buffer.from('a request that spans chunks');
    const stream = framed([payload]);
    const sink = new Sink();
    const reader = new FrameReader(1 << 20, sink);
    for (let i = 0; i < stream.length - 1; i++) reader.push(stream.subarray(i, i + 1));
    expect(sink.frames).toEqual([]);
    expect(reader.buffered).toBe(stream.length - 1);
    reader.push(stream.subarray(stream.length - 1));
    expect(sink.frames).toEqual([payload]);
  });

  it('hands a frame that lies inside one chunk on as a view of that chunk', () => {
    const chunk = framed([Buffer.from('one'), Buffer.from('two')]);
    const sink = new Sink();
    new FrameReader(1 << 20, sink).push(chunk);
    expect(sink.frames.map(String)).toEqual(['one', 'two']);
    expect(sink.backing).toEqual([chunk.buffer, chunk.buffer]);
  });

  it('assembles frames that span chunks in one reused buffer, and a frame over the limit in its own', () => {
    const sink = new Sink();
    const reader = new FrameReader(REUSED_FRAME_LIMIT * 2, sink);
    const big = Buffer.alloc(REUSED_FRAME_LIMIT + 1, 7);
    for (const payload of [Buffer.alloc(200_000, 1), Buffer.alloc(150_000, 2), big, Buffer.alloc(100_000, 3)]) {
      for (const chunk of cut(framed([payload]), [65536])) reader.push(chunk);
    }
    expect(sink.frames.map((f) => [f.length, f[0]])).toEqual([
      [200_000, 1],
      [150_000, 2],
      [REUSED_FRAME_LIMIT + 1, 7],
      [100_000, 3],
    ]);
    expect(sink.backing[1]).toBe(sink.backing[0]);
    expect(sink.backing[3]).toBe(sink.backing[0]);
    expect(sink.backing[2]).not.toBe(sink.backing[0]);
  });

  it('offers the rest of a large frame as the next read target and takes bytes read there without copying them', () => {
    const rand = prng(7);
    const payloads = [300_000, 10, IN_PLACE_READ_MIN + 5, 250_000].map((n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256))));
    const stream = framed(payloads);
    const shared = Buffer.alloc(100_000);
    const sink = new Sink();
    const reader = new FrameReader(REUSED_FRAME_LIMIT, sink);
    let pos = 0;
    let inPlace = 0;
    let copiedInPlace = 0;
    while (pos < stream.length) {
      // What a socket read does: fill the target the reader offers, else the shared buffer.
      const target = reader.readTarget() ?? shared;
      const n = Math.min(target.length, stream.length - pos, 70_000);
      stream.copy(target, 0, pos, pos + n);
      const chunk = target.subarray(0, n);
      if (target !== shared) {
        inPlace++;
        chunk.copy = (...args: Parameters<Buffer['copy']>) => (copiedInPlace++, Buffer.prototype.copy.apply(chunk, args));
      }
      reader.push(chunk);
      // A frame still holding a view of the shared buffer would see these bytes.
      shared.fill(0xee);
      pos += n;
    }
    expect(inPlace).toBeGreaterThan(4);
    expect(copiedInPlace).toBe(0);
    expect(sink.frames).toEqual(payloads);
    expect(reader.readTarget()).toBeNull();
  });

  it('offers no read target between frames or when little of the frame is left', () => {
    const reader = new FrameReader(REUSED_FRAME_LIMIT, new Sink());
    expect(reader.readTarget()).toBeNull();
    const stream = framed([Buffer.alloc(IN_PLACE_READ_MIN + 100, 1)]);
    reader.push(stream.subarray(0, 4 + 50));
    expect(reader.readTarget()?.length).toBe(IN_PLACE_READ_MIN + 50);
    reader.push(stream.subarray(54, 54 + 60));
    expect(reader.readTarget()).toBeNull();
  });

  it('refuses a negative size or one over the limit and reads no further', () => {
    for (const size of [-1, 1001]) {
      const sink = new Sink();
      const head = Buffer.alloc(4);
      head.writeInt32BE(size);
      new FrameReader(1000, sink).push(Buffer.concat([head, framed([Buffer.from('after')])]));
      expect(sink.refused).toBe(size);
      expect(sink.frames).toEqual([]);
    }
  });
});
