import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log, LogLockedError } from '../../../src/index.js';
import { rawBatches } from '../../support/raw-log.js';
import { SMALL, appendBatches, crashImage, expectRecords, logFiles, partitionDir } from './helpers.js';
import { dirState, ensureDist } from '../../support/dist.js';

/**
 * The single-writer lock is an OFD lock (fcntl F_OFD_SETLK) on `.seglog.lock`: the kernel drops
 * it with the last descriptor, so a writer killed with SIGKILL never leaves a stale lock. Read-only
 * openers never take it and never write anything.
 */

let dist = '';

/** A writer in another process: opens `dir`, appends `records` records, prints `ready`, then waits to be killed. */
function startWriter(dir: string, records: number): Promise<{ kill: () => Promise<void> }> {
  const script = `
    import { Log } from ${JSON.stringify(dist)};
    const log = Log.open(${JSON.stringify(dir)}, ${JSON.stringify(SMALL)});
    for (let i = 0; i < ${records}; i++) log.append({ key: 'k' + i, value: 'value-' + i + '-' + 'x'.repeat(i % 50), timestamp: 1000000 + i * 10 });
    console.log('ready');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        resolve({
          kill: async () => {
            child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    child.on('close', (code) => reject(new Error(`writer exited (${code}): ${stderr}`)));
  });
}

/** Tries to open `dir` as a writer in another process; returns 'locked', 'opened' or the error text. */
function tryOpenInChild(dir: string): string {
  const script = `
    import { Log } from ${JSON.stringify(dist)};
    try { Log.open(${JSON.stringify(dir)}).close(); console.log('opened'); }
    catch (err) { console.log(err.code === 'SEGLOG_LOG_LOCKED' ? 'locked' : String(err)); }
  `;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).stdout.trim();
}

describe('single writer', () => {
  beforeAll(() => {
    dist = ensureDist();
  }, 120_000);

  it('refuses a second writer while the first lives, and frees the lock when it is killed with SIGKILL', async () => {
    const dir = partitionDir();
    const writer = await startWriter(dir, 50);
    expect(() => Log.open(dir, SMALL)).toThrow(LogLockedError);
    expect(tryOpenInChild(dir)).toBe('locked');
    // A reader needs no lock and sees what the live writer appended.
    const reader = Log.open(dir, { readOnly: true });
    expect(reader.endOffset).toBe(50);
    reader.close();
    await writer.kill();

    const log = Log.open(dir, SMALL);
    expect(log.recovery.cleanShutdown).toBe(false);
    expectRecords(log, 50);
    log.close();
  });

  it('frees the lock at close for a writer in another process', () => {
    const dir = partitionDir();
    const log = Log.open(dir);
    expect(tryOpenInChild(dir)).toBe('locked');
    log.close();
    expect(tryOpenInChild(dir)).toBe('opened');
  });
});

describe('read-only openers never write', () => {
  beforeAll(() => {
    dist = ensureDist();
  }, 120_000);

  it('leave every file of a crashed directory as it was (names, sizes, times, modes) and take no lock', async () => {
    const dir = partitionDir();
    const writer = await startWriter(dir, 200);
    await writer.kill();
    fs.rmSync(path.join(dir, '.seglog.lock'));
    const before = dirState(dir);
    await new Promise((r) => setTimeout(r, 20)); // so that any write would show in an mtime

    const reader = Log.open(dir, { readOnly: true });
    expect(reader.recovery.actions).toEqual([]);
    expectRecords(reader, 200);
    expect(reader.offsetForTimestamp(1_000_000 + 150 * 10)).toBe(150);
    expect(reader.segments().length).toBeGreaterThan(1);
    expect(reader.readBatches(0).length).toBeGreaterThan(0);
    reader.close();
    expect(dirState(dir)).toEqual(before);
    expect(fs.existsSync(path.join(dir, '.seglog.lock'))).toBe(false);
  });

  it.each([
    ['a torn last batch', true, (file: string) => fs.truncateSync(file, fs.statSync(file).size - 7)],
    ['random bytes after the last batch', false, (file: string) => fs.appendFileSync(file, crypto.randomBytes(64))],
    ['zeros after the last batch', false, (file: string) => fs.appendFileSync(file, Buffer.alloc(300))],
  ])('see a crashed log with %s up to its last whole batch, and change nothing', (_what, tornLast, damage) => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 40);
    const image = crashImage(dir);
    log.close();
    const active = logFiles(image).at(-1)!;
    const complete = tornLast ? rawBatches(active).at(-1)!.baseOffset : 120;
    damage(active);
    const before = dirState(image);

    const reader = Log.open(image, { readOnly: true });
    expectRecords(reader, complete);
    reader.close();
    expect(dirState(image)).toEqual(before);
  });

  it('does not create a missing directory', () => {
    const dir = partitionDir();
    expect(() => Log.open(dir, { readOnly: true })).toThrow(/does not exist/);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.existsSync(path.dirname(dir))).toBe(true);
  });
});
