import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Log, LogIOError } from '../../../src/index.js';
import { rawBatches } from '../../support/raw-log.js';
import { SMALL, appendBatches, expectRecords, logFiles, partitionDir, recordFor } from './helpers.js';

/**
 * A write or a sync that fails (ENOSPC, EIO): `append` throws `LogIOError`, whatever part of the
 * batch reached the file is cut off again, the offsets do not move, and the log works on once
 * the cause is gone. Failures are injected by replacing `fs.writeSync`, `fs.ftruncateSync`,
 * `fs.fdatasync` and `fs.fdatasyncSync` on the `node:fs` default export, which is what seglog
 * calls; and, when the tests run as root, by a real 512 KiB tmpfs that fills up.
 */

function errno(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, syscall });
}

function nextBatch(log: Log, n = 3): ReturnType<typeof recordFor>[] {
  return Array.from({ length: n }, (_, i) => recordFor(log.endOffset + i));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a failing write', () => {
  it('is really intercepted: seglog writes batches through fs.writeSync', () => {
    const spy = vi.spyOn(fs, 'writeSync');
    const log = Log.open(partitionDir(), SMALL);
    appendBatches(log, 1);
    expect(spy).toHaveBeenCalled();
    log.close();
  });

  it('throws LogIOError, leaves no trace and no offset, and the log appends again once space returns', () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 10);
    const active = logFiles(dir).at(-1)!;
    const size = fs.statSync(active).size;
    vi.spyOn(fs, 'writeSync').mockImplementation(() => {
      throw errno('ENOSPC', 'write');
    });
    for (let i = 0; i < 3; i++) {
      let caught: unknown;
      try {
        log.append(nextBatch(log));
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(LogIOError);
      expect(caught).toMatchObject({ file: active, position: size });
      expect(((caught as Error).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
      expect(log.endOffset).toBe(30);
      expect(fs.statSync(active).size).toBe(size);
    }
    vi.restoreAllMocks();
    appendBatches(log, 5);
    expectRecords(log, 45);
    log.close();
    const reopened = Log.open(dir, SMALL);
    expect(reopened.recovery.actions).toEqual([]);
    expectRecords(reopened, 45);
    reopened.close();
  });

  it('cuts off the part of a batch written before the error', () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 10);
    const active = logFiles(dir).at(-1)!;
    const size = fs.statSync(active).size;
    const real = fs.writeSync.bind(fs) as (fd: number, buffer: Buffer, offset: number, length: number, position: number) => number;
    let calls = 0;
    const spy = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
      calls++;
      if (calls === 1) return real(fd, buffer, offset, Math.floor(length / 2), position);
      throw errno('ENOSPC', 'write');
    }) as typeof fs.writeSync);
    expect(() => log.append(nextBatch(log, 10))).toThrow(LogIOError);
    expect(calls).toBe(2);
    spy.mockRestore();
    expect(fs.statSync(active).size).toBe(size);
    expect(log.endOffset).toBe(30);
    appendBatches(log, 2);
    expectRecords(log, 36);
    log.close();
    expect(rawBatches(active).reduce((n, b) => n + b.size, 0)).toBe(fs.statSync(active).size);
  });

  it('overwrites a partial batch it could not cut off, and trims it at close', () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 10);
    const active = logFiles(dir).at(-1)!;
    const size = fs.statSync(active).size;
    const real = fs.writeSync.bind(fs) as (fd: number, buffer: Buffer, offset: number, length: number, position: number) => number;
    let calls = 0;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
      if (++calls === 1) return real(fd, buffer, offset, length - 3, position);
      throw errno('EIO', 'write');
    }) as typeof fs.writeSync);
    vi.spyOn(fs, 'ftruncateSync').mockImplementationOnce(() => {
      throw errno('EIO', 'ftruncate');
    });
    expect(() => log.append(nextBatch(log, 12))).toThrow(LogIOError);
    vi.restoreAllMocks();
    expect(fs.statSync(active).size).toBeGreaterThan(size); // the torn bytes are still there
    expect(log.endOffset).toBe(30);
    log.append(nextBatch(log, 1)); // shorter than the torn bytes
    expectRecords(log, 31);
    log.close();
    expect(rawBatches(active).reduce((n, b) => n + b.size, 0)).toBe(fs.statSync(active).size);
    const reopened = Log.open(dir, SMALL);
    expect(reopened.recovery.actions).toEqual([]);
    expectRecords(reopened, 31);
    reopened.close();
  });
});

