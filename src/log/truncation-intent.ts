import fs from 'node:fs';
import path from 'node:path';
import { CorruptRecordError, LogIOError } from '../errors.js';
import { fsyncDirectory } from '../files/checkpoint.js';
import { O_NOFOLLOW, isNoFollowRefusal, symlinkRefused } from '../files/no-follow.js';
import { TRUNCATING_SUFFIX, isIndexFile, isLogFile, logFile, offsetFromFileName, offsetIndexFile, timeIndexFile } from '../files/file-names.js';
import { noteWrite } from '../files/write-epoch.js';

/**
 * The intent file of a `truncateTo` (`<base>.log.truncating`): its format, and the loader's part
 * of the protocol, which finishes a truncation a crash interrupted. The protocol is described in
 * `src/retention/truncation.ts`, which writes the intent; this module sits below it (layer 5) so
 * that the loader can complete one without importing retention.
 */

/** What a truncation writes, as recorded in the intent file. */
export interface TruncationPlan {
  /** The new log end offset. */
  offset: number;
  /** Base offset of the segment that holds `offset` (it is cut; every later segment goes). */
  baseOffset: number;
  /** Byte position in that segment's `.log` of the first batch that goes (or is rewritten). */
  position: number;
  /** The rewritten batch written at `position`, or null when the cut is at a batch boundary. */
  batch: Buffer | null;
}

const INTENT_VERSION = 0;

export function encodeIntent(plan: TruncationPlan): string {
  return `${JSON.stringify({
    version: INTENT_VERSION,
    offset: plan.offset,
    baseOffset: plan.baseOffset,
    position: plan.position,
    batch: plan.batch === null ? null : plan.batch.toString('base64'),
  })}\n`;
}

function decodeIntent(file: string): TruncationPlan {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new CorruptRecordError(`truncation intent ${file} cannot be read: ${(cause as Error).message}`, { file, cause });
  }
  const p = parsed as Record<string, unknown>;
  const ok =
    typeof p === 'object' &&
    p !== null &&
    p.version === INTENT_VERSION &&
    isOffset(p.offset) &&
    isOffset(p.baseOffset) &&
    isOffset(p.position) &&
    (p.batch === null || typeof p.batch === 'string') &&
    p.baseOffset === offsetFromFileName(file) &&
    (p.offset as number) >= (p.baseOffset as number);
  if (!ok) throw new CorruptRecordError(`truncation intent ${file} is not valid`, { file });
  return {
    offset: p.offset as number,
    baseOffset: p.baseOffset as number,
    position: p.position as number,
    batch: p.batch === null ? null : Buffer.from(p.batch as string, 'base64'),
  };
}

function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The loader's part (writable opens, before anything else is looked at): finishes every
 * truncation whose intent file is among `names` (the directory's listing, so that a clean open of
 * a large log lists it once; see the module comment) and calls `report` for each.
 * Throws `CorruptRecordError` for an intent file that cannot be parsed (it was written
 * atomically, so that is damage, not a crash) and `LogIOError` when a write fails.
 */
export function completePendingTruncation(dir: string, names: readonly string[], report: (file: string, detail: string) => void): void {
  const intents = names.filter((n) => n.endsWith(`.log${TRUNCATING_SUFFIX}`) && !Number.isNaN(offsetFromFileName(n)));
  for (const name of intents) {
    const file = path.join(dir, name);
    const plan = decodeIntent(file);
    redo(dir, plan);
    removeFile(file);
    fsyncDirectory(dir);
    report(logFile(dir, plan.baseOffset), `finished truncateTo(${plan.offset}) interrupted by a crash`);
  }
}

/** Step 3 of the protocol from the intent alone; idempotent. */
function redo(dir: string, plan: TruncationPlan): void {
  for (const name of listNames(dir)) {
    if ((isLogFile(name) || isIndexFile(name)) && offsetFromFileName(name) > plan.baseOffset) removeFile(path.join(dir, name));
  }
  const file = logFile(dir, plan.baseOffset);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | O_NOFOLLOW);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
    if (isNoFollowRefusal(cause)) throw symlinkRefused(file, cause);
    throw new LogIOError(`cannot open ${file}: ${(cause as Error).message}`, { file, cause });
  }
  try {
    // Shorter than the cut position: not a state the protocol leaves; recovery deals with the file.
    if (fs.fstatSync(fd).size >= plan.position) {
      fs.ftruncateSync(fd, plan.position);
      const batch = plan.batch;
      if (batch !== null) {
        let written = 0;
        while (written < batch.length) written += fs.writeSync(fd, batch, written, batch.length - written, plan.position + written);
      }
      fs.fdatasyncSync(fd);
      noteWrite();
    }
  } catch (cause) {
    throw new LogIOError(`cannot finish the truncation of ${file}: ${(cause as Error).message}`, { file, position: plan.position, cause });
  } finally {
    fs.closeSync(fd);
  }
  // The indexes may hold entries past the cut: the loader rebuilds missing indexes from the `.log`.
  removeFile(offsetIndexFile(dir, plan.baseOffset));
  removeFile(timeIndexFile(dir, plan.baseOffset));
  fsyncDirectory(dir);
}

function listNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch (cause) {
    throw new LogIOError(`cannot list partition directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
  }
}

export function removeFile(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch (cause) {
    throw new LogIOError(`cannot remove ${file}: ${(cause as Error).message}`, { file, cause });
  }
}
