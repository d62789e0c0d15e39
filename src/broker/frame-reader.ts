/**
 * Kafka's framing on one connection's byte stream: a 4-byte size, then that many bytes.
 *
 * A frame that lies whole inside one received chunk is handed on as a view of that chunk: no
 * copy. A frame that spans chunks (a produce larger than one read) is assembled in the
 * connection's own buffer: the reads after its first land there directly (`readTarget`), and
 * what came in the shared buffer is copied once, while it is still in cache. That buffer is reused
 * from frame to frame, so a steady stream of large produces allocates nothing per request (no
 * fresh pages to fault in, no external memory for the GC to chase). Nothing of a chunk is kept
 * once `push` returns, so the caller may read the next chunk into the same memory (the server
 * reads every connection into one shared buffer). Handing on views of reused memory is safe
 * because `decodeRequest` copies every field out of the frame except `records`, and Produce, the
 * only request with records, appends them before its handler returns.
 */

/** Bytes of the size prefix of every frame. */
export const SIZE_PREFIX = 4;

/**
 * Frames up to this size are assembled in the reused buffer; a larger one (up to
 * `maxRequestBytes`) gets a buffer of its own, so one huge request does not pin its size in
 * memory for the rest of the connection.
 */
export const REUSED_FRAME_LIMIT = 8 * 1024 * 1024;

/**
 * The least of a frame still to come for the next socket read to land in the frame itself
 * (`readTarget`); below it, one read into the shared buffer also takes what follows the frame.
 */
export const IN_PLACE_READ_MIN = 64 * 1024;

/** What the reader does with a frame: `handle` gets each whole frame, `refuse` a size it will not read. */
export interface FrameSink {
  /** A whole frame (without its size). Valid only until this call returns. */
  handle(frame: Buffer): void;
  /** A size below 0 or over the limit: the stream cannot be read on. */
  refuse(size: number): void;
  /** False once the connection is closed: the reader stops. */
  readonly open: boolean;
}

export class FrameReader {
  /** The size prefix when it straddles two chunks. */
  private readonly sizeBytes = Buffer.alloc(SIZE_PREFIX);
  private sizeFilled = 0;
  /** The frame being assembled (null between frames), its size and how much of it has arrived. */
  private frame: Buffer | null = null;
  private frameSize = 0;
  private filled = 0;
  private reused: Buffer | null = null;
  /** Where `readSize` left the chunk position. */
  private afterSize = 0;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly sink: FrameSink,
  ) {}

  /** Bytes of a frame (or size prefix) received and not yet handed on. */
  get buffered(): number {
    return this.frame === null ? this.sizeFilled : SIZE_PREFIX + this.filled;
  }

  /** Takes the next chunk of the stream; hands on every frame it completes, in order. `chunk` may be reused once this returns. */
  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && this.sink.open) {
      if (this.frame === null) {
        const size = this.readSize(chunk, pos);
        pos = this.afterSize;
        if (size === null) return;
        if (size < 0 || size > this.maxFrameBytes) {
          this.sink.refuse(size);
          return;
        }
        if (chunk.length - pos >= size) {
          this.sink.handle(chunk.subarray(pos, pos + size));
          pos += size;
          continue;
        }
        this.frame = this.destination(size);
        this.frameSize = size;
        this.filled = 0;
      }
      const n = Math.min(this.frameSize - this.filled, chunk.length - pos);
      if (!this.landedInPlace(chunk, pos)) chunk.copy(this.frame, this.filled, pos, pos + n);
      this.filled += n;
      pos += n;
      if (this.filled === this.frameSize) {
        const frame = this.frame.subarray(0, this.frameSize);
        this.frame = null;
        this.sink.handle(frame);
      }
    }
  }

  /**
   * Where the next read should land: the rest of the frame being assembled when enough of it is
   * still to come (a large produce then reaches its buffer with no copy), else null.
   */
  readTarget(): Buffer | null {
    if (this.frame === null || this.frameSize - this.filled < IN_PLACE_READ_MIN) return null;
    return this.frame.subarray(this.filled, this.frameSize);
  }

  /** True when the bytes at `chunk[pos]` were read straight into the frame where they belong. */
  private landedInPlace(chunk: Buffer, pos: number): boolean {
    const frame = this.frame!;
    return chunk.buffer === frame.buffer && chunk.byteOffset + pos === frame.byteOffset + this.filled;
  }

  /**
   * Reads the size prefix starting at `pos` (completing one that straddled the previous chunk);
   * null when the chunk ends first. Sets `afterSize` to the position after the prefix.
   */
  private readSize(chunk: Buffer, pos: number): number | null {
    if (this.sizeFilled === 0 && chunk.length - pos >= SIZE_PREFIX) {
      this.afterSize = pos + SIZE_PREFIX;
      return chunk.readInt32BE(pos);
    }
    const n = Math.min(SIZE_PREFIX - this.sizeFilled, chunk.length - pos);
    chunk.copy(this.sizeBytes, this.sizeFilled, pos, pos + n);
    this.sizeFilled += n;
    this.afterSize = pos + n;
    if (this.sizeFilled < SIZE_PREFIX) return null;
    this.sizeFilled = 0;
    return this.sizeBytes.readInt32BE(0);
  }

  private destination(size: number): Buffer {
    if (size > REUSED_FRAME_LIMIT) return Buffer.allocUnsafeSlow(size);
    if (this.reused === null || this.reused.length < size) {
      // Grown in whole 64 KiB steps, so a stream of slightly growing frames does not reallocate each time.
      this.reused = Buffer.allocUnsafeSlow(Math.min(REUSED_FRAME_LIMIT, Math.ceil(size / 65536) * 65536));
    }
    return this.reused;
  }
}
