import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { CorruptRecordError, InvalidConfigError } from '../../src/errors.js';
import { compress, decompress, isCompressionSupported } from '../../src/record/compression.js';
import { nativeDisabled } from '../../src/files/native.js';
import { inflater, zstdDeclaredSize } from '../../src/record/inflater.js';
import { kafkajsSnappy, lz4js, xxh32 } from './helpers.js';

const require = createRequire(import.meta.url);
const lz4napi = require('lz4-napi') as {
  compressFrameSync(data: Buffer, options?: { contentChecksum?: boolean; blockChecksums?: boolean }): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
};
const lz4jsBlocks = require('lz4js') as {
  compressBlock(src: Uint8Array, dst: Uint8Array, start: number, length: number, hashTable: Uint32Array): number;
};
/** snappyjs, the pure-JS snappy under kafkajs-snappy. */
const snappyjs = createRequire(require.resolve('kafkajs-snappy'))('snappyjs') as {
  compress(data: Uint8Array): Uint8Array;
  uncompress(data: Uint8Array): Uint8Array;
};

/** Text-like data that compresses, with a random prefix that does not. */
function sample(randomPrefix: number, total: number): Buffer {
  const text = Buffer.from('{"sensor":"A1","reading":21.5,"unit":"C","ok":true}\n'.repeat(Math.ceil(total / 50)));
  return Buffer.concat([randomBytes(randomPrefix), text]).subarray(0, total);
}

interface Lz4Block {
  sizeField: number;
  data: Buffer;
}

/** Splits a Kafka-style LZ4 frame (7-byte header, no checksums) into its blocks. */
function lz4Blocks(frame: Buffer): { header: Buffer; blocks: Lz4Block[]; rest: Buffer } {
  const blocks: Lz4Block[] = [];
  let pos = 7;
  for (;;) {
    const sizeField = frame.readUInt32LE(pos);
    pos += 4;
    if (sizeField === 0) break;
    const size = sizeField & 0x7fffffff;
    blocks.push({ sizeField, data: frame.subarray(pos, pos + size) });
    pos += size;
  }
  return { header: frame.subarray(0, 7), blocks, rest: frame.subarray(pos) };
}

