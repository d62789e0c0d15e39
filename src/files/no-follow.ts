import fs from 'node:fs';
import { InvalidArgumentError, LogIOError } from '../errors.js';

/**
 * seglog never writes, truncates or creates a file through a symbolic link it did not make: a
 * link named like a segment, index, checkpoint or lock file could point anywhere, and writing
 * through it would damage a file outside the partition directory. Every open for writing adds
 * `O_NOFOLLOW` (the kernel refuses a link as the last path component, so no check-then-open
 * race), and a writer refuses a directory holding such a link before it starts. Reading through
 * a link stays allowed (read-only opens, the CLI): it changes nothing.
 *
 * Platforms without `O_NOFOLLOW` (Windows) get 0 here; there the `lstat` check before opening
 * a directory is the guard.
 */
export const O_NOFOLLOW: number = fs.constants.O_NOFOLLOW ?? 0;

/** The typed error for a link where seglog would write. */
export function symlinkRefused(file: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    `${file} is a symbolic link: seglog never writes, truncates or creates a file through a link it did not make (open the log read-only to read through it)`,
    cause === undefined ? { file } : { file, cause },
  );
}

/** True when `err` is what `open` with `O_NOFOLLOW` reports for a link (ELOOP; EMLINK on FreeBSD). */
export function isNoFollowRefusal(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ELOOP' || code === 'EMLINK';
}

/**
 * `fs.openSync(file, flags | O_NOFOLLOW, mode)` for writing: a link at `file` throws
 * `symlinkRefused`, any other failure `LogIOError` with `what` as its message.
 */
export function openForWriting(file: string, flags: number, what: string, mode = 0o644): number {
  try {
    return fs.openSync(file, flags | O_NOFOLLOW, mode);
  } catch (cause) {
    if (isNoFollowRefusal(cause)) throw symlinkRefused(file, cause);
    throw new LogIOError(`${what}: ${(cause as Error).message}`, { file, cause });
  }
}

/** True when `file` exists and is a symbolic link (never follows it). */
export function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
