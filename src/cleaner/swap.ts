import { fsyncDirectoryAsync } from '../files/checkpoint.js';
import { CLEANED_SUFFIX, SWAP_SUFFIX } from '../files/file-names.js';
import type { LogSegment } from '../segment/log-segment.js';
import type { LocalLog } from '../log/local-log.js';

/** The steps of a swap, in order (crash tests copy the directory after each one). */
export type SwapStep = 'cleaned-written' | 'renamed-to-swap' | 'old-segments-retired' | 'swap-renamed';

/** @internal Test hook: called after each step of a swap. */
export const swapHooks: { afterStep: ((step: SwapStep) => void) | null } = { afterStep: null };

/** Where a swap renames the replaced segments to `.deleted` and deletes them later (retention's deleter). */
export interface SegmentRetirer {
  /** Renames to `.deleted` now, deletes later; `syncDirectory: false`: the caller fsyncs the directory. */
  retire(segments: readonly LogSegment[], syncDirectory?: boolean): void;
}

/** Calls the test hook, if any, after `step`. */
export function afterSwapStep(step: SwapStep): void {
  swapHooks.afterStep?.(step);
}

/**
 * Kafka's `LocalLog.replaceSegments` for one cleaned segment (its `.cleaned` files written and
 * flushed): the new files are renamed `.cleaned` -> `.swap` (`.log` first); the new segment takes
 * its place in the list and the old ones leave it; the old ones are renamed `.deleted` (their
 * deletion follows after `fileDeleteDelayMs`, so a reader holding one keeps reading); the `.swap`
 * suffix is dropped. The renames and the list change happen at once, between two appends (a few
 * renames: well under a millisecond); the directory fsync that makes them durable, as Kafka's
 * `flushDir` at the end of the swap, runs on the thread pool, and the returned promise resolves
 * after it. A crash at any point is finished or undone by the loader (src/log/swap-recovery.ts).
 */
export function replaceSegments(log: LocalLog, cleaned: LogSegment, old: readonly LogSegment[], retirer: SegmentRetirer): Promise<void> {
  cleaned.changeFileSuffixes(CLEANED_SUFFIX, SWAP_SUFFIX);
  afterSwapStep('renamed-to-swap');
  log.replaceSegments([cleaned], old);
  retirer.retire(old, false);
  afterSwapStep('old-segments-retired');
  cleaned.changeFileSuffixes(SWAP_SUFFIX, '');
  afterSwapStep('swap-renamed');
  return fsyncDirectoryAsync(log.dir);
}
