import fs from 'node:fs';
import path from 'node:path';
import { CorruptRecordError, LogIOError } from '../errors.js';
import { BatchCursor } from '../segment/batch-cursor.js';
import { FileRecords } from '../segment/file-records.js';
import { CLEANED_SUFFIX, LOG_SUFFIX, SWAP_SUFFIX, isLogFile, offsetFromFileName } from '../files/file-names.js';

/**
 * The loader's half of the cleaner's file protocol (Kafka's `LogLoader` on `.cleaned` and `.swap`
 * files). The cleaner writes `<base>.log.cleaned` and its indexes, renames them to `.swap`
 * (highest offset first), renames the segments they replace to `.deleted`, then drops the `.swap`
 * suffix. A crash can stop it anywhere; this module turns what it left into the log before or
 * the log after that step:
 *
 * - A `.cleaned` file is unfinished output: deleted. A `.swap` file at or above the lowest
 *   `.cleaned` base offset was renamed while its group still had `.cleaned` files (the rename to
 *   `.swap` was cut short): deleted too, so the old segments stay.
 * - Every other `.swap` belongs to a finished rewrite. Its `.log.swap` files cover the offsets from
 *   the lowest swap base offset to the highest next offset after a swap's last batch; every other
 *   segment file whose base offset lies in that range is an original not yet renamed `.deleted`:
 *   deleted. Then every `.swap` suffix is dropped.
 *
 * A read-only opener (another process, next to a writer that may be in the middle of a swap)
 * changes nothing: `readOnlySegmentFiles` gives it the same "after" view, opening the `.log.swap`
 * files in place of the originals they replace.
 */

/** One segment file a loader should open: `<base>.log<suffix>`. */
export interface SegmentFile {
  baseOffset: number;
  suffix: '' | typeof SWAP_SUFFIX;
}

/** What the writable recovery did, for the loader's report. */
export interface SwapRecoveryActions {
  /** Removes one file (by name in the directory), recording why. */
  remove(name: string, detail: string): void;
  /** Records that `name` was renamed to `target` (a path). */
  completed(name: string, target: string): void;
}

/**
 * Kafka's `removeTempFilesAndCollectSwapFiles` for the cleaner's files: removes every `.cleaned`
 * file and every `.swap` at or above the lowest `.cleaned` base offset. Returns the names left.
 */
export function removeUnfinishedRewrites(names: readonly string[], actions: SwapRecoveryActions): string[] {
  const minCleaned = lowestCleanedOffset(names);
  const left: string[] = [];
  for (const name of names) {
    if (!isSegmentFileName(name)) left.push(name);
    else if (name.endsWith(CLEANED_SUFFIX)) actions.remove(name, 'output of an unfinished clean or split');
    else if (name.endsWith(SWAP_SUFFIX) && offsetFromFileName(name) >= minCleaned) {
      actions.remove(name, 'swap file of an unfinished rewrite (at or above a .cleaned file)');
    } else left.push(name);
  }
  return left;
}

/**
 * Kafka's second and fourth passes over the valid `.swap` files: deletes the originals they
 * replace, then renames each `.swap` to its final name. `names` is the directory after
 * `removeUnfinishedRewrites`. Returns true when anything changed.
 */
export function completeSwaps(dir: string, names: readonly string[], actions: SwapRecoveryActions): boolean {
  const swaps = names.filter((n) => n.endsWith(SWAP_SUFFIX) && isSegmentFileName(n));
  if (swaps.length === 0) return false;
  const range = swapRange(dir, swaps);
  for (const name of names) {
    if (name.endsWith(SWAP_SUFFIX) || !isSegmentFileName(name)) continue;
    const offset = offsetFromFileName(name);
    if (offset >= range.from && offset < range.to) actions.remove(name, 'replaced by a .swap file');
  }
  for (const name of swaps) {
    const target = path.join(dir, name.slice(0, -SWAP_SUFFIX.length));
    try {
      fs.renameSync(path.join(dir, name), target);
    } catch (cause) {
      throw new LogIOError(`cannot rename ${path.join(dir, name)} to ${target}: ${(cause as Error).message}`, { file: target, cause });
    }
    actions.completed(name, target);
  }
  return true;
}

/**
 * The segments a read-only opener sees in a directory listing: the same as the writer would after
 * `removeUnfinishedRewrites` and `completeSwaps`, without touching anything. The `.log.swap` files
 * of a finished rewrite are opened under their `.swap` names, and the `.log` files they replace
 * are left out. Sorted by base offset.
 */
export function readOnlySegmentFiles(dir: string, names: readonly string[]): SegmentFile[] {
  const minCleaned = lowestCleanedOffset(names);
  const swaps = names.filter((n) => n.endsWith(LOG_SUFFIX + SWAP_SUFFIX) && isSegmentFileName(n) && offsetFromFileName(n) < minCleaned);
  const files: SegmentFile[] = [];
  const range = swaps.length === 0 ? { from: 0, to: 0 } : swapRange(dir, swaps);
  for (const name of names) {
    if (!isLogFile(name)) continue;
    const offset = offsetFromFileName(name);
    if (offset < range.from || offset >= range.to) files.push({ baseOffset: offset, suffix: '' });
  }
  for (const name of swaps) files.push({ baseOffset: offsetFromFileName(name), suffix: SWAP_SUFFIX });
  return files.sort((a, b) => a.baseOffset - b.baseOffset);
}

function lowestCleanedOffset(names: readonly string[]): number {
  let min = Number.MAX_SAFE_INTEGER;
  for (const name of names) {
    if (name.endsWith(CLEANED_SUFFIX) && isSegmentFileName(name)) min = Math.min(min, offsetFromFileName(name));
  }
  return min;
}

/** [lowest `.log.swap` base offset, highest next offset of a `.log.swap`). */
function swapRange(dir: string, swaps: readonly string[]): { from: number; to: number } {
  let from = Number.MAX_SAFE_INTEGER;
  let to = -1;
  for (const name of swaps) {
    if (!name.endsWith(LOG_SUFFIX + SWAP_SUFFIX)) continue;
    const base = offsetFromFileName(name);
    from = Math.min(from, base);
    to = Math.max(to, nextOffsetOfFile(path.join(dir, name), base));
  }
  return { from, to };
}

/**
 * The offset after the last whole batch of a `.log` file (its base offset when it has none).
 * A file renamed away meanwhile (by the writer completing its swap) reads as its base offset.
 */
function nextOffsetOfFile(file: string, baseOffset: number): number {
  let records: FileRecords;
  try {
    records = FileRecords.open(file, false);
  } catch (err) {
    if (isGone(err)) return baseOffset;
    throw err;
  }
  try {
    const cursor = new BatchCursor(records).seek(0);
    let next = baseOffset;
    try {
      while (cursor.next()) next = cursor.lastOffset + 1;
    } catch (err) {
      if (!(err instanceof CorruptRecordError)) throw err;
    }
    return next;
  } finally {
    records.close();
  }
}

/** True when `err` says a file is not there (directly, or as the cause of a `LogIOError`). */
export function isGone(err: unknown): boolean {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
  }
  return false;
}

/** `00000000000000000042.<anything>`: a name of a segment file, with or without a state suffix. */
export function isSegmentFileName(name: string): boolean {
  return name.length > 21 && name.charCodeAt(20) === 46 /* '.' */ && !Number.isNaN(offsetFromFileName(name));
}