describe('a failing sync', () => {
  it('rejects flush() with LogIOError; the log stays usable, and the next open re-checks from before the failure', async () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 20);
    await log.flush();
    appendBatches(log, 20);
    // Let the flushes started by the rolls finish: they made the rolled segments durable.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const activeBase = log.segments().at(-1)!.baseOffset;
    vi.spyOn(fs, 'fdatasync').mockImplementation(((_fd: number, callback: (err: Error | null) => void) => {
      setImmediate(() => callback(errno('EIO', 'fdatasync')));
    }) as typeof fs.fdatasync);
    await expect(log.flush()).rejects.toThrow(LogIOError);
    await expect(log.flush()).rejects.toThrow(/fdatasync/);
    vi.restoreAllMocks();
    appendBatches(log, 5);
    await log.flush();
    expectRecords(log, 135);
    log.close();
    // No clean-shutdown mark after a failed sync, and the recovery point on disk stayed before it.
    expect(fs.existsSync(path.join(dir, '.kafka_cleanshutdown'))).toBe(false);
    const reopened = Log.open(dir, SMALL);
    expect(reopened.recovery.cleanShutdown).toBe(false);
    expect(reopened.recovery.recoveryPoint).toBeLessThanOrEqual(activeBase);
    expect(reopened.recovery.segmentsRecovered).toBeGreaterThanOrEqual(1);
    expect(reopened.recovery.truncatedBytes).toBe(0);
    expectRecords(reopened, 135);
    reopened.close();
    const again = Log.open(dir, SMALL);
    expect(again.recovery.cleanShutdown).toBe(true);
    again.close();
  });

  it('throws LogIOError from flushSync(), and from close(), which still releases the lock', () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 10);
    vi.spyOn(fs, 'fdatasyncSync').mockImplementation(() => {
      throw errno('EIO', 'fdatasync');
    });
    expect(() => log.flushSync()).toThrow(LogIOError);
    appendBatches(log, 1);
    expect(() => log.close()).toThrow(LogIOError);
    vi.restoreAllMocks();
    expect(log.isClosed).toBe(true);
    const reopened = Log.open(dir, SMALL);
    expect(reopened.recovery.cleanShutdown).toBe(false);
    expectRecords(reopened, 33);
    reopened.close();
  });
});

/** Mounts a tmpfs of `kib` KiB (root only); null when that is not possible here. */
function smallFilesystem(kib: number): { dir: string; unmount: () => void } | null {
  if (process.getuid?.() !== 0 || os.platform() !== 'linux') return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-small-fs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir]);
  if (mounted.status !== 0) {
    fs.rmdirSync(dir);
    return null;
  }
  return {
    dir,
    unmount: () => {
      // Lazy: a failed test may still hold files open there.
      spawnSync('umount', ['-l', dir]);
      fs.rmdirSync(dir);
    },
  };
}

describe('a real full filesystem (a 512 KiB tmpfs; needs root, skipped otherwise)', () => {
  const probe = smallFilesystem(512);
  probe?.unmount();

  it.skipIf(probe === null)('throws LogIOError (ENOSPC) with no trace, then appends again once space is freed', () => {
    const fsys = smallFilesystem(512)!;
    try {
      const dir = path.join(fsys.dir, 'full-0');
      // No index entries (a huge interval): an mmap store into a hole of a full tmpfs is SIGBUS, not an error.
      const config = { segmentBytes: 8 * 1024 * 1024, indexIntervalBytes: 1 << 30, segmentIndexBytes: 4096 };
      const log = Log.open(dir, config);
      const filler = path.join(fsys.dir, 'filler');
      fs.writeFileSync(filler, Buffer.alloc(360 * 1024));
      let appended = 0;
      let caught: unknown;
      const big = (base: number) => Array.from({ length: 20 }, (_, i) => ({ ...recordFor(base + i), value: `v${base + i}`.padEnd(400, '.') }));
      for (;;) {
        try {
          log.append(big(log.endOffset));
          appended += 20;
        } catch (err) {
          caught = err;
          break;
        }
      }
      expect(caught).toBeInstanceOf(LogIOError);
      expect(((caught as Error).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
      expect(appended).toBeGreaterThan(0);
      const active = logFiles(dir).at(-1)!;
      expect(rawBatches(active).reduce((n, b) => n + b.size, 0)).toBe(fs.statSync(active).size);
      expect(log.endOffset).toBe(appended);
      expect(() => log.append(big(log.endOffset))).toThrow(LogIOError);
      expect(log.endOffset).toBe(appended);
      fs.rmSync(filler);
      log.append(big(log.endOffset));
      expect(log.endOffset).toBe(appended + 20);
      expect(log.read(appended, { maxRecords: 20 }).map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, i) => appended + i));
      log.close();
      const reopened = Log.open(dir, config);
      expect(reopened.recovery.cleanShutdown).toBe(true);
      expect(reopened.endOffset).toBe(appended + 20);
      reopened.close();
    } finally {
      fsys.unmount();
    }
  });
});
