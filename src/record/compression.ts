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
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { CorruptRecordError, InvalidConfigError, isSeglogError } from '../errors.js';
import { nativeAddon } from '../files/native.js';
import { lz4BlockBound, lz4CompressBlock } from './lz4-block.js';
import type { CompressionType } from './types.js';

interface Lz4Module {
  uncompressSync(data: Uint8Array): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
}

interface SnappyOptions {
  copyOutputData?: boolean;
  asBuffer?: boolean;
}

interface SnappyModule {
  compressSync(data: Uint8Array, options?: SnappyOptions): Buffer;
  uncompressSync(data: Uint8Array, options?: SnappyOptions): Buffer | string;
}

interface ZstdZlib {
  zstdCompressSync?: (data: Buffer) => Buffer;
  zstdDecompressSync?: (data: Buffer, options?: zlib.ZlibOptions) => Buffer;
}

interface FzstdModule {
  Decompress: new (ondata: (chunk: Uint8Array, final: boolean) => void) => { push(chunk: Uint8Array, final?: boolean): void };
}

const require = createRequire(import.meta.url);
const zstdZlib = zlib as unknown as ZstdZlib;

let lz4Module: Lz4Module | undefined;
let snappyModule: SnappyModule | undefined;
let fzstdModule: FzstdModule | undefined;
/** Kafka's default zstd level (and zlib's). */
const ZSTD_LEVEL = 3;

function loadCodec<T>(type: CompressionType, packageName: string): T {
  try {
    return require(packageName) as T;
  } catch (err) {
    throw new InvalidConfigError(`${type} compression needs the '${packageName}' package, which failed to load`, {
      cause: err,
    });
  }
}

function lz4(): Lz4Module {
  return (lz4Module ??= loadCodec<Lz4Module>('lz4', 'lz4-napi'));
}

function snappy(): SnappyModule {
  return (snappyModule ??= loadCodec<SnappyModule>('snappy', 'snappy'));
}

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
  try {
    switch (type) {
      case 'gzip':
        return zlib.gunzipSync(data, { maxOutputLength: maxBytes });
      case 'lz4':
        return lz4DecompressFrame(data, maxBytes);
      case 'snappy':
        return xerialSnappyDecompress(data, maxBytes);
      case 'zstd':
        return zstdDecompress(data, maxBytes);
      default:
        throw new InvalidConfigError(`Unknown compression type ${String(type)}`);
    }
  } catch (err) {
    if (isSeglogError(err)) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw inflatesPast(type, maxBytes, err);
    const reason = err instanceof Error ? err.message : String(err);
    throw new CorruptRecordError(`${type} data could not be decompressed: ${reason}`, { cause: err });
  }
}

