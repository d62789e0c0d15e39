/**
 * Decompression a piece at a time: an `Inflater` hands out a records section's decompressed bytes
 * in order, one piece per `next()`, so a read that needs only the first records of a huge batch
 * stops early and holds about one piece, not the whole section (`decodeRecords` uses it for reads
 * that want fewer records than the batch has). `compression.ts` drains the same readers for a
 * whole-section decompress, so each framing is parsed in one place.
 *
 * - lz4 (Kafka's frame) and snappy (xerial framing): one block or chunk per piece (64 KiB and
 *   32 KiB as Kafka writes them); each is refused before it is decoded when it would pass the
 *   limit (see `decompress`).
 * - zstd: fzstd's streaming decoder, fed the compressed bytes a slice at a time (1 KiB, doubling
 *   to 64 KiB); a piece is a block it produced (at most 128 KiB).
 * - gzip: zlib has no synchronous streaming, so each piece inflates a longer prefix of the
 *   compressed bytes (doubling, with a sync flush, which yields whatever that prefix decodes to)
 *   and returns the part not handed out before: at most twice the work of one pass, and memory
 *   for the prefix inflated so far.
 */
import zlib from 'node:zlib';
import { isSeglogError, CorruptRecordError } from '../errors.js';
import { fzstd, inflatesPast, lz4, snappy, type SnappyOptions } from './codec-modules.js';
import type { CompressionType } from './types.js';

/** Decompressed bytes of one records section, a piece at a time. */
export interface Inflater {
  /** The next piece (never empty), or null after the last. Throws `CorruptRecordError`. */
  next(): Buffer | null;
}

/** An inflater for the records section `data` of codec `type` (not `'none'`), limited to `maxBytes` in all. */
export function inflater(type: CompressionType, data: Buffer, maxBytes: number): Inflater {
  let reader: Inflater;
  try {
    reader = codecReader(type, data, maxBytes);
  } catch (err) {
    throw codecError(type, maxBytes, err);
  }
  return {
    next(): Buffer | null {
      try {
        return reader.next();
      } catch (err) {
        throw codecError(type, maxBytes, err);
      }
    },
  };
}

/** Every piece of `reader`, joined. */
export function drain(reader: Inflater): Buffer {
  const first = reader.next();
  if (first === null) return Buffer.alloc(0);
  const second = reader.next();
  if (second === null) return first;
  const parts = [first, second];
  for (let part = reader.next(); part !== null; part = reader.next()) parts.push(part);
  return Buffer.concat(parts);
}

function codecReader(type: CompressionType, data: Buffer, maxBytes: number): Inflater {
  switch (type) {
    case 'gzip':
      return new GzipPrefixReader(data, maxBytes);
    case 'lz4':
      return new Lz4FrameReader(data, maxBytes);
    case 'snappy':
      return new XerialSnappyReader(data, maxBytes);
    case 'zstd':
      return new ZstdStreamReader(data, maxBytes);
    default:
      throw new CorruptRecordError(`no incremental decoder for ${String(type)}`);
  }
}

/** What a codec's failure becomes: seglog errors as they are, a too-large output as the limit's error, the rest as corrupt data. */
export function codecError(type: CompressionType, maxBytes: number, err: unknown): Error {
  if (isSeglogError(err)) return err as Error;
  if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return inflatesPast(type, maxBytes, err);
  if (err instanceof RangeError && err.message === SNAPPY_TOO_LARGE) return inflatesPast(type, maxBytes);
  const reason = err instanceof Error ? err.message : String(err);
  return new CorruptRecordError(`${type} data could not be decompressed: ${reason}`, { cause: err });
}

// ---------------------------------------------------------------------------------------------
// gzip

/** Compressed bytes inflated by the first gzip step: at most about 1 MiB of output (deflate inflates at most ~1032x). */
const GZIP_FIRST_PREFIX = 1024;

class GzipPrefixReader implements Inflater {
  private prefix = 0;
  /** Decompressed bytes handed out so far. */
  private handed = 0;

  constructor(
    private readonly data: Buffer,
    private readonly maxBytes: number,
  ) {}

