import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Log } from '../../../src/index.js';
import { SMALL, appendBatches, crashImage, expectRecords, logFiles, partitionDir } from './helpers.js';

/**
 * flush(), flushSync(), flushMessages, flushMs and the flush at roll. What a flush made durable
 * shows as the log's recovery point (read here through a cast: it is internal) and, once it moves
 * to another segment, in `recovery-point-offset-checkpoint`.
 */

function recoveryPoint(log: Log): number {
  return (log as unknown as { local: { recoveryPoint: number } }).local.recoveryPoint;
}

function checkpoint(dir: string): number | null {
  const file = path.join(dir, 'recovery-point-offset-checkpoint');
  if (!fs.existsSync(file)) return null;
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  return Number(lines[2]!.split(' ')[2]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('flush()', () => {
  it('resolves once everything appended before the call is synced, off the main thread', async () => {
    const log = Log.open(partitionDir());
    const syncs = vi.spyOn(fs, 'fdatasync');
    const blocking = vi.spyOn(fs, 'fdatasyncSync');
    appendBatches(log, 5);
    const flushed = log.flush();
    expect(recoveryPoint(log)).toBe(0);
    await flushed;
    expect(recoveryPoint(log)).toBe(15);
    expect(syncs).toHaveBeenCalledTimes(1);
    expect(blocking).not.toHaveBeenCalled();
    // Nothing new: no sync at all.
    await log.flush();
    expect(syncs).toHaveBeenCalledTimes(1);
    log.close();
  });

  it('shares one sync among concurrent callers (group commit), each covered by a sync that began after its appends', async () => {
    const log = Log.open(partitionDir());
    const syncs = vi.spyOn(fs, 'fdatasync');
    const waits: Promise<number>[] = [];
    for (let i = 0; i < 20; i++) {
      appendBatches(log, 1);
      const end = log.endOffset;
      waits.push(log.flush().then(() => end));
    }
    const ends = await Promise.all(waits);
    // One round for the first caller; one more for the 19 that came while it ran.
    expect(syncs.mock.calls.length).toBeLessThanOrEqual(2);
    expect(recoveryPoint(log)).toBe(60);
    expect(ends.at(-1)).toBe(60);
    log.close();
  });

  it('syncs the directory when segment files were created since the last flush, and only then', async () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    await log.flush();
    const opens = vi.spyOn(fs.promises, 'open');
    const directorySyncs = () => opens.mock.calls.filter(([p]) => p === dir).length;
    appendBatches(log, 2);
    await log.flush();
    expect(directorySyncs()).toBe(0);
    log.roll();
    appendBatches(log, 1);
    await log.flush();
    expect(directorySyncs()).toBeGreaterThanOrEqual(1);
    const after = directorySyncs();
    appendBatches(log, 1);
    await log.flush();
    expect(directorySyncs()).toBe(after);
    log.close();
  });

  it('flushes the rolled segment in the background at each roll (Kafka), moving the checkpointed recovery point past it', async () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 60);
    const bases = log.segments().map((s) => s.baseOffset);
    expect(bases.length).toBeGreaterThan(2);
    await sleep(200);
    // At least past the rolled segments (a round that starts later covers what was appended by then).
    expect(recoveryPoint(log)).toBeGreaterThanOrEqual(bases.at(-1)!);
    expect(checkpoint(dir)).toBeGreaterThanOrEqual(bases.at(-1)!);
    // A crash now recovers only the active segment: the rolled ones are known synced.
    const image = crashImage(dir);
    log.close();
    const reopened = Log.open(image, SMALL);
    expect(reopened.recovery.cleanShutdown).toBe(false);
    expect(reopened.recovery.actions.map((a) => a.file)).toEqual([logFiles(image).at(-1)]);
    expectRecords(reopened, 180);
    reopened.close();
  });

  it('resolves a flush still running when the log is closed (close synced everything in place)', async () => {
    const log = Log.open(partitionDir());
    appendBatches(log, 3);
    const flushed = log.flush();
    log.close();
    await expect(flushed).resolves.toBeUndefined();
  });

  it('resolves at once on a read-only log', async () => {
    const dir = partitionDir();
    Log.open(dir).close();
    const reader = Log.open(dir, { readOnly: true });
    await expect(reader.flush()).resolves.toBeUndefined();
    reader.close();
  });
});

describe('flushSync()', () => {
  it('syncs in place', () => {
    const log = Log.open(partitionDir());
    const blocking = vi.spyOn(fs, 'fdatasyncSync');
    appendBatches(log, 2);
    log.flushSync();
    expect(recoveryPoint(log)).toBe(6);
    expect(blocking).toHaveBeenCalled();
    log.close();
  });
});

describe('background flushes', () => {
  it('flushMessages: a flush starts once that many records are unflushed', async () => {
    const log = Log.open(partitionDir(), { flushMessages: 10 });
    const syncs = vi.spyOn(fs, 'fdatasync');
    appendBatches(log, 3);
    await sleep(50);
    expect(syncs).not.toHaveBeenCalled();
    expect(recoveryPoint(log)).toBe(0);
    appendBatches(log, 1);
    await sleep(50);
    expect(syncs).toHaveBeenCalledTimes(1);
    expect(recoveryPoint(log)).toBe(12);
    log.close();
  });

  it('flushMs: appends are flushed within that many milliseconds', async () => {
    const log = Log.open(partitionDir(), { flushMs: 20 });
    appendBatches(log, 2);
    expect(recoveryPoint(log)).toBe(0);
    await sleep(150);
    expect(recoveryPoint(log)).toBe(6);
    log.close();
  });

  it('by default nothing is synced until a flush, a roll or close (as Kafka: the OS decides)', async () => {
    const log = Log.open(partitionDir());
    const syncs = vi.spyOn(fs, 'fdatasync');
    appendBatches(log, 50);
    await sleep(50);
    expect(syncs).not.toHaveBeenCalled();
    log.close();
  });
});

describe('close()', () => {
  it('syncs everything, writes the recovery point and the clean-shutdown mark', () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 40);
    log.close();
    expect(checkpoint(dir)).toBe(120);
    expect(fs.existsSync(path.join(dir, '.kafka_cleanshutdown'))).toBe(true);
    const reopened = Log.open(dir, SMALL);
    expect(reopened.recovery).toMatchObject({ cleanShutdown: true, segmentsRecovered: 0, actions: [] });
    expect(fs.existsSync(path.join(dir, '.kafka_cleanshutdown'))).toBe(false);
    reopened.close();
  });
});
