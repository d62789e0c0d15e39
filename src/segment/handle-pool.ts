/**
 * A bound on the files a log holds open for its inactive segments. Each segment holds a `.log`
 * descriptor, and a writer's segment whose indexes were used holds two more descriptors and two
 * mappings; a reader holds index entries in memory. A log of tens of thousands of segments would
 * otherwise run into the process's descriptor limit (`ulimit -n`, often 1,024 and sometimes 256)
 * and `vm.max_map_count`. Kafka asks its operators for limits of 100,000; an embedded library
 * cannot ask that of the application around it.
 *
 * The pool keeps the segments in the order of their last use; when more than `limit` are open, it
 * closes the least recently used ones (`LogSegment.releaseHandles`), which open again on their
 * next use. The active segment of a writer is never closed.
 */

/**
 * Default bound of the pool shared by every log of a process: 64 inactive segments, at most about
 * 200 descriptors for a writer (a `.log` and two index files each), well under a limit of 256.
 */
export const DEFAULT_OPEN_SEGMENTS = 64;

/** What the pool needs of a segment. */
export interface PooledSegment {
  /** True for the writer's active segment: never closed by the pool. */
  readonly pinned: boolean;
  /** Closes the segment's descriptors and mappings (they reopen on the next use). */
  releaseHandles(): void;
}

export class HandlePool {
  // A Map iterates in insertion order: deleting and setting again moves an entry to the end, so
  // the first entries are the least recently used.
  private readonly open = new Map<PooledSegment, true>();

  constructor(readonly limit: number) {}

  /** Number of segments counted as open. */
  get size(): number {
    return this.open.size;
  }

  /** `segment` is being used (and holds open files): the most recently used from now on. */
  use(segment: PooledSegment): void {
    if (this.open.delete(segment)) {
      this.open.set(segment, true);
      return;
    }
    this.open.set(segment, true);
    if (this.open.size > this.limit) this.evict();
  }

  /** `segment` closed its files or went away. */
  forget(segment: PooledSegment): void {
    this.open.delete(segment);
  }

  private evict(): void {
    for (const segment of this.open.keys()) {
      if (this.open.size <= this.limit) return;
      if (segment.pinned) continue;
      this.open.delete(segment);
      segment.releaseHandles();
    }
  }
}
