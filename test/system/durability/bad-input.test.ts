import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, Log, LogIOError } from '../../../src/index.js';
import { tmpDir } from '../../support/tmp.js';
import { dirState, packageForAnyUser } from '../../support/dist.js';
import { SMALL, appendBatches, expectRecords, partitionDir } from './helpers.js';

/**
 * Opening what is not a usable partition directory gives an error naming the path and changes
 * nothing. Foreign files beside a log are ignored and never touched (as Kafka ignores them); a
 * directory holding only foreign things is refused for writing, because seglog would scatter its
 * files among someone else's.
 */

function snapshot(dir: string): Record<string, string> {
  const out = dirState(dir);
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (fs.statSync(p).isFile()) out[name] += ' ' + fs.readFileSync(p).toString('hex');
  }
  return out;
}

describe('a path that is a file', () => {
  it.each([false, true])('is refused with the path in the message (readOnly: %s), and left alone', (readOnly) => {
    const file = path.join(tmpDir(), 'events-0');
    fs.writeFileSync(file, 'not a directory');
    const before = snapshot(path.dirname(file));
    let caught: unknown;
    try {
      Log.open(file, { readOnly });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as Error).message).toContain(file);
    expect(snapshot(path.dirname(file))).toEqual(before);
  });

  it('is refused when a segment name in the directory is not a regular file', () => {
    const dir = partitionDir();
    fs.mkdirSync(path.join(dir, '00000000000000000000.log'), { recursive: true });
    const before = snapshot(dir);
    expect(() => Log.open(dir)).toThrow(/00000000000000000000\.log is not a regular file/);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('a directory without permission', () => {
  // The child runs as nobody, who may not reach this checkout (a clone under a 0700 directory):
  // it loads a copy of the package made for it.
  let anyUser: ReturnType<typeof packageForAnyUser> | undefined;
  beforeAll(() => {
    if (process.getuid?.() === 0) anyUser = packageForAnyUser();
  }, 120_000);
  afterAll(() => anyUser?.remove());

  function chmodded(mode: number): string {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 10);
    log.close();
    fs.chmodSync(path.dirname(dir), 0o755);
    fs.chmodSync(dir, mode);
    return dir;
  }

  /** Opens `dir` in a child process running as `nobody`; returns the error code and message, or 'opened'. */
  function openAsNobody(dir: string, readOnly: boolean): string {
    const script = `
      import { Log } from ${JSON.stringify(anyUser!.entry)};
      try { Log.open(${JSON.stringify(dir)}, { readOnly: ${readOnly} }).close(); console.log('opened'); }
      catch (err) { console.log(err.code + ' ' + err.message); }
    `;
    const out = spawnSync(anyUser!.node, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
    return (out.stdout + out.stderr).trim();
  }

  it('as root: permission bits do not bind root, so the open succeeds (stated, not hidden)', () => {
    if (process.getuid?.() !== 0) return;
    const dir = chmodded(0o000);
    const log = Log.open(dir, SMALL);
    expectRecords(log, 30);
    log.close();
    fs.chmodSync(dir, 0o755);
  });

  it.skipIf(process.getuid?.() !== 0)('as another user: writing is refused with LogIOError naming the directory, and nothing changes', () => {
    const dir = chmodded(0o555);
    const before = snapshot(dir);
    const out = openAsNobody(dir, false);
    expect(out).toMatch(/^SEGLOG_IO no permission to write partition directory/);
    expect(out).toContain(dir);
    expect(snapshot(dir)).toEqual(before);
    // Reading needs only read permission.
    expect(openAsNobody(dir, true)).toBe('opened');
    fs.chmodSync(dir, 0o000);
    expect(openAsNobody(dir, true)).toMatch(new RegExp(`^SEGLOG_IO no permission to read partition directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    fs.chmodSync(dir, 0o755);
    expect(snapshot(dir)).toEqual(before);
  });

  it('as the current user (not root): refused with LogIOError naming the directory', () => {
    if (process.getuid?.() === 0) return;
    const dir = chmodded(0o555);
    expect(() => Log.open(dir)).toThrow(LogIOError);
    expect(() => Log.open(dir)).toThrow(dir);
    fs.chmodSync(dir, 0o755);
  });
});

describe('foreign files', () => {
  const foreign: [string, string | null][] = [
    ['notes.txt', 'my notes'],
    ['foo.log', 'not a segment: no 20-digit base offset'],
    ['123.index', 'not an index either'],
    ['notes.tmp', 'somebody else\'s temporary file'],
    ['backup.deleted', 'not ours to delete'],
    ['old.swap', 'not ours to swap in'],
    ['subdir', null],
  ];

  function plant(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, body] of foreign) {
      if (body === null) {
        fs.mkdirSync(path.join(dir, name));
        fs.writeFileSync(path.join(dir, name, 'inside.txt'), 'x');
        // Even a subdirectory named like a deleted segment is not a segment file.
        fs.mkdirSync(path.join(dir, '00000000000000000000.log.deleted'));
      } else {
        fs.writeFileSync(path.join(dir, name), body);
      }
    }
  }

  it('beside an existing log are ignored and never touched, crash recovery included', () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 60);
    log.close();
    plant(dir);
    const planted = Object.fromEntries(Object.entries(snapshot(dir)).filter(([name]) => !/^\d{20}\.(log|index|timeindex)$|checkpoint|cleanshutdown|seglog\.lock|seglog-active-segment/.test(name)));
    fs.rmSync(path.join(dir, '.kafka_cleanshutdown'));
    fs.writeFileSync(path.join(dir, 'recovery-point-offset-checkpoint'), '0\n1\nevents 0 0\n');

    const reopened = Log.open(dir, SMALL);
    expect(reopened.recovery.cleanShutdown).toBe(false);
    expect(reopened.recovery.actions.filter((a) => a.action !== 'rebuilt-indexes')).toEqual([]);
    expectRecords(reopened, 180);
    appendBatches(reopened, 1);
    reopened.close();
    const after = snapshot(dir);
    for (const [name, state] of Object.entries(planted)) expect(after[name], name).toBe(state);
    expect(fs.readFileSync(path.join(dir, 'subdir', 'inside.txt'), 'utf8')).toBe('x');
  });

  it('in a directory that holds no log are refused for writing, naming the directory, and nothing changes', () => {
    const dir = partitionDir();
    plant(dir);
    const before = snapshot(dir);
    let caught: unknown;
    try {
      Log.open(dir);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as Error).message).toContain(dir);
    expect((caught as Error).message).toMatch(/holds no log/);
    expect(snapshot(dir)).toEqual(before);
    // A read-only look changes nothing and finds an empty log.
    const reader = Log.open(dir, { readOnly: true });
    expect(reader.endOffset).toBe(0);
    reader.close();
    expect(snapshot(dir)).toEqual(before);
  });

  it('does not count hidden files: a directory holding only dotfiles takes a new log', () => {
    const dir = partitionDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, '.gitkeep'), '');
    const log = Log.open(dir);
    log.append({ value: 'x' });
    log.close();
    expect(fs.readFileSync(path.join(dir, '.gitkeep'), 'utf8')).toBe('');
  });
});
