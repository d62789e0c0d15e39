/**
 * Kafka's record-batch codecs, synchronous. Only the records section of a batch (bytes 61..end)
 * goes through them, as one stream holding every record.
 *
 * - gzip: a standard gzip member (zlib `gzipSync`, default level like the JDK's Deflater);
 *   decompression accepts concatenated members, as `GZIPInputStream` does.
 * - lz4: Kafka's frame exactly as `Lz4BlockOutputStream` writes it: header `04 22 4D 18 60 40 82`
 *   (magic, FLG = version 1 + independent blocks, BD = 64 KiB blocks, header checksum), then per
 *   64 KiB of input a `uint32 LE` size and an LZ4 raw block (size bit 31 set = stored raw because
 *   compressing did not shrink it), then the end mark `uint32 LE 0`; no checksums. Raw blocks come
 *   from `lz4-block.ts` (why not lz4-napi's compressor: see there). Decompression parses the frame
 *   here and decodes blocks with `lz4-napi` (lz4_flex); it accepts what other writers produce too
 *   (block sizes 64 KiB-4 MiB, content size, block and content checksums).
 * - snappy: xerial snappy-java's stream framing, which Kafka uses (not the official framing
 *   format): `82 'SNAPPY' 00`, int32 BE version 1, int32 BE compatible version 1, then per 32 KiB
 *   of input an int32 BE length and a raw snappy block (from the `snappy` package). Input without
 *   that header is read as one raw snappy block, as snappy-java does.
 * - zstd: standard zstd frames (level 3, Kafka's default). Through `zlib.zstdCompressSync` /
 *   `zstdDecompressSync` where Node has them (22.15 on). Older Node.js reads with `fzstd` (a
 *   decoder in JS, synchronous) and writes with the system's libzstd.so.1 through seglog's addon;
 *   where neither zlib nor the addon nor libzstd can write, compressing throws
 *   `InvalidConfigError` (`isCompressionSupported` tells in advance), and reading still works.
 *
 * Native codec packages are loaded on first use, so a platform without their binaries can still
 * use the other codecs. Their results must be ordinary buffers, not napi external buffers: Node
 * frees external buffers only after the event loop turns, and seglog's appends and reads are
 * synchronous, so a long loop would pile them up (measured: 2.5-3.5 GB RSS after 20k batches of
 * 100 KiB, and 10-25x slower). Hence lz4 blocks are compressed in TypeScript and decompressed with
 * `uncompressSync` (which copies), and snappy runs with `copyOutputData`.
 */
import zlib from 'node:zlib';
import { InvalidConfigError } from '../errors.js';
import { nativeAddon } from '../files/native.js';
import { fzstd, inflatesPast, lz4, snappy, zstdZlib } from './codec-modules.js';
import { SNAPPY_OPTIONS, XERIAL_HEADER_SIZE, XERIAL_MAGIC, codecError, drain, inflater, refuseDeclaredZstdBomb } from './inflater.js';
import { lz4BlockBound, lz4CompressBlock } from './lz4-block.js';
import type { CompressionType } from './types.js';

/** True if this process can compress and decompress `type`. */
export function isCompressionSupported(type: CompressionType): boolean {
  try {
    if (type === 'lz4') lz4();
    else if (type === 'snappy') snappy();
    else if (type === 'zstd') return zstdWriter() !== null;
    return true;
  } catch {
    return false;
  }
}

/** Compresses `data` as Kafka's `type` codec would. `'none'` returns `data` itself. */
export function compress(type: CompressionType, data: Buffer): Buffer {
  switch (type) {
    case 'none':
      return data;
    case 'gzip':
      return zlib.gzipSync(data);
    case 'lz4':
      return lz4CompressFrame(data);
    case 'snappy':
      return xerialSnappyCompress(data);
    case 'zstd':
      return zstdCompress(data);
    default:
      throw new InvalidConfigError(`Unknown compression type ${String(type)}`);
  }
}

/** Kafka's default zstd level (and zlib's). */
const ZSTD_LEVEL = 3;

/** No output limit: what `decompress` uses when the caller gives none. */
export const UNLIMITED = 2 ** 31 - 1;

/**
 * Decompresses the records section of a batch into at most `maxBytes` bytes. Malformed input, or
 * input that would inflate past `maxBytes`, throws `CorruptRecordError`; a codec this process
 * cannot run throws `InvalidConfigError`.
 *
 * The limit stops inflation early, so a decompression bomb costs at most `maxBytes` of memory:
 * zlib (gzip, zstd) stops at `maxOutputLength`; lz4 and snappy know each block's decompressed
 * size before decoding it, and the running total is checked before anything is allocated.
 */
export function decompress(type: CompressionType, data: Buffer, maxBytes = UNLIMITED): Buffer {
  if (type === 'none') return data;
  if (type === 'lz4' || type === 'snappy') return drain(inflater(type, data, maxBytes));
  try {
    switch (type) {
      case 'gzip':
        return zlib.gunzipSync(data, { maxOutputLength: maxBytes });
      case 'zstd':
        return zstdDecompress(data, maxBytes);
      default:
        throw new InvalidConfigError(`Unknown compression type ${String(type)}`);
    }
  } catch (err) {
    throw codecError(type, maxBytes, err);
  }
}

/** The way this process writes zstd, or null when it cannot. */
function zstdWriter(): ((data: Buffer) => Buffer) | null {
  if (typeof zstdZlib.zstdCompressSync === 'function') return zstdZlib.zstdCompressSync;
  const addon = nativeAddon();
  if (addon === null) return null;
  try {
    addon.zstdCompressBound(0); // throws when libzstd.so.1 is missing
  } catch {
    return null;
  }
  return (data) => {
    const out = Buffer.allocUnsafe(addon.zstdCompressBound(data.length));
    return out.subarray(0, addon.zstdCompress(data, out, ZSTD_LEVEL));
  };
}

