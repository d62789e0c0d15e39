import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Log, LogIOError } from '../../../src/index.js';
import { SMALL, appendBatches, expectRecords, partitionDir } from './helpers.js';

/**
 * Background work has no caller to reject; its failures are process warnings (`SEGLOG_*`, see
 * `warnBackgroundFailure`). A failed flush (started by a roll, `flushMessages` or `flushMs`) is
 * also thrown by the next `flush()` or `flushSync()`; a failed retention or cleaner pass is tried
 * again by its timer.
 */

function eio(): NodeJS.ErrnoException {
  return Object.assign(new Error('EIO: injected failure, fdatasync'), { code: 'EIO', syscall: 'fdatasync' });
}

function failAsyncSyncs(): void {
  vi.spyOn(fs, 'fdatasync').mockImplementation(((_fd: number, callback: (err: Error | null) => void) => {
    setImmediate(() => callback(eio()));
  }) as typeof fs.fdatasync);
}

/** Collects the process warnings with `code` until `stop()`. */
function warningsWith(code: string): { list: Error[]; stop: () => void } {
  const list: Error[] = [];
  const listener = (w: Error): void => {
    if ((w as Error & { code?: string }).code === code) list.push(w);
  };
  process.on('warning', listener);
  return { list, stop: () => process.off('warning', listener) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a failing background flush', () => {
  it('is a SEGLOG_FLUSH warning, and the next flush() rejects with it once', async () => {
    const log = Log.open(partitionDir(), { ...SMALL, flushMessages: 3 });
    const warnings = warningsWith('SEGLOG_FLUSH');
    try {
      failAsyncSyncs();
      appendBatches(log, 1, 3);
      await vi.waitFor(() => expect(warnings.list.length).toBeGreaterThan(0), { timeout: 10_000 });
      expect(warnings.list[0]!.message).toMatch(/background flush of .* failed: .*EIO/);
      vi.restoreAllMocks();
      await expect(log.flush()).rejects.toThrow(LogIOError);
      await expect(log.flush()).resolves.toBeUndefined();
      expectRecords(log, 3);
    } finally {
      warnings.stop();
      log.close();
    }
  });

  it('makes the next flushSync() throw it, from the flushMs timer too', async () => {
    const log = Log.open(partitionDir(), { ...SMALL, flushMs: 5 });
    const warnings = warningsWith('SEGLOG_FLUSH');
    try {
      failAsyncSyncs();
      appendBatches(log, 2);
      await vi.waitFor(() => expect(warnings.list.length).toBeGreaterThan(0), { timeout: 10_000 });
      vi.restoreAllMocks();
      expect(() => log.flushSync()).toThrow(LogIOError);
      expect(() => log.flushSync()).not.toThrow();
    } finally {
      warnings.stop();
      log.close();
    }
  });
});

function eioSync(syscall: string): never {
  throw Object.assign(new Error(`EIO: injected failure, ${syscall}`), { code: 'EIO', syscall });
}

describe('a failing retention pass run by the timer', () => {
  it('is a SEGLOG_RETENTION warning, and the next tick runs the pass again', async () => {
    const clock = { now: 1_000_000 };
    const log = Log.open(partitionDir(), { ...SMALL, retentionMs: 1000, retentionCheckIntervalMs: 5, fileDeleteDelayMs: 0, clock: () => clock.now });
    const warnings = warningsWith('SEGLOG_RETENTION');
    try {
      appendBatches(log, 60);
      expect(log.segments().length).toBeGreaterThan(2);
      // A pass writes the new start offset's checkpoint (a rename into place) before it deletes.
      const rename = fs.renameSync;
      vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
        if (String(to).endsWith('log-start-offset-checkpoint')) eioSync('rename');
        rename(from, to);
      });
      clock.now += 10_000_000;
      await vi.waitFor(() => expect(warnings.list.length).toBeGreaterThan(0), { timeout: 10_000 });
      expect(warnings.list[0]!.message).toMatch(/retention pass on .* failed: .*EIO/);
      expect((warnings.list[0] as Error & { detail?: string }).detail).toMatch(/EIO/);
      expect(log.startOffset).toBe(0);
      vi.restoreAllMocks();
      await vi.waitFor(() => expect(log.startOffset).toBeGreaterThan(0), { timeout: 10_000 });
    } finally {
      warnings.stop();
      log.close();
    }
  });
});

describe('a failing compaction pass run by the cleaner', () => {
  it('is a SEGLOG_CLEANER warning, and the next check runs the pass again', async () => {
    const log = Log.open(partitionDir(), { ...SMALL, cleanupPolicy: 'compact', cleanerBackoffMs: 5, retentionCheckIntervalMs: 0, fileDeleteDelayMs: 0 });
    const warnings = warningsWith('SEGLOG_CLEANER');
    try {
      // A pass stamps the cleaned segment with its input's modification time before the swap.
      vi.spyOn(fs, 'utimesSync').mockImplementation(() => eioSync('utime'));
      appendBatches(log, 60);
      await vi.waitFor(() => expect(warnings.list.length).toBeGreaterThan(0), { timeout: 10_000 });
      expect(warnings.list[0]!.message).toMatch(/cleaning .* failed: .*EIO/);
      expect((warnings.list[0] as Error & { detail?: string }).detail).toMatch(/EIO/);
      expect(log.cleaner.firstDirtyOffset()).toBeNull();
      vi.restoreAllMocks();
      await vi.waitFor(() => expect(log.cleaner.firstDirtyOffset()).not.toBeNull(), { timeout: 10_000 });
      expectRecords(log, 180);
    } finally {
      warnings.stop();
      log.close();
    }
  });
});
