import fs from 'node:fs';
import path from 'node:path';
import { LogIOError, isSeglogError } from '../errors.js';
import { TMP_SUFFIX } from './file-names.js';
import { O_NOFOLLOW, openForWriting } from './no-follow.js';
import { noteWrite } from './write-epoch.js';

/**
 * Kafka's offset checkpoint files (`recovery-point-offset-checkpoint`,
 * `log-start-offset-checkpoint`): UTF-8 text, line 1 the version (0), line 2 the entry count,
 * then one `topic partition offset` line per entry. seglog keeps them inside the partition
 * directory, with the one entry for that partition (topic and partition parsed from the
 * directory name, `<topic>-<partition>`, as Kafka does).
 *
 * Written by write-to-temp, fsync, rename over the target and fsync of the directory, so a crash
 * leaves either the old or the new file. A file that cannot be parsed reads as "no entry"
 * (Kafka logs the error and starts from scratch, which for the recovery point means recover all).
 */

export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint';
const VERSION = 0;

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** `sensor-data-0` -> { topic: 'sensor-data', partition: 0 }; a name without `-N` is partition 0 of itself. */
export function topicPartitionOf(dir: string): TopicPartition {
  const name = path.basename(path.resolve(dir));
  const dash = name.lastIndexOf('-');
  const partition = dash > 0 ? Number(name.slice(dash + 1)) : NaN;
  if (dash > 0 && Number.isSafeInteger(partition) && partition >= 0 && /^\d+$/.test(name.slice(dash + 1))) {
    return { topic: name.slice(0, dash), partition };
  }
  return { topic: name, partition: 0 };
}

/**
 * The topic as written in a checkpoint line. A legal Kafka topic name is written as is (so the
 * files match Kafka's); any other directory name (`my orders-0`) has each character outside
 * Kafka's set written as `%` and four hex digits, so a line never holds whitespace or a newline
 * and what is written always reads back. Legal names have no `%`, so the two never collide.
 */
function checkpointTopic(topic: string): string {
  return topic.replace(/[^a-zA-Z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Reads the offset recorded for `tp`, or null when the file is missing, unreadable or has no entry. */
export function readCheckpoint(file: string, tp: TopicPartition): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines.length < 2 || Number(lines[0]) !== VERSION) return null;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || lines.length - 2 !== count) return null;
  for (const line of lines.slice(2)) {
    const [topic, partition, offset] = line.trim().split(/\s+/);
    if (topic === checkpointTopic(tp.topic) && Number(partition) === tp.partition) {
      const value = Number(offset);
      return Number.isSafeInteger(value) && value >= 0 ? value : null;
    }
  }
  return null;
}

/** Replaces the checkpoint atomically with one entry for `tp` (or none when `offset` is null). */
export function writeCheckpoint(file: string, tp: TopicPartition, offset: number | null): void {
  const body = offset === null ? `${VERSION}\n0\n` : `${VERSION}\n1\n${checkpointTopic(tp.topic)} ${tp.partition} ${offset}\n`;
  writeFileAtomically(file, body);
}

/**
 * Write to `<file>.tmp`, fsync, rename over `file`, fsync the directory. `fineStamp`: the
 * temporary's times are looked at before it is written, so that on a kernel with multigrain
 * timestamps (Linux 6.13 and later) the write stamps it from the fine clock, later than every
 * change made before it; otherwise its mtime is the coarse clock's, which the last fine stamp
 * handed out (a file changed after a `stat`) holds back to that stamp: equal to it, not later,
 * until the next tick (4 ms at HZ=250).
 */
export function writeFileAtomically(file: string, body: string | Buffer, fineStamp = false): void {
  const tmp = file + TMP_SUFFIX;
  // The temporary is always a new file of ours (O_CREAT | O_EXCL | O_NOFOLLOW): a link someone put
  // at its name is never written through. Whatever has the name (a leftover, such a link) is
  // removed and the create tried once more.
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;
  let fd: number;
  try {
    fd = fs.openSync(tmp, flags | O_NOFOLLOW, 0o644);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw new LogIOError(`cannot write ${file}: ${(cause as Error).message}`, { file, cause });
    try {
      fs.unlinkSync(tmp);
    } catch (unlinkCause) {
      throw new LogIOError(`cannot remove ${tmp}: ${(unlinkCause as Error).message}`, { file: tmp, cause: unlinkCause });
    }
    fd = openForWriting(tmp, flags, `cannot write ${file}`);
  }
  try {
    try {
      if (fineStamp) fs.fstatSync(fd);
      fs.writeFileSync(fd, body);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    noteWrite();
    fsyncDirectory(path.dirname(file));
  } catch (cause) {
    if (isSeglogError(cause)) throw cause;
    throw new LogIOError(`cannot write ${file}: ${(cause as Error).message}`, { file, cause });
  }
}

/** `fsyncDirectory` on the thread pool. Throws `LogIOError`. */
export async function fsyncDirectoryAsync(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch (cause) {
    throw new LogIOError(`fsync of directory ${dir} failed: ${(cause as Error).message}`, { file: dir, cause });
  } finally {
    await handle?.close();
  }
}

/** Makes file creations, renames and deletions in `dir` durable. */
export function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch (cause) {
    throw new LogIOError(`cannot open directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
  }
  try {
    fs.fsyncSync(fd);
  } catch (cause) {
    throw new LogIOError(`fsync of directory ${dir} failed: ${(cause as Error).message}`, { file: dir, cause });
  } finally {
    fs.closeSync(fd);
  }
}