  next(): Buffer | null {
    while (this.prefix < this.data.length) {
      this.prefix = Math.min(this.data.length, this.prefix === 0 ? GZIP_FIRST_PREFIX : this.prefix * 2);
      const whole = this.prefix === this.data.length;
      // The whole input is inflated with the normal finish, so a cut-off stream is an error.
      const out = whole
        ? zlib.gunzipSync(this.data, { maxOutputLength: this.maxBytes })
        : zlib.gunzipSync(this.data.subarray(0, this.prefix), { maxOutputLength: this.maxBytes, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      if (out.length > this.handed) {
        const piece = out.subarray(this.handed);
        this.handed = out.length;
        return piece;
      }
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// zstd

/**
 * Compressed bytes fed to the zstd decoder at first, doubling up to the most: a slice of highly
 * compressible input can decode to many blocks at once, and the first records are often all a
 * read wants; later slices are larger because fzstd joins the input it holds on every push.
 */
const ZSTD_FIRST_SLICE = 1024;
const ZSTD_MAX_SLICE = 64 * 1024;

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The decompressed size the first zstd frame of `data` declares (Frame_Content_Size), or -1 when
 * it declares none or `data` is not a whole zstd frame header. A frame that declares more than
 * the limit is refused before decoding: fzstd sizes its window from that field, so a bomb would
 * otherwise cost the window's touched pages on top of the blocks decoded before the cap trips.
 */
export function zstdDeclaredSize(data: Uint8Array): number {
  if (data.length < 6 || (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0 !== ZSTD_MAGIC) return -1;
  const descriptor = data[4]!;
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictIdBytes = [0, 1, 2, 4][descriptor & 3]!;
  const sizeBytes = sizeFlag === 0 ? singleSegment : 1 << sizeFlag;
  if (sizeBytes === 0) return -1;
  const at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
  if (data.length < at + sizeBytes) return -1;
  let size = 0;
  for (let i = sizeBytes - 1; i >= 0; i--) size = size * 256 + data[at + i]!;
  return sizeBytes === 2 ? size + 256 : size;
}

/** Throws the limit's error when the first frame of `data` declares more than `maxBytes`. */
export function refuseDeclaredZstdBomb(data: Uint8Array, maxBytes: number): void {
  if (zstdDeclaredSize(data) > maxBytes) throw inflatesPast('zstd', maxBytes);
}

class ZstdStreamReader implements Inflater {
  private readonly decoder: { push(chunk: Uint8Array, final?: boolean): void };
  private readonly ready: Buffer[] = [];
  private fed = 0;
  private slice = ZSTD_FIRST_SLICE;
  private finished = false;
  private total = 0;

  constructor(
    private readonly data: Buffer,
    private readonly maxBytes: number,
  ) {
    refuseDeclaredZstdBomb(data, maxBytes);
    const { Decompress } = fzstd();
    this.decoder = new Decompress((chunk) => {
      this.total += chunk.length;
      if (this.total > this.maxBytes) throw inflatesPast('zstd', this.maxBytes);
      this.ready.push(Buffer.from(chunk)); // a copy: the decoder reuses its window
    });
  }

  next(): Buffer | null {
    while (this.ready.length === 0 && !this.finished) {
      const end = Math.min(this.data.length, this.fed + this.slice);
      this.slice = Math.min(ZSTD_MAX_SLICE, this.slice * 2);
      this.finished = end === this.data.length;
      this.decoder.push(this.data.subarray(this.fed, end), this.finished);
      this.fed = end;
    }
    return this.ready.shift() ?? null;
  }
}

// ---------------------------------------------------------------------------------------------
// LZ4, Kafka framing (see compression.ts for the layout)

const LZ4_FLG_VERSION_SHIFT = 6;
const LZ4_FLG_INDEPENDENT_BLOCKS = 0x20;
const LZ4_FLG_BLOCK_CHECKSUM = 0x10;
const LZ4_FLG_CONTENT_SIZE = 0x08;
const LZ4_FLG_RESERVED = 0x02;
const LZ4_FLG_DICT_ID = 0x01;
const LZ4_MAGIC = 0x184d2204;
/** lz4-napi's `uncompressSync` wants the block prefixed with a bound of its size (uint32 LE). */
const LZ4_NAPI_PREFIX = 4;
/** Input of `uncompressSync`: a uint32 LE output-size bound, then the raw block; reused. */
let lz4BlockInput = Buffer.allocUnsafeSlow(64 * 1024 + LZ4_NAPI_PREFIX);

/**
 * Reads one LZ4 frame with independent blocks, any block size (64 KiB-4 MiB), optional content
 * size, block checksums and content checksum, a block per piece. Checksums are skipped, not
 * verified: the batch CRC already covers these bytes (Kafka verifies block checksums and skips
 * the content checksum). Frames with linked blocks, which Kafka rejects, go whole to lz4-napi's
 * frame decoder, as one piece.
 *
 * Blocks are decoded with `uncompressSync`, whose result is an ordinary buffer; the frame decoder's
 * result is an external buffer that is only freed after the event loop turns, so decoding many
 * batches in one synchronous loop would pile those up (2.5 GB after 20k batches of 100 KiB).
 */
class Lz4FrameReader implements Inflater {
  private pos: number;
  private total = 0;
  private readonly maxBlockSize: number;
  private readonly checksumSize: number;
  private readonly linked: boolean;
  private done = false;

  constructor(
    private readonly data: Buffer,
    private readonly maxBytes: number,
  ) {
    if (data.length < 7 || data.readUInt32LE(0) !== LZ4_MAGIC) throw new Error('not an LZ4 frame (bad magic number)');
    const flg = data[4]!;
    const bd = data[5]!;
    if (flg >>> LZ4_FLG_VERSION_SHIFT !== 1) throw new Error(`unsupported LZ4 frame version ${flg >>> LZ4_FLG_VERSION_SHIFT}`);
    if ((flg & (LZ4_FLG_RESERVED | LZ4_FLG_DICT_ID)) !== 0) throw new Error('LZ4 frames with a dictionary are not supported');
    const blockSizeId = (bd >>> 4) & 0x07;
    if (blockSizeId < 4 || (bd & 0x8f) !== 0) throw new Error(`invalid LZ4 block descriptor 0x${bd.toString(16)}`);
    this.linked = (flg & LZ4_FLG_INDEPENDENT_BLOCKS) === 0;
    this.maxBlockSize = 1 << (2 * blockSizeId + 8);
    this.checksumSize = (flg & LZ4_FLG_BLOCK_CHECKSUM) !== 0 ? 4 : 0;
    this.pos = 6 + ((flg & LZ4_FLG_CONTENT_SIZE) !== 0 ? 8 : 0) + 1; // descriptor, then header checksum
  }

  next(): Buffer | null {
    if (this.done) return null;
    if (this.linked) {
      this.done = true;
      return lz4LinkedFrame(this.data, this.maxBytes);
    }
    const data = this.data;
    for (;;) {
      if (data.length - this.pos < 4) throw new Error('truncated LZ4 frame: no end mark');
      const sizeField = data.readUInt32LE(this.pos);
      this.pos += 4;
      // A content checksum may follow the end mark; like Kafka, ignore it.
      if (sizeField === 0) {
        this.done = true;
        return null;
      }
      const size = sizeField & 0x7fffffff;
      if (size > this.maxBlockSize || size > data.length - this.pos) throw new Error(`LZ4 block of ${size} bytes at byte ${this.pos - 4} is invalid`);
      const block = data.subarray(this.pos, this.pos + size);
      const out = sizeField === size ? lz4BoundedBlock(block, this.maxBlockSize, this.maxBytes - this.total, this.maxBytes) : block;
      this.total += out.length;
      if (this.total > this.maxBytes) throw inflatesPast('lz4', this.maxBytes);
      this.pos += size + this.checksumSize;
      if (out.length > 0) return out;
    }
  }
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
// Snappy, xerial snappy-java stream framing (see compression.ts for the layout)

export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
export const XERIAL_HEADER_SIZE = XERIAL_MAGIC.length + 8;
/**
 * Copy results into ordinary buffers: the default external buffers are only freed after the event
 * loop turns, so a long synchronous loop would pile them up (2.5 GB after 20k calls of 100 KiB).
 */
export const SNAPPY_OPTIONS: SnappyOptions = { copyOutputData: true, asBuffer: true };
const SNAPPY_TOO_LARGE = 'snappy block too large';

function startsWithXerialMagic(data: Buffer, pos: number): boolean {
  return data.length - pos >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, pos, pos + XERIAL_MAGIC.length) === 0;
}

/** A raw snappy block, refused before decoding when its declared length passes `room`. */
function snappyBlock(data: Uint8Array, room: number): Buffer {
  // A snappy block starts with its uncompressed length as a varint (at most 32 bits).
  if (snappyDeclaredLength(data) > room) throw new RangeError(SNAPPY_TOO_LARGE);
  const out = snappy().uncompressSync(data, SNAPPY_OPTIONS);
  const buffer = typeof out === 'string' ? Buffer.from(out) : out;
  if (buffer.length > room) throw new RangeError(SNAPPY_TOO_LARGE);
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

/** Xerial-framed snappy a chunk per piece; input without the header is one raw snappy block, as snappy-java reads it. */
class XerialSnappyReader implements Inflater {
  private pos = 0;
  private total = 0;
  private readonly raw: boolean;

  constructor(
    private readonly data: Buffer,
    private readonly maxBytes: number,
  ) {
    this.raw = !startsWithXerialMagic(data, 0);
  }

  next(): Buffer | null {
    const data = this.data;
    if (this.raw) {
      if (this.pos > 0) return null;
      this.pos = data.length;
      const block = snappyBlock(data, this.maxBytes);
      return block.length > 0 ? block : null;
    }
    while (this.pos < data.length) {
      if (startsWithXerialMagic(data, this.pos)) {
        // A stream header, at the start or where two streams were concatenated.
        if (data.length - this.pos < XERIAL_HEADER_SIZE) throw new Error('truncated xerial snappy header');
        this.pos += XERIAL_HEADER_SIZE;
        continue;
      }
      if (data.length - this.pos < 4) throw new Error(`truncated xerial snappy chunk length at byte ${this.pos}`);
      const length = data.readInt32BE(this.pos);
      this.pos += 4;
      if (length < 0 || length > data.length - this.pos) {
        throw new Error(`xerial snappy chunk of ${length} bytes at byte ${this.pos - 4} exceeds the data`);
      }
      const part = snappyBlock(data.subarray(this.pos, this.pos + length), this.maxBytes - this.total);
      this.total += part.length;
      this.pos += length;
      if (part.length > 0) return part;
    }
    return null;
  }
}
