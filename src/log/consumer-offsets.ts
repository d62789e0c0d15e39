import fs from 'node:fs';
import { openForWriting } from '../files/no-follow.js';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CorruptCheckpointError, InvalidArgumentError, LogIOError } from '../errors.js';
import { writeFileAtomically } from '../files/checkpoint.js';

/**
 * The consumer offsets of one partition: `consumer-offsets-checkpoint` in the partition
 * directory, in the text layout of Kafka's offset checkpoint files:
 *
 * ```
 * 0                  version
 * 2                  number of entries
 * audit 17           <consumer name> <committed offset>
 * billing -1 retain  -1: no commit yet; `retain`: the consumer holds back retention
 * ```
 *
 * Entries are sorted by name. A consumer appears once it has committed or asked for
 * `retainUncommitted`. Names have no whitespace, so a line splits on spaces.
 *
 * Writes are read-modify-write under an exclusive flock on `consumer-offsets-checkpoint.lock`
 * (so consumers of different processes never lose each other's commits), then write-to-temp,
 * fsync, rename and directory fsync (`writeFileAtomically`): a crash leaves the old file or the
 * new one. In one process, the commits of a tick are written together (one write, one sync).
 */

export const CONSUMER_OFFSETS_FILE = 'consumer-offsets-checkpoint';
export const CONSUMER_OFFSETS_LOCK = CONSUMER_OFFSETS_FILE + '.lock';
const VERSION = 0;
const NO_OFFSET = -1;
const RETAIN_FLAG = 'retain';
export const MAX_CONSUMER_NAME_LENGTH = 249;
/** Retry period while another process holds the lock. */
const LOCK_RETRY_MS = 2;
/** A synchronous writer gives up after this long (another process holding the lock that long is stuck). */
const SYNC_LOCK_TIMEOUT_MS = 10_000;

const require = createRequire(import.meta.url);
const { tryLock, unlock } = require('fs-native-extensions') as {
  tryLock(fd: number): boolean;
  unlock(fd: number): void;
};

/** One consumer's persisted state. */
export interface ConsumerEntry {
  /** The committed offset (the next offset to read), or null before the first commit. */
  offset: number | null;
  /** Whether retention keeps what this consumer has not committed past. */
  retain: boolean;
}

export type ConsumerTable = Map<string, ConsumerEntry>;

/**
 * Throws `InvalidArgumentError` unless `name` is 1 to 249 characters with no whitespace, control
 * character or lone UTF-16 surrogate. A lone surrogate has no UTF-8 form: it would be stored as
 * U+FFFD, and two such names would become one repeated name in the file.
 */
export function requireConsumerName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidArgumentError(`consumer name must be a string, got ${typeof name}`);
  if (name.length === 0 || name.length > MAX_CONSUMER_NAME_LENGTH) {
    throw new InvalidArgumentError(`consumer name must be 1 to ${MAX_CONSUMER_NAME_LENGTH} characters, got ${name.length}`);
  }
  if (/[\s\p{Cc}\p{Cs}]/u.test(name)) {
    throw new InvalidArgumentError(`consumer name must not contain whitespace, control characters or lone surrogates, got ${JSON.stringify(name)}`);
  }
  return name;
}

export function formatConsumerOffsets(table: ConsumerTable): string {
  const names = [...table.keys()].sort();
  const lines = [String(VERSION), String(names.length)];
  for (const name of names) {
    const entry = table.get(name)!;
    const offset = entry.offset ?? NO_OFFSET;
    lines.push(entry.retain ? `${name} ${offset} ${RETAIN_FLAG}` : `${name} ${offset}`);
  }
  return lines.join('\n') + '\n';
}

/** Parses the file's text; throws `CorruptCheckpointError` naming `file` when it is malformed. */
export function parseConsumerOffsets(text: string, file: string): ConsumerTable {
  const corrupt = (why: string): CorruptCheckpointError => new CorruptCheckpointError(`consumer offsets file ${file} is malformed: ${why}`, { file });
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 2) throw corrupt('fewer than two lines');
  if (lines[0] !== String(VERSION)) throw corrupt(`unknown version ${JSON.stringify(lines[0])}`);
  const count = Number(lines[1]);
  if (!/^\d+$/.test(lines[1]!) || !Number.isSafeInteger(count)) throw corrupt(`bad entry count ${JSON.stringify(lines[1])}`);
  if (lines.length - 2 !== count) throw corrupt(`${count} entries announced, ${lines.length - 2} found`);
  const table: ConsumerTable = new Map();
  for (const line of lines.slice(2)) {
    const parts = line.split(' ');
    const [name, offsetText, flag] = parts;
    if (parts.length < 2 || parts.length > 3 || name === undefined || offsetText === undefined) throw corrupt(`bad line ${JSON.stringify(line)}`);
    if (name.length === 0 || /[\s\p{Cc}]/u.test(name) || table.has(name)) throw corrupt(`bad or repeated name in ${JSON.stringify(line)}`);
    const offset = Number(offsetText);
    if (!/^-?\d+$/.test(offsetText) || !Number.isSafeInteger(offset) || offset < NO_OFFSET) throw corrupt(`bad offset in ${JSON.stringify(line)}`);
    if (flag !== undefined && flag !== RETAIN_FLAG) throw corrupt(`unknown flag in ${JSON.stringify(line)}`);
    table.set(name, { offset: offset === NO_OFFSET ? null : offset, retain: flag === RETAIN_FLAG });
  }
  return table;
}

