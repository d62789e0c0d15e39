import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Log, LogIOError } from '../../../src/index.js';
import { SMALL, appendBatches, expectRecords, partitionDir } from './helpers.js';

/**
 * Background flushes (started by a roll, `flushMessages` or `flushMs`) have no caller to reject:
 * a failure is a `SEGLOG_FLUSH` process warning, and the next `flush()` or `flushSync()` throws it.
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