function inflatesPast(type: CompressionType, maxBytes: number, cause?: unknown): CorruptRecordError {
  return new CorruptRecordError(`${type} data inflates past the limit of ${maxBytes} bytes (maxDecompressedBytes)`, cause === undefined ? {} : { cause });
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
  if (zlibReadsZstd()) return zstdZlib.zstdDecompressSync!(data, { maxOutputLength: maxBytes });
  const { Decompress } = (fzstdModule ??= loadCodec<FzstdModule>('zstd', 'fzstd'));
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
/** lz4-napi's `uncompressSync` wants the block prefixed with a bound of its size (uint32 LE). */
const LZ4_NAPI_PREFIX = 4;

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

/** FLG bits of an LZ4 frame descriptor. */
const LZ4_FLG_VERSION_SHIFT = 6;
const LZ4_FLG_INDEPENDENT_BLOCKS = 0x20;
const LZ4_FLG_BLOCK_CHECKSUM = 0x10;
const LZ4_FLG_CONTENT_SIZE = 0x08;
const LZ4_FLG_RESERVED = 0x02;
const LZ4_FLG_DICT_ID = 0x01;
const LZ4_MAGIC = 0x184d2204;
/** Input of `uncompressSync`: a uint32 LE output-size bound, then the raw block; reused. */
let lz4BlockInput = Buffer.allocUnsafeSlow(LZ4_BLOCK_SIZE + LZ4_NAPI_PREFIX);

/**
 * Reads one LZ4 frame with independent blocks, any block size (64 KiB-4 MiB), optional content
 * size, block checksums and content checksum. Checksums are skipped, not verified: the batch CRC
 * already covers these bytes (Kafka verifies block checksums and skips the content checksum).
 * Frames with linked blocks, which Kafka rejects, go to lz4-napi's frame decoder.
 *
 * Blocks are decoded with `uncompressSync`, whose result is an ordinary buffer; the frame decoder's
 * result is an external buffer that is only freed after the event loop turns, so decoding many
 * batches in one synchronous loop would pile those up (2.5 GB after 20k batches of 100 KiB).
 */
function lz4DecompressFrame(data: Buffer, maxBytes: number): Buffer {
  if (data.length < 7 || data.readUInt32LE(0) !== LZ4_MAGIC) throw new Error('not an LZ4 frame (bad magic number)');
  const flg = data[4]!;
  const bd = data[5]!;
  if (flg >>> LZ4_FLG_VERSION_SHIFT !== 1) throw new Error(`unsupported LZ4 frame version ${flg >>> LZ4_FLG_VERSION_SHIFT}`);
  if ((flg & (LZ4_FLG_RESERVED | LZ4_FLG_DICT_ID)) !== 0) throw new Error('LZ4 frames with a dictionary are not supported');
  const blockSizeId = (bd >>> 4) & 0x07;
  if (blockSizeId < 4 || (bd & 0x8f) !== 0) throw new Error(`invalid LZ4 block descriptor 0x${bd.toString(16)}`);
  if ((flg & LZ4_FLG_INDEPENDENT_BLOCKS) === 0) return lz4LinkedFrame(data, maxBytes);
  const maxBlockSize = 1 << (2 * blockSizeId + 8);
  let total = 0;
  const checksumSize = (flg & LZ4_FLG_BLOCK_CHECKSUM) !== 0 ? 4 : 0;
  let pos = 6 + ((flg & LZ4_FLG_CONTENT_SIZE) !== 0 ? 8 : 0) + 1; // descriptor, then header checksum
  const parts: Buffer[] = [];
  for (;;) {
    if (data.length - pos < 4) throw new Error('truncated LZ4 frame: no end mark');
    const sizeField = data.readUInt32LE(pos);
    pos += 4;
    if (sizeField === 0) break;
    const size = sizeField & 0x7fffffff;
    if (size > maxBlockSize || size > data.length - pos) throw new Error(`LZ4 block of ${size} bytes at byte ${pos - 4} is invalid`);
    const block = data.subarray(pos, pos + size);
    const out = sizeField === size ? lz4BoundedBlock(block, maxBlockSize, maxBytes - total, maxBytes) : block;
    total += out.length;
    if (total > maxBytes) throw inflatesPast('lz4', maxBytes);
    parts.push(out);
    pos += size + checksumSize;
  }
  // A content checksum may follow the end mark; like Kafka, ignore it.
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * A compressed block decoded into at most `room` bytes: the decoder allocates the bound it is
 * given and fails when the block needs more, so a block is never inflated past the room left.
 */
function lz4BoundedBlock(block: Buffer, maxBlockSize: number, room: number, maxBytes: number): Buffer {
  if (room >= maxBlockSize) return lz4DecompressBlock(block, maxBlockSize);
  try {
    return lz4DecompressBlock(block, room);
  } catch (err) {
    throw inflatesPast('lz4', maxBytes, err);
  }
}

/**
 * Linked blocks (Kafka never writes them, and rejects them) go to lz4-napi's frame decoder, which
 * has no output limit: they are taken only when even the worst case (LZ4 inflates at most 255x)
 * stays within the limit.
 */
function lz4LinkedFrame(data: Buffer, maxBytes: number): Buffer {
  if (data.length * 255 > maxBytes) throw inflatesPast('lz4', maxBytes);
  const out = Buffer.from(lz4().decompressFrameSync(data));
  if (out.length > maxBytes) throw inflatesPast('lz4', maxBytes);
  return out;
}

function lz4DecompressBlock(block: Buffer, maxBlockSize: number): Buffer {
  if (lz4BlockInput.length < block.length + LZ4_NAPI_PREFIX) lz4BlockInput = Buffer.allocUnsafeSlow(block.length + LZ4_NAPI_PREFIX);
  lz4BlockInput.writeUInt32LE(maxBlockSize, 0);
  block.copy(lz4BlockInput, LZ4_NAPI_PREFIX);
  return lz4().uncompressSync(lz4BlockInput.subarray(0, block.length + LZ4_NAPI_PREFIX));
}

// ---------------------------------------------------------------------------------------------
// Snappy, xerial snappy-java stream framing

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = XERIAL_MAGIC.length + 8;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/**
 * Copy results into ordinary buffers: the default external buffers are only freed after the event
 * loop turns, so a long synchronous loop would pile them up (2.5 GB after 20k calls of 100 KiB).
 */
const SNAPPY_OPTIONS: SnappyOptions = { copyOutputData: true, asBuffer: true };
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

function startsWithXerialMagic(data: Buffer, pos: number): boolean {
  return data.length - pos >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, pos, pos + XERIAL_MAGIC.length) === 0;
}

/** A raw snappy block, refused before decoding when its declared length passes `room`. */
function snappyBlock(data: Uint8Array, room: number): Buffer {
  // A snappy block starts with its uncompressed length as a varint (at most 32 bits).
  if (snappyDeclaredLength(data) > room) throw new RangeError('snappy block too large');
  const out = snappy().uncompressSync(data, SNAPPY_OPTIONS);
  const buffer = typeof out === 'string' ? Buffer.from(out) : out;
  if (buffer.length > room) throw new RangeError('snappy block too large');
  return buffer;
}

function snappyDeclaredLength(data: Uint8Array): number {
  let value = 0;
  for (let i = 0, shift = 0; i < 5 && i < data.length; i++, shift += 7) {
    const byte = data[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return value;
  }
  return Number.MAX_SAFE_INTEGER; // unterminated: the decoder would refuse it anyway
}

function xerialSnappyDecompress(data: Buffer, maxBytes: number): Buffer {
  try {
    return xerialSnappyParts(data, maxBytes);
  } catch (err) {
    if (err instanceof RangeError && err.message === 'snappy block too large') throw inflatesPast('snappy', maxBytes);
    throw err;
  }
}

function xerialSnappyParts(data: Buffer, maxBytes: number): Buffer {
  if (!startsWithXerialMagic(data, 0)) return snappyBlock(data, maxBytes);
  let total = 0;
  const parts: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (startsWithXerialMagic(data, pos)) {
      // A stream header, at the start or where two streams were concatenated.
      if (data.length - pos < XERIAL_HEADER_SIZE) throw new Error('truncated xerial snappy header');
      pos += XERIAL_HEADER_SIZE;
      continue;
    }
    if (data.length - pos < 4) throw new Error(`truncated xerial snappy chunk length at byte ${pos}`);
    const length = data.readInt32BE(pos);
    pos += 4;
    if (length < 0 || length > data.length - pos) {
      throw new Error(`xerial snappy chunk of ${length} bytes at byte ${pos - 4} exceeds the data`);
    }
    const part = snappyBlock(data.subarray(pos, pos + length), maxBytes - total);
    total += part.length;
    parts.push(part);
    pos += length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