describe('lz4 as Kafka frames it', () => {
  it('has a header checksum byte that is XXH32 of the descriptor, as the frame format requires', () => {
    expect((xxh32.hash(0, Uint8Array.from([0x60, 0x40]), 0, 2) >>> 8) & 0xff).toBe(0x82);
  });

  it('writes header 04 22 4D 18 60 40 82, 64 KiB blocks, raw blocks flagged by bit 31, end mark 0', () => {
    const input = sample(70_000, 150_000);
    const frame = compress('lz4', input);
    const { header, blocks, rest } = lz4Blocks(frame);
    expect(header.toString('hex')).toBe('04224d18604082');
    expect(blocks).toHaveLength(3);
    // The first 64 KiB are random: stored uncompressed, with bit 31 set.
    expect(blocks[0]!.sizeField).toBe((0x80000000 | 65536) >>> 0);
    expect(blocks[0]!.data.equals(input.subarray(0, 65536))).toBe(true);
    // The rest compresses.
    expect(blocks[1]!.sizeField).toBeLessThan(65536);
    expect(blocks[2]!.sizeField).toBeLessThan(150_000 - 2 * 65536);
    expect(rest.length).toBe(0); // no content checksum after the end mark
    expect(Buffer.from(lz4js.decompress(frame)).equals(input)).toBe(true);
    expect(decompress('lz4', frame).equals(input)).toBe(true);
  });

  it('writes one compressed block for a small input, readable by lz4js and lz4-napi', () => {
    const input = sample(0, 3000);
    const frame = compress('lz4', input);
    const { blocks } = lz4Blocks(frame);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]!.sizeField).toBeLessThan(3000);
    expect(Buffer.from(lz4js.decompress(frame)).equals(input)).toBe(true);
    expect(lz4napi.decompressFrameSync(frame).equals(input)).toBe(true);
  });

  it('frames empty input as header plus end mark', () => {
    const frame = compress('lz4', Buffer.alloc(0));
    expect(frame.toString('hex')).toBe('04224d1860408200000000');
    expect(decompress('lz4', frame).length).toBe(0);
  });

  it('reads frames from other writers: lz4js (linked-block flag), 256 KiB blocks with block and content checksums', () => {
    const input = sample(1000, 700_000);
    const fromLz4js = Buffer.from(lz4js.compress(input));
    expect(fromLz4js[4]! & 0x20).toBe(0); // lz4js leaves the block-independence flag off
    expect(decompress('lz4', fromLz4js).equals(input)).toBe(true);

    const checksummed = lz4napi.compressFrameSync(input, { blockChecksums: true, contentChecksum: true });
    expect(checksummed[4]! & 0x34).toBe(0x34); // independent, block checksums, content checksum
    expect((checksummed[5]! >> 4) & 7).toBeGreaterThan(4); // blocks larger than 64 KiB
    expect(decompress('lz4', checksummed).equals(input)).toBe(true);
  });

  it('reads a Kafka-framed stream whose blocks come from another compressor (lz4js)', () => {
    const input = sample(20_000, 200_000);
    const parts: Buffer[] = [Buffer.from('04224d18604082', 'hex')];
    for (let start = 0; start < input.length; start += 65536) {
      const length = Math.min(65536, input.length - start);
      const block = Buffer.alloc(length + 1024);
      const size = lz4jsBlocks.compressBlock(input, block, start, length, new Uint32Array(1 << 16));
      const field = Buffer.alloc(4);
      if (size > 0 && size < length) {
        field.writeUInt32LE(size);
        parts.push(field, block.subarray(0, size));
      } else {
        field.writeUInt32LE((length | 0x80000000) >>> 0);
        parts.push(field, input.subarray(start, start + length));
      }
    }
    parts.push(Buffer.alloc(4));
    const frame = Buffer.concat(parts);
    expect(lz4napi.decompressFrameSync(frame).equals(input)).toBe(true);
    expect(decompress('lz4', frame).equals(input)).toBe(true);
  });

  it('reads a frame that declares its content size', () => {
    const input = sample(100, 100_000);
    const kafkaFrame = compress('lz4', input);
    const descriptor = Buffer.alloc(10);
    descriptor[0] = 0x68; // version 1, independent blocks, content size
    descriptor[1] = 0x40;
    descriptor.writeBigUInt64LE(BigInt(input.length), 2);
    const hc = (xxh32.hash(0, descriptor, 0, descriptor.length) >>> 8) & 0xff;
    const frame = Buffer.concat([kafkaFrame.subarray(0, 4), descriptor, Buffer.from([hc]), kafkaFrame.subarray(7)]);
    expect(lz4napi.decompressFrameSync(frame).equals(input)).toBe(true); // the hand-made frame is valid
    expect(decompress('lz4', frame).equals(input)).toBe(true);
  });

  it('throws CorruptRecordError for data that is not a valid frame', () => {
    expect(() => decompress('lz4', Buffer.from('not lz4 at all'))).toThrow(CorruptRecordError);
    const frame = compress('lz4', sample(0, 5000));
    expect(() => decompress('lz4', frame.subarray(0, frame.length - 3))).toThrow(CorruptRecordError);
    const damaged = Buffer.from(frame);
    damaged.writeUInt32LE(0x7fff0000, 7); // block size beyond the 64 KiB maximum
    expect(() => decompress('lz4', damaged)).toThrow(/lz4/);
  });
});

