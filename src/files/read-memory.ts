import { nativeAddon } from './native.js';

/** One slab: room for several bulk reads of the default 1 MiB, and at least three whole 2 MiB huge pages. */
const SLAB_BYTES = 8 * 1024 * 1024;
/** Reads larger than this get a buffer of their own: a slab is for many reads. */
const MAX_PLACED_BYTES = SLAB_BYTES / 4;
/**
 * Smaller reads (a follower's few new records) get a buffer of their own too: few pages to fault,
 * and a record such a read returned and the caller kept would otherwise keep a whole slab.
 */
const MIN_PLACED_BYTES = 64 * 1024;
const PAGE_BYTES = 4096;

/**
 * Memory for the bulk reads of a log (`read`, `readBatches`, `stream`), which the caller keeps:
 * each read gets a region of its own that no later read touches, so returned records and buffers
 * stay valid. Consecutive reads of 64 KiB to 2 MiB share an 8 MiB slab that the kernel backs
 * with transparent huge pages (`adviseHugePages`, Linux): a read into fresh memory otherwise
 * faults in and zeroes each 4 KiB page, which cost more than the kernel's copy itself (a scan's
 * page faults dropped ~12x and its CPU time ~16% with slabs). A kept view keeps its whole slab in
 * memory.
 *
 * Each region starts at the file position's offset within a page (the copy from the page cache
 * runs several times slower on this AMD CPU when the destination lies a few bytes past it).
 * Without the addon's advice (other systems, a stale binary) every read gets a fresh buffer:
 * slabs without huge pages measured slower than that.
 *
 * One for the process (`readMemory`): every log's reads share it, so at most one slab is held
 * for reads to come, however many logs and partitions are open.
 */
export class ReadMemory {
  private slab: Buffer | null = null;
  private used = 0;
  /** The slab's address modulo PAGE_BYTES. */
  private page = 0;
  /** Undefined until the first read asks (the addon is loaded then, not at import). */
  private usable: boolean | undefined;
  /** The slab highest in the brk heap so far, and its address (see `newSlab`). */
  private top: Buffer | null = null;
  private topAddress = -1;

  /** @internal The slab held as the highest in the brk heap (see `holdIfTop`), for the tests. */
  get heldTop(): Buffer | null {
    return this.top;
  }

  /** `length` bytes for a read from file position `position`. */
  take(length: number, position: number): Buffer {
    this.usable ??= nativeAddon()?.adviseHugePages !== undefined;
    if (!this.usable || length < MIN_PLACED_BYTES || length > MAX_PLACED_BYTES) return Buffer.allocUnsafe(length);
    let at = this.placeAfter(this.used, position);
    // A caller may detach the slab under us (a record's `buffer` transferred: structuredClone,
    // postMessage, ArrayBuffer.prototype.transfer); its views then have length 0, and a new slab
    // serves from there on.
    if (this.slab === null || this.slab.length === 0 || at + length > SLAB_BYTES) {
      if (!this.newSlab()) return Buffer.allocUnsafe(length);
      at = this.placeAfter(0, position);
    }
    this.used = at + length;
    return this.slab!.subarray(at, at + length);
  }

  /** The first index at or after `from` whose address has `position`'s offset within a page. */
  private placeAfter(from: number, position: number): number {
    return from + ((((position - this.page - from) % PAGE_BYTES) + PAGE_BYTES) % PAGE_BYTES);
  }

  private newSlab(): boolean {
    const slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    const page = nativeAddon()!.adviseHugePages!(slab.buffer);
    if (page < 0) {
      this.usable = false;
      this.slab = null;
      return false;
    }
    this.slab = slab;
    this.page = page;
    this.used = 0;
    this.holdIfTop(slab);
    return true;
  }

  /**
   * Keeps the slab that lies highest in the brk heap alive (8 MiB more held, never read into
   * again): the slabs freed below it then stay in the heap as free chunks that the next slabs
   * reuse, pages already faulted in. Without it, a collection that frees several slabs at once
   * leaves a free heap top past glibc's trim threshold (16 MiB once it has adapted to 8 MiB
   * buffers), which it hands back to the kernel, and the next slabs fault in and zero fresh
   * pages (huge pages: 2 MiB each). The process's malloc policy is left as it is: only memory
   * below this log's own slab is kept. Slabs mapped apart (above the break) are not tracked.
   * The cost is more than the 8 MiB: glibc trims only the heap's top, so all the heap below the
   * held slab stays resident once the reads end, up to the peak it reached during them.
   */
  private holdIfTop(slab: ReturnType<typeof Buffer.allocUnsafeSlow>): void {
    const address = nativeAddon()?.heapAddress?.(slab.buffer) ?? -1;
    if (address <= this.topAddress) return;
    this.top = slab;
    this.topAddress = address;
  }
}

/** The process's memory for bulk reads. */
export const readMemory = new ReadMemory();