/** The table in `dir` (empty when there is no file). Throws `LogIOError`, `CorruptCheckpointError`. */
export function readConsumerOffsets(dir: string): ConsumerTable {
  const file = path.join(dir, CONSUMER_OFFSETS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new LogIOError(`cannot read consumer offsets file ${file}: ${(cause as Error).message}`, { file, cause });
  }
  return parseConsumerOffsets(text, file);
}

/**
 * The offset retention must keep for the consumers of `dir` that asked for `retainUncommitted`:
 * the lowest committed offset among them (0, keep everything, for one that has not committed
 * yet), or null when there are none. Never throws: a file it cannot read or parse keeps
 * everything (0), since deleting what a consumer still needs cannot be undone.
 */
export function retainedConsumerFloor(dir: string): number | null {
  let table: ConsumerTable;
  try {
    table = readConsumerOffsets(dir);
  } catch {
    return 0;
  }
  let floor: number | null = null;
  for (const entry of table.values()) {
    if (!entry.retain) continue;
    const offset = entry.offset ?? 0;
    if (floor === null || offset < floor) floor = offset;
  }
  return floor;
}

/** Takes the cross-process lock of `dir` if it is free: returns its fd, or null when another process holds it. */
function tryLockDir(dir: string): number | null {
  const file = path.join(dir, CONSUMER_OFFSETS_LOCK);
  const fd = openForWriting(
    file,
    fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND,
    `cannot open ${file} (committing consumer offsets needs a writable partition directory)`,
  );
  try {
    if (tryLock(fd)) return fd;
  } catch (cause) {
    fs.closeSync(fd);
    throw new LogIOError(`cannot lock ${file}: ${(cause as Error).message}`, { file, cause });
  }
  fs.closeSync(fd);
  return null;
}

function unlockDir(fd: number): void {
  try {
    unlock(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Under the lock: read the table, apply `change`, write it back if it changed. */
function rewrite(dir: string, change: (table: ConsumerTable) => boolean): void {
  const table = readConsumerOffsets(dir);
  if (change(table)) writeFileAtomically(path.join(dir, CONSUMER_OFFSETS_FILE), formatConsumerOffsets(table));
}

/**
 * Read-modify-write in place, blocking until the lock is free (for `log.consumer()` setting its
 * `retainUncommitted` flag, which is synchronous). `change` returns whether it changed the table.
 */
export function updateConsumerOffsetsSync(dir: string, change: (table: ConsumerTable) => boolean): void {
  const deadline = Date.now() + SYNC_LOCK_TIMEOUT_MS;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    // In this process every holder of the lock releases it in the same tick, so only another
    // process can make us wait here.
    const fd = tryLockDir(dir);
    if (fd !== null) {
      try {
        rewrite(dir, change);
      } finally {
        unlockDir(fd);
      }
      return;
    }
    if (Date.now() > deadline) {
      throw new LogIOError(`timed out waiting for the lock ${path.join(dir, CONSUMER_OFFSETS_LOCK)}`, { file: path.join(dir, CONSUMER_OFFSETS_LOCK) });
    }
    Atomics.wait(sleeper, 0, 0, LOCK_RETRY_MS);
  }
}

/**
 * After `truncateTo(offset)`: every committed offset past `offset` becomes `offset`, so that a
 * consumer resumes at the new end and reads what is appended there (a commit left past the end
 * would skip those records once the log grows back). Writes only when something changes.
 */
export function clampConsumerOffsets(dir: string, offset: number): void {
  let table: ConsumerTable;
  try {
    table = readConsumerOffsets(dir);
  } catch {
    return;
  }
  if (![...table.values()].some((e) => e.offset !== null && e.offset > offset)) return;
  updateConsumerOffsetsSync(dir, (t) => {
    let changed = false;
    for (const entry of t.values()) {
      if (entry.offset !== null && entry.offset > offset) {
        entry.offset = offset;
        changed = true;
      }
    }
    return changed;
  });
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The commits of one partition directory in this process: those made in the same tick are
 * written together, then every one of their promises resolves (or rejects with the write's
 * error). While another process holds the lock, it retries every 2 ms.
 */
class CommitQueue {
  private static readonly byDir = new Map<string, CommitQueue>();
  private pending = new Map<string, number>();
  private waiters: Waiter[] = [];
  private scheduled = false;

  private constructor(private readonly dir: string) {}

  static of(dir: string): CommitQueue {
    let queue = CommitQueue.byDir.get(dir);
    if (queue === undefined) {
      queue = new CommitQueue(dir);
      CommitQueue.byDir.set(dir, queue);
    }
    return queue;
  }

  add(name: string, offset: number): Promise<void> {
    this.pending.set(name, offset);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
    return done;
  }

  private run(): void {
    let fd: number | null;
    try {
      fd = tryLockDir(this.dir);
    } catch (err) {
      this.settle(err);
      return;
    }
    if (fd === null) {
      setTimeout(() => this.run(), LOCK_RETRY_MS);
      return;
    }
    const batch = this.pending;
    try {
      rewrite(this.dir, (table) => {
        for (const [name, offset] of batch) table.set(name, { offset, retain: table.get(name)?.retain ?? false });
        return true;
      });
    } catch (err) {
      this.settle(err);
      return;
    } finally {
      unlockDir(fd);
    }
    this.settle(null);
  }

  private settle(err: unknown): void {
    const waiters = this.waiters;
    this.pending = new Map();
    this.waiters = [];
    this.scheduled = false;
    CommitQueue.byDir.delete(this.dir);
    for (const w of waiters) {
      if (err === null) w.resolve();
      else w.reject(err);
    }
  }
}

/** Durably records `offset` as `name`'s committed offset in `dir`; resolves once it is on disk. */
export function commitConsumerOffset(dir: string, name: string, offset: number): Promise<void> {
  return CommitQueue.of(dir).add(name, offset);
}
