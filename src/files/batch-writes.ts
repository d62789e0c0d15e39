/**
 * Several batches written to their files in one call (native/writes.c): the calling thread and a
 * worker thread of the addon share the writes, so a topic's partitions are written at once, as
 * Kafka's request handler threads write different partitions. Where the addon or its
 * `writeBatches` is missing, or `SEGLOG_WRITE_THREADS=1` asks for one thread (a machine whose
 * other CPUs are always busy: there a worker that cannot run in time only adds waiting),
 * `BatchWrites.available()` is false and callers write one batch at a time with `fs.writeSync`
 * (the `Log` path).
 */
import { errnoException } from './descriptors.js';
import { nativeAddon } from './native.js';

/** `BatchWrites.available()`, decided on first use. */
let together: boolean | undefined;

/** Most writes one call hands to the worker as they come (native/writes.c's queue). */
const MAX_QUEUED = 256;
/** Below this many bytes in all, handing writes over as they come costs more than it saves (see native/writes.c). */
const MIN_QUEUED_BYTES = 8 * 1024;

/**
 * The writes of one call, kept from call to call (a call allocates nothing here). Either handed
 * to the addon's worker one by one as they are added (`start` made it a queued call: the worker
 * writes a batch while the caller makes the next), or all at once by `run`.
 */
export class BatchWrites {
  private fds = new Int32Array(4);
  private lengths = new Float64Array(4);
  private positions = new Float64Array(4);
  private results = new Float64Array(4);
  private readonly buffers: Uint8Array[] = [];
  private count = 0;
  /** True between a `start` that took the worker and `run`. */
  private queued = false;

  /** True where the addon can write batches together and `SEGLOG_WRITE_THREADS` does not say 1. */
  static available(): boolean {
    together ??= nativeAddon()?.writeBatches !== undefined && process.env.SEGLOG_WRITE_THREADS !== '1';
    return together;
  }

  /**
   * Empties the list (and drops the references to the last call's buffers). A started call whose
   * `run` never came (the caller's JS was cut short) is forgotten: the addon ends it at this
   * thread's next `start`, while a `run` of the next call would write its stale batches.
   */
  clear(): void {
    this.buffers.length = 0;
    this.count = 0;
    this.queued = false;
  }

  /**
   * Starts a call of `count` writes of about `bytes` in all: where the worker can be had, each
   * write is handed to it as it is added. Then `run` must end the call before anything else runs
   * (the addon holds the buffers' memory until then): callers put it in a `finally`.
   */
  start(count: number, bytes: number): void {
    const addon = nativeAddon();
    this.queued = count >= 2 && count <= MAX_QUEUED && bytes >= MIN_QUEUED_BYTES && addon?.startWrites !== undefined && addon.startWrites();
  }

  /** Adds the write of `buffer[0, length)` to `fd` at `position`; returns its index. */
  add(fd: number, buffer: Uint8Array, length: number, position: number): number {
    const i = this.count++;
    if (i === this.fds.length) this.grow();
    this.fds[i] = fd;
    this.buffers[i] = buffer;
    this.lengths[i] = length;
    this.positions[i] = position;
    this.results[i] = NaN; // a write that never ran reads as failed
    if (this.queued && !nativeAddon()!.queueWrite!(fd, buffer, length, position)) throw new Error(`BatchWrites: more than ${MAX_QUEUED} writes queued`);
    return i;
  }

  /**
   * Writes everything added that is not written yet, on this thread and the addon's worker, and
   * returns when every write has ended (ending a started call); then `failure(i)` tells how write
   * `i` went. Needs `available()`.
   */
  run(): void {
    const addon = nativeAddon()!;
    if (this.queued) {
      this.queued = false;
      addon.finishWrites!(this.results);
    } else if (this.count > 0) {
      addon.writeBatches!(this.fds, this.buffers, this.lengths, this.positions, this.results, this.count);
    }
  }

  /** After `run`: null when write `i` wrote all its bytes, else an errno error of Node's shape. */
  failure(i: number): NodeJS.ErrnoException | null {
    const result = this.results[i]!;
    if (result === this.lengths[i]) return null;
    // A short count is not expected from the addon: EIO (5).
    return errnoException(result < 0 ? -result : 5, 'write');
  }

  private grow(): void {
    const size = this.fds.length * 2;
    const grown = <T extends Int32Array | Float64Array>(from: T, to: T): T => (to.set(from), to);
    this.fds = grown(this.fds, new Int32Array(size));
    this.lengths = grown(this.lengths, new Float64Array(size));
    this.positions = grown(this.positions, new Float64Array(size));
    this.results = new Float64Array(size);
  }
}