describe('snappy in xerial snappy-java framing', () => {
  it('writes the xerial header and 32 KiB chunks that an independent decoder reads', async () => {
    const input = sample(5000, 100_000);
    const stream = compress('snappy', input);
    expect(stream.subarray(0, 16).toString('hex')).toBe('82534e41505059000000000100000001');
    const chunks: Buffer[] = [];
    for (let pos = 16; pos < stream.length; ) {
      const length = stream.readInt32BE(pos);
      chunks.push(Buffer.from(snappyjs.uncompress(stream.subarray(pos + 4, pos + 4 + length))));
      pos += 4 + length;
    }
    expect(chunks.map((c) => c.length)).toEqual([32768, 32768, 32768, 100_000 - 3 * 32768]);
    expect(Buffer.concat(chunks).equals(input)).toBe(true);
    expect((await kafkajsSnappy.decompress(stream)).equals(input)).toBe(true);
    expect(decompress('snappy', stream).equals(input)).toBe(true);
  });

  it('reads a raw snappy block (no xerial header), as snappy-java falls back to', () => {
    const input = sample(10, 20_000);
    expect(decompress('snappy', Buffer.from(snappyjs.compress(input))).equals(input)).toBe(true);
  });

  it('reads xerial streams built by another encoder, including two concatenated streams', () => {
    const a = sample(0, 40_000);
    const b = sample(3, 10_000);
    const header = Buffer.from('82534e41505059000000000100000001', 'hex');
    const chunk = (data: Buffer): Buffer => {
      const body = Buffer.from(snappyjs.compress(data));
      const length = Buffer.alloc(4);
      length.writeInt32BE(body.length);
      return Buffer.concat([length, body]);
    };
    const stream = Buffer.concat([header, chunk(a.subarray(0, 32768)), chunk(a.subarray(32768)), header, chunk(b)]);
    expect(decompress('snappy', stream).equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('throws CorruptRecordError for a chunk that overruns the stream', () => {
    const stream = compress('snappy', sample(0, 1000));
    expect(() => decompress('snappy', stream.subarray(0, stream.length - 1))).toThrow(CorruptRecordError);
  });
});

describe('gzip', () => {
  it('writes a standard gzip member and reads concatenated members', () => {
    const input = sample(100, 50_000);
    const packed = compress('gzip', input);
    expect(packed.subarray(0, 3).toString('hex')).toBe('1f8b08');
    expect(zlib.gunzipSync(packed).equals(input)).toBe(true);
    const two = Buffer.concat([zlib.gzipSync(input.subarray(0, 100)), zlib.gzipSync(input.subarray(100))]);
    expect(decompress('gzip', two).equals(input)).toBe(true);
    expect(() => decompress('gzip', Buffer.from('garbage'))).toThrow(CorruptRecordError);
  });
});

describe('none', () => {
  it('passes data through', () => {
    const data = Buffer.from('abc');
    expect(compress('none', data)).toBe(data);
    expect(decompress('none', data)).toBe(data);
  });
});

describe('zstd', () => {
  const supported = isCompressionSupported('zstd');
  const zstdZlib = zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer; zstdDecompressSync?: (b: Buffer) => Buffer };
  const fzstd = require('fzstd') as { decompress(data: Uint8Array): Uint8Array };
  /** The text both fixed frames below hold (1720 bytes). */
  const text = Buffer.from(
    Array.from({ length: 40 }, (_, i) => `sensor-${i % 7} temperature=${20 + (i % 5)}.${(i * 37) % 10} ts=${1700000000000 + i * 1000}\n`).join(''),
  );
  // Written by the zstd CLI 1.5.4 (the reference encoder, not Node's zlib nor seglog): from a
  // pipe, as a streaming writer such as zstd-jni or librdkafka writes, so the frame carries no
  // content size, and with an XXH64 checksum; and from a file at level 19 without checksum.
  const streamed = Buffer.from(
    '28b52ffd0458f50400f2881716a0a5e944dcb7bc4bff6fb79b6c29654a89f25cf1c4080349f3faeff7fcdd5effed9a3e9bcbb75dd3576bf5755bf66aadde9ccac5d15b0c9967ea9911ad0aaa7ae97791dd42edc052034908126d9c2320111c076070128281a380100e1259a821e4e1fadf01f035d6118c10241cd74112ff7cc95abcc54d5de56cd6e22e6e722b6258b1c9abf059f8143e854fc1a7f0297c0a9f05300e88b0da2a7d9f508b',
    'hex',
  );
  const level19 = Buffer.from(
    '28b52ffd60b805f5040082c91713a0ab03a4d958ad7fbffc644b995222af5f153c00c9e2f6dfef79f4bbfdb76b1af96cbeed9a46bd5a5fb76551afd6177c9909a27a07166522ba8a8e573c23516667eb37adec72a816e050a37102166d24e6710e262d4872020a8cd224a90958a81140dff5bf03f035d6118c10241c5e70e2bf0f519994c8d444a62a329591a9a424c5e2786c4391f05263c2682963c268a9316174171db063b555',
    'hex',
  );

  it('reads frames of another encoder (no content size, checksum; level 19) on every Node.js', () => {
    expect(text.length).toBe(1720);
    for (const frame of [streamed, level19]) {
      expect(decompress('zstd', frame).equals(text)).toBe(true);
      expect(Buffer.from(fzstd.decompress(frame)).equals(text)).toBe(true);
      if (zstdZlib.zstdDecompressSync) expect(zstdZlib.zstdDecompressSync(frame).equals(text)).toBe(true);
    }
  });

  it('reads the size a frame declares, and refuses one that declares more than the limit before decoding it', () => {
    expect(zstdDeclaredSize(streamed)).toBe(-1); // a streaming writer declares none
    expect(zstdDeclaredSize(level19)).toBe(1720);
    expect(zstdDeclaredSize(Buffer.from('not zstd at all'))).toBe(-1);
    expect(zstdDeclaredSize(level19.subarray(0, 5))).toBe(-1);
    expect(decompress('zstd', level19, 1720).equals(text)).toBe(true);
    expect(() => decompress('zstd', level19, 1719)).toThrow(/inflates past the limit of 1719 bytes/);
    // The frame's blocks are cut away: only the header can have refused it.
    expect(() => decompress('zstd', level19.subarray(0, 8), 1719)).toThrow(/inflates past the limit/);
    expect(() => inflater('zstd', level19.subarray(0, 8), 1719).next()).toThrow(/inflates past the limit/);
  });

  it('rejects a cut or malformed frame as CorruptRecordError', () => {
    // (Damaged bytes are the batch CRC's to catch: fzstd does not check a frame's own checksum.)
    // Node 22's zlib returns a cut frame as empty output: there seglog reads with fzstd.
    expect(() => decompress('zstd', streamed.subarray(0, streamed.length - 40))).toThrow(CorruptRecordError);
    expect(() => decompress('zstd', Buffer.from('28b52ffd2000090000687965', 'hex'))).toThrow(CorruptRecordError);
  });

  it(`${supported ? 'writes frames that two independent decoders read back' : 'refuses writing with InvalidConfigError here'}`, () => {
    const input = sample(100, 200_000);
    if (supported) {
      const packed = compress('zstd', input);
      expect(packed.readUInt32LE(0)).toBe(0xfd2fb528); // zstd frame magic
      expect(packed.length).toBeLessThan(input.length / 2);
      expect(decompress('zstd', packed).equals(input)).toBe(true);
      expect(Buffer.from(fzstd.decompress(packed)).equals(input)).toBe(true);
      if (zstdZlib.zstdDecompressSync) expect(zstdZlib.zstdDecompressSync(packed).equals(input)).toBe(true);
    } else {
      // Only where neither zlib (Node >= 22.15) nor the addon with libzstd.so.1 can write.
      expect(zstdZlib.zstdCompressSync).toBeUndefined();
      expect(() => compress('zstd', input)).toThrow(InvalidConfigError);
      expect(() => compress('zstd', input)).toThrow(/zstd/);
    }
  });

  it('writes with zstd wherever the addon and libzstd.so.1 are, as on this project\'s machines', () => {
    // Node >= 22.15 writes through zlib; before it, the prebuilt addon writes through libzstd.
    expect(supported).toBe(zstdZlib.zstdCompressSync !== undefined || !nativeDisabled());
  });

  it('is reported by isCompressionSupported for the other codecs', () => {
    for (const type of ['none', 'gzip', 'lz4', 'snappy'] as const) expect(isCompressionSupported(type)).toBe(true);
  });
});
