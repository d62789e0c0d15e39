/**
 * Closing the descriptors of segment and index files, whoever opened them. On a worker_thread,
 * Node's `fs` keeps a list of the descriptors it opened there and warns when `fs.closeSync`
 * closes any other ("File descriptor N closed but not opened in unmanaged mode"). The next
 * segment's files are opened by the addon's prepare thread (prepared-files.ts), so a descriptor
 * taken from there is noted here (`adoptDescriptor`) and closed by the addon. Every close of a
 * file that may hold such a descriptor goes through `closeDescriptor`: one closed by `fs` instead
 * would leave its number noted here, and a later file Node opens under that number would then be
 * closed past Node's list. On the main thread Node keeps no list, and nothing is noted.
 */
import fs from 'node:fs';
import util from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { nativeAddon } from './native.js';

/** This thread's descriptors that Node's `fs` did not open (empty on the main thread). */
const adopted = new Set<number>();

/** Notes that `fd`, opened by the addon, now belongs to this thread's files. */
export function adoptDescriptor(fd: number): void {
  if (!isMainThread) adopted.add(fd);
}

/** Closes `fd` as `fs.closeSync` does, errors included, through the addon when the addon opened it. */
export function closeDescriptor(fd: number): void {
  const closeFile = adopted.size > 0 && adopted.delete(fd) ? nativeAddon()?.closeFile : undefined;
  if (closeFile === undefined) {
    fs.closeSync(fd);
    return;
  }
  const errno = closeFile(fd);
  if (errno !== 0) throw errnoException(errno, 'close');
}

/** An error of the shape Node's `fs` throws for the positive `errno` of a failed `syscall`. */
export function errnoException(errno: number, syscall: string): NodeJS.ErrnoException {
  const [code, message] = util.getSystemErrorMap().get(-errno) ?? ['EIO', 'i/o error'];
  return Object.assign(new Error(`${code}: ${message}, ${syscall}`), { errno: -errno, code, syscall });
}
