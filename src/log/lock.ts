import fs from 'node:fs';
import { openForWriting } from '../files/no-follow.js';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LogIOError, LogLockedError } from '../errors.js';
import { LOCK_FILE } from '../files/file-names.js';

const require = createRequire(import.meta.url);
const { tryLock, unlock } = require('fs-native-extensions') as {
  tryLock(fd: number): boolean;
  unlock(fd: number): void;
};

/**
 * The single-writer lock of a partition directory: an exclusive lock on `.seglog.lock`, taken
 * with `fs-native-extensions` (on Linux an open-file-description lock, `fcntl(F_OFD_SETLK)`; on
 * macOS `flock`). Both belong to the open file description and the kernel drops them when its
 * last descriptor closes, so a process that dies, even by `kill -9`, never leaves a stale lock;
 * two opens in one process conflict too. The descriptor is close-on-exec, so a child process
 * does not inherit the lock. Read-only openers never take it. On network file systems the lock
 * is only as good as the file system's lock support.
 */
export class DirectoryLock {
  private fd: number | null;

  private constructor(readonly file: string, fd: number) {
    this.fd = fd;
  }

  /** Takes the lock or throws `LogLockedError` naming the directory. */
  static acquire(dir: string): DirectoryLock {
    const file = path.join(dir, LOCK_FILE);
    // Never through a link: a link to a missing path would create a file outside the directory.
    const fd = openForWriting(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND, `cannot open lock file ${file}`);
    let granted = false;
    try {
      granted = tryLock(fd);
    } catch (cause) {
      fs.closeSync(fd);
      throw new LogIOError(`cannot lock ${file}`, { file, cause });
    }
    if (!granted) {
      fs.closeSync(fd);
      throw new LogLockedError(`partition directory ${dir} is locked by another writer (${file})`, { file });
    }
    return new DirectoryLock(file, fd);
  }

  release(): void {
    if (this.fd === null) return;
    try {
      unlock(this.fd);
    } finally {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}