let writer: ((data: Buffer) => Buffer) | null | undefined;

function zstdCompress(data: Buffer): Buffer {
  if (writer === undefined) writer = zstdWriter();
  if (writer === null) {
    throw new InvalidConfigError(
      `Writing zstd-compressed record batches needs Node.js >= 22.15 (zlib zstd) or, before it, seglog's addon and the system's libzstd.so.1; this is Node.js ${process.versions.node}`,
    );
  }
  return writer(data);
}

let zlibZstdUsable: boolean | undefined;

/**
 * True when zlib decodes zstd and refuses a cut frame. Node 22's zlib returns a frame cut short as
 * empty output without an error (seen on 22.23; 24 and 26 throw), which would pass a truncated
 * records section off as data, so there fzstd reads instead. Probed once, on a frame made here.
 */
function zlibReadsZstd(): boolean {
  if (zlibZstdUsable !== undefined) return zlibZstdUsable;
  const { zstdCompressSync, zstdDecompressSync } = zstdZlib;
  if (zstdCompressSync === undefined || zstdDecompressSync === undefined) return (zlibZstdUsable = false);
  const frame = zstdCompressSync(Buffer.alloc(64, 1));
  try {
    zstdDecompressSync(frame.subarray(0, frame.length - 1));
    zlibZstdUsable = false;
  } catch {
    zlibZstdUsable = true;
  }
  return zlibZstdUsable;
}

/**
 * zlib stops at `maxOutputLength`; fzstd's streaming decoder hands out one block (at most 128 KiB)
 * at a time, and the running total is checked before the next one is kept.
 */
function zstdDecompress(data: Buffer, maxBytes: number): Buffer {
  refuseDeclaredZstdBomb(data, maxBytes);
  if (zlibReadsZstd()) return zstdZlib.zstdDecompressSync!(data, { maxOutputLength: maxBytes });
  const { Decompress } = fzstd();
  const chunks: Buffer[] = [];
  let total = 0;
  const stream = new Decompress((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw inflatesPast('zstd', maxBytes);
    chunks.push(Buffer.from(chunk)); // a copy: the decoder reuses its window
  });
  stream.push(data, true);
  return Buffer.concat(chunks, total);
}

// ---------------------------------------------------------------------------------------------
// LZ4, Kafka framing

/** Magic 0x184D2204 (LE), FLG 0x60, BD 0x40 (64 KiB blocks), header checksum 0x82. */
const LZ4_FRAME_HEADER = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
const LZ4_BLOCK_SIZE = 64 * 1024;
const LZ4_STORED_RAW = 0x80000000;

function lz4CompressFrame(data: Buffer): Buffer {
  const scratch = Buffer.allocUnsafe(lz4FrameBound(data.length));
  const end = lz4CompressFrameInto(data, scratch, 0);
  return end === scratch.length ? scratch : Buffer.from(scratch.subarray(0, end));
}

/** Largest LZ4 frame `lz4CompressFrameInto` may need for `length` input bytes (scratch included). */
export function lz4FrameBound(length: number): number {
  const fullBlocks = Math.floor(length / LZ4_BLOCK_SIZE);
  const last = length - fullBlocks * LZ4_BLOCK_SIZE;
  const blocks = fullBlocks * (4 + lz4BlockBound(LZ4_BLOCK_SIZE)) + (last > 0 ? 4 + lz4BlockBound(last) : 0);
  return LZ4_FRAME_HEADER.length + blocks + 4;
}

/**
 * Writes `data` as a Kafka LZ4 frame into `dst` at `pos` (which needs `lz4FrameBound` bytes);
 * returns the position after the end mark. Allocates nothing.
 */
export function lz4CompressFrameInto(data: Uint8Array, dst: Buffer, pos: number): number {
  pos += LZ4_FRAME_HEADER.copy(dst, pos);
  for (let start = 0; start < data.length; start += LZ4_BLOCK_SIZE) {
    const end = Math.min(start + LZ4_BLOCK_SIZE, data.length);
    const blockStart = pos + 4;
    const blockEnd = lz4CompressBlock(data, start, end, dst, blockStart);
    if (blockEnd - blockStart < end - start) {
      dst.writeUInt32LE(blockEnd - blockStart, pos);
      pos = blockEnd;
    } else {
      dst.writeUInt32LE(((end - start) | LZ4_STORED_RAW) >>> 0, pos);
      dst.set(data.subarray(start, end), blockStart);
      pos = blockStart + end - start;
    }
  }
  return dst.writeUInt32LE(0, pos);
}

// ---------------------------------------------------------------------------------------------
// Snappy, xerial snappy-java stream framing

const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** snappy-java's default block size: input is compressed 32 KiB at a time. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

function xerialSnappyCompress(data: Buffer): Buffer {
  const { compressSync } = snappy();
  const chunks: Buffer[] = [];
  let size = XERIAL_HEADER_SIZE;
  for (let start = 0; start < data.length; start += XERIAL_BLOCK_SIZE) {
    const chunk = compressSync(data.subarray(start, Math.min(start + XERIAL_BLOCK_SIZE, data.length)), SNAPPY_OPTIONS);
    chunks.push(chunk);
    size += 4 + chunk.length;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = XERIAL_MAGIC.copy(out, 0);
  pos = out.writeInt32BE(XERIAL_VERSION, pos);
  pos = out.writeInt32BE(XERIAL_COMPATIBLE_VERSION, pos);
  for (const chunk of chunks) {
    pos = out.writeInt32BE(chunk.length, pos);
    pos += chunk.copy(out, pos);
  }
  return out;
}
