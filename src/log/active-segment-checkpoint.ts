import fs from 'node:fs';
import path from 'node:path';
import { ACTIVE_SEGMENT_CHECKPOINT, logFile, offsetIndexFile } from '../files/file-names.js';
import { writeFileAtomically } from '../files/checkpoint.js';
import { removeFile } from './truncation-intent.js';
import type { LogSegment } from '../segment/log-segment.js';

/**
 * seglog's own record, written by a clean `close()`, of how far the active segment's batches were
 * checked from its first (its `BatchChain`), with what its `.log` and offset index looked like
 * then (inode, size, ctime, mtime, in nanoseconds). The next clean open that finds both files as
 * described trusts it instead of walking every batch header of the segment again (the walk that
 * keeps appends after a damaged batch readable, see docs/HOSTILE-INPUT.md): a file changed since
 * has another ctime, which no one can set back. Both ctimes must also be older than the record
 * itself: a change made in the same clock tick as the close's last one would keep the ctime (the
 * kernel stamps files from a coarse clock), and is then still found by the walk. Anything that
 * does not match, or cannot be read, means a walk, never an error. Kafka does not know the file
 * and never reads it.
 */
const VERSION = 1;
/** How long a close tries to leave a record that will be believed: the kernel's coarse clock moves every 1-10 ms (CONFIG_HZ). */
const PERSIST_MAX_MS = 20;

interface FileState {
  ino: string;
  size: string;
  ctimeNs: string;
  mtimeNs: string;
}

interface Content {
  version: number;
  baseOffset: number;
  end: number;
  lastOffset: number;
  log: FileState;
  index: FileState;
}

/** What a clean close left of the active segment's check: `[0, end)` walked, its last batch ending at `lastOffset`. */
export interface CheckedChain {
  end: number;
  lastOffset: number;
}

function stateOf(file: string): FileState | null {
  try {
    const s = fs.statSync(file, { bigint: true });
    return { ino: String(s.ino), size: String(s.size), ctimeNs: String(s.ctimeNs), mtimeNs: String(s.mtimeNs) };
  } catch {
    return null;
  }
}

function sameState(a: unknown, b: FileState): boolean {
  if (typeof a !== 'object' || a === null) return false;
  const s = a as Record<string, unknown>;
  return s.ino === b.ino && s.size === b.size && s.ctimeNs === b.ctimeNs && s.mtimeNs === b.mtimeNs;
}

/**
 * The last step of a clean close before the clean-shutdown mark (the segment's files closed, so
 * nothing changes them after): records the active segment's check, or removes an older record
 * when there is nothing whole to record.
 */
export function writeActiveSegmentCheckpoint(dir: string, active: LogSegment | undefined): void {
  const file = path.join(dir, ACTIVE_SEGMENT_CHECKPOINT);
  const chain = active?.checkedChain;
  const log = active === undefined ? null : stateOf(logFile(dir, active.baseOffset));
  const index = active === undefined ? null : stateOf(offsetIndexFile(dir, active.baseOffset));
  if (active === undefined || chain === undefined || log === null || index === null || chain.end !== active.log.size || log.size !== String(chain.end)) {
    removeFile(file);
    return;
  }
  const content: Content = { version: VERSION, baseOffset: active.baseOffset, end: chain.end, lastOffset: chain.lastOffset, log, index };
  const body = JSON.stringify(content);
  const lastChange = BigInt(log.ctimeNs) > BigInt(index.ctimeNs) ? BigInt(log.ctimeNs) : BigInt(index.ctimeNs);
  // A record of the same clock tick as the files' last change is not believed (see above). Its
  // write is stamped from the fine clock where the kernel can (see `writeFileAtomically`), which
  // makes the first write the last; where it cannot, it is written again until the tick has
  // passed. The deadline is looked at before each write, so a close held up past it (a busy
  // machine) still writes once more, in a later tick.
  const deadline = Date.now() + PERSIST_MAX_MS;
  for (;;) {
    const last = Date.now() >= deadline;
    writeFileAtomically(file, body, true);
    if (last || fs.statSync(file, { bigint: true }).mtimeNs > lastChange) return;
  }
}

/**
 * After a clean shutdown: the active segment's check as the last close recorded it, when the
 * record is about this segment and its `.log` and offset index are exactly as they were then;
 * otherwise why not, in words (the open reports it, and walks the segment).
 */
export function readActiveSegmentCheckpoint(dir: string, active: LogSegment): CheckedChain | string {
  const file = path.join(dir, ACTIVE_SEGMENT_CHECKPOINT);
  let body: string;
  let writtenNs: bigint;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY);
    try {
      writtenNs = fs.fstatSync(fd, { bigint: true }).mtimeNs;
      body = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return `no record: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  let c: Partial<Content>;
  try {
    c = JSON.parse(body) as Partial<Content>;
  } catch {
    return 'record unreadable';
  }
  if (typeof c !== 'object' || c === null || c.version !== VERSION || c.baseOffset !== active.baseOffset) return 'record of another segment or version';
  const { end, lastOffset } = c;
  if (!Number.isSafeInteger(end) || end !== active.log.size || !Number.isSafeInteger(lastOffset)) return 'record of another length';
  // An empty segment's chain ends before its base offset; any other ends at or after it.
  if (end === 0 ? lastOffset !== active.baseOffset - 1 : lastOffset! < active.baseOffset) return 'record of impossible offsets';
  const log = stateOf(logFile(dir, active.baseOffset));
  const index = stateOf(offsetIndexFile(dir, active.baseOffset));
  if (log === null || !sameState(c.log, log)) return '.log changed since the record';
  if (index === null || !sameState(c.index, index)) return 'offset index changed since the record';
  if (BigInt(log.ctimeNs) >= writtenNs || BigInt(index.ctimeNs) >= writtenNs) return 'record of the same clock tick as the last change';
  return { end: end!, lastOffset: lastOffset! };
}
