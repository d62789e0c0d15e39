import path from 'node:path';

/**
 * Every file name and suffix of a partition directory, in one place (Kafka's LogFileUtils).
 * A segment's files share a prefix: its base offset as 20 zero-padded decimal digits.
 */

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
export const TXN_INDEX_SUFFIX = '.txnindex';
/** Appended to a segment's file names when it is scheduled for deletion. */
export const DELETED_SUFFIX = '.deleted';
/** Appended while a rewritten segment is being produced (Kafka's cleaner and split). */
export const CLEANED_SUFFIX = '.cleaned';
/** Appended to rewritten files that are ready to replace the originals. */
export const SWAP_SUFFIX = '.swap';
/** Suffix of files written first and renamed into place. */
export const TMP_SUFFIX = '.tmp';
/**
 * seglog's own: `<base>.log.truncating` records a `truncateTo` in progress on the segment with
 * that base offset (the cut and the rewritten batch), so the loader can finish it after a crash.
 */
export const TRUNCATING_SUFFIX = '.truncating';

/** The writer's lock file; seglog's own, beside the segments. */
export const LOCK_FILE = '.seglog.lock';

/**
 * seglog's own: how far a clean close had checked the active segment's batches, and what its files
 * looked like then (src/log/active-segment-checkpoint.ts).
 */
export const ACTIVE_SEGMENT_CHECKPOINT = '.seglog-active-segment';

/** The cleaner's position (src/cleaner/cleaner-checkpoint.ts), in Kafka's checkpoint format. */
export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint';

/** Kafka's clean-shutdown mark: its existence is what counts. seglog keeps it in the partition directory. */
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';

/** The named consumers' offsets (seglog's own, in Kafka's offset-checkpoint text layout). */
export const CONSUMER_OFFSETS_FILE = 'consumer-offsets-checkpoint';
/** Held while a process rewrites `CONSUMER_OFFSETS_FILE`. */
export const CONSUMER_OFFSETS_LOCK = CONSUMER_OFFSETS_FILE + '.lock';

const OFFSET_DIGITS = 20;

/** `42` -> `'00000000000000000042'`. */
export function filenamePrefixFromOffset(offset: number): string {
  return String(offset).padStart(OFFSET_DIGITS, '0');
}

/** Parses the base offset from a segment file name: the text before the first '.'; NaN if it is not 20 digits. */
export function offsetFromFileName(fileName: string): number {
  const base = path.basename(fileName);
  const dot = base.indexOf('.');
  const prefix = dot < 0 ? base : base.slice(0, dot);
  if (prefix.length !== OFFSET_DIGITS || !/^\d+$/.test(prefix)) return NaN;
  return Number(prefix);
}

export function logFile(dir: string, baseOffset: number, suffix = ''): string {
  return path.join(dir, filenamePrefixFromOffset(baseOffset) + LOG_SUFFIX + suffix);
}

export function offsetIndexFile(dir: string, baseOffset: number, suffix = ''): string {
  return path.join(dir, filenamePrefixFromOffset(baseOffset) + INDEX_SUFFIX + suffix);
}

export function timeIndexFile(dir: string, baseOffset: number, suffix = ''): string {
  return path.join(dir, filenamePrefixFromOffset(baseOffset) + TIME_INDEX_SUFFIX + suffix);
}

export function txnIndexFile(dir: string, baseOffset: number, suffix = ''): string {
  return path.join(dir, filenamePrefixFromOffset(baseOffset) + TXN_INDEX_SUFFIX + suffix);
}

/** True for `N.log`, where N is 20 digits. */
export function isLogFile(fileName: string): boolean {
  return fileName.endsWith(LOG_SUFFIX) && !Number.isNaN(offsetFromFileName(fileName)) && fileName.length === OFFSET_DIGITS + LOG_SUFFIX.length;
}

/** True for `N.index` or `N.timeindex` or `N.txnindex`. */
export function isIndexFile(fileName: string): boolean {
  if (Number.isNaN(offsetFromFileName(fileName))) return false;
  const rest = fileName.slice(OFFSET_DIGITS);
  return rest === INDEX_SUFFIX || rest === TIME_INDEX_SUFFIX || rest === TXN_INDEX_SUFFIX;
}
