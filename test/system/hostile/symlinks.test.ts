import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Log } from '../../../src/index.js';
import { tmpDir } from '../../support/tmp.js';
import { closedLog, logFiles, partitionDir } from './helpers.js';

/**
 * A writer never writes, truncates or creates a file through a symbolic link it did not make;
 * a reader may read through one.
 */

/** A file outside the partition directory that must come through untouched. */
function victim(content = 'precious data, not a log\n'): string {
  const file = path.join(tmpDir('seglog-hostile-victim-'), 'victim.txt');
  fs.writeFileSync(file, content);
  return file;
}

function expectRefused(dir: string, name: string): void {
  let thrown: unknown;
  try {
    Log.open(dir).close();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(InvalidArgumentError);
  expect((thrown as InvalidArgumentError).file).toBe(path.join(dir, name));
  expect((thrown as Error).message).toMatch(/symbolic link/);
}

describe('symbolic links in a partition directory', () => {
  it('refuses a .log linked to a file outside, which is neither truncated nor appended to', () => {
    const dir = closedLog(partitionDir(), 40);
    const target = victim();
    const name = '00000000000000000050.log';
    fs.symlinkSync(target, path.join(dir, name));
    expectRefused(dir, name);
    expect(fs.readFileSync(target, 'utf8')).toBe('precious data, not a log\n');
  });

  it.each(['index', 'timeindex'])('refuses a .%s linked outside, and never writes it', (ext) => {
    const dir = closedLog(partitionDir(), 40);
    const active = path.basename(logFiles(dir).at(-1)!, '.log');
    const name = `${active}.${ext}`;
    const target = victim('x'.repeat(120));
    fs.rmSync(path.join(dir, name));
    fs.symlinkSync(target, path.join(dir, name));
    expectRefused(dir, name);
    expect(fs.readFileSync(target, 'utf8')).toBe('x'.repeat(120));
  });

  it('refuses a lock file linked to a missing path, and creates nothing there', () => {
    const dir = closedLog(partitionDir(), 3);
    const missing = path.join(tmpDir('seglog-hostile-victim-'), 'created-through-link');
    fs.rmSync(path.join(dir, '.seglog.lock'), { force: true });
    fs.symlinkSync(missing, path.join(dir, '.seglog.lock'));
    expectRefused(dir, '.seglog.lock');
    expect(fs.existsSync(missing)).toBe(false);
  });

  it.each(['recovery-point-offset-checkpoint', 'log-start-offset-checkpoint', 'recovery-point-offset-checkpoint.tmp'])('refuses a %s link', (name) => {
    const dir = closedLog(partitionDir(), 3);
    const target = victim();
    fs.rmSync(path.join(dir, name), { force: true });
    fs.symlinkSync(target, path.join(dir, name));
    expectRefused(dir, name);
    expect(fs.readFileSync(target, 'utf8')).toBe('precious data, not a log\n');
  });

  it('commits consumer offsets without writing through a consumer-offsets-checkpoint.tmp link', async () => {
    const dir = closedLog(partitionDir(), 3);
    const log = Log.open(dir);
    const target = victim();
    fs.symlinkSync(target, path.join(dir, 'consumer-offsets-checkpoint.tmp'));
    await log.consumer('alpha').commit(2);
    expect(fs.readFileSync(target, 'utf8')).toBe('precious data, not a log\n');
    expect(log.consumer('alpha').committed()).toBe(2);
    log.close();
  });

  it('refuses to commit through a consumer-offsets-checkpoint.lock link', async () => {
    const dir = closedLog(partitionDir(), 3);
    const log = Log.open(dir, { readOnly: true });
    const missing = path.join(tmpDir('seglog-hostile-victim-'), 'created-through-link');
    fs.symlinkSync(missing, path.join(dir, 'consumer-offsets-checkpoint.lock'));
    await expect(log.consumer('alpha').commit(2)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(fs.existsSync(missing)).toBe(false);
    log.close();
  });

  it('lets a read-only opener read a segment through a link (reading changes nothing)', () => {
    const source = closedLog(partitionDir(), 40);
    const dir = partitionDir();
    fs.mkdirSync(dir);
    for (const name of fs.readdirSync(source)) {
      if (name.startsWith('.')) continue;
      fs.symlinkSync(path.join(source, name), path.join(dir, name));
    }
    const before = logFiles(source).map((f) => fs.readFileSync(f));
    const log = Log.open(dir, { readOnly: true });
    expect(log.endOffset).toBe(120);
    const records = log.read(0, { maxBytes: 1 << 20 });
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    log.close();
    expect(logFiles(source).map((f) => fs.readFileSync(f))).toEqual(before);
  });

  it('follows a link to the partition directory itself (the directory is the user\'s to place)', () => {
    const real = closedLog(partitionDir(), 5);
    const link = path.join(tmpDir('seglog-hostile-link-'), 'orders-0');
    fs.symlinkSync(real, link);
    const log = Log.open(link);
    expect(log.append({ value: 'x' }).baseOffset).toBe(15);
    log.close();
  });
});
