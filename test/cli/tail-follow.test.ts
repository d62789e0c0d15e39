/**
 * `seglog tail -f` in a child process follows the appends this (writer) process makes, across
 * segment rolls, and ends cleanly on Ctrl-C (SIGINT).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { Log } from '../../src/index.js';
import { CLI, ensureBuilt, tmpDir } from './helpers.js';

beforeAll(() => ensureBuilt(), 300_000);

interface Follower {
  lines: Record<string, unknown>[];
  stderr: () => string;
  waitFor: (count: number, timeoutMs?: number) => Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal: NodeJS.Signals) => void;
}

function follow(args: string[]): Follower {
  const child = spawn(process.execPath, [CLI, 'tail', ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) if (p.length > 0) lines.push(JSON.parse(p) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const waitFor = async (count: number, timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length < count) {
      if (Date.now() > deadline) throw new Error(`timed out with ${lines.length} of ${count} lines; stderr: ${stderr}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
  return { lines, stderr: () => stderr, waitFor, exit, kill: (s) => child.kill(s) };
}

describe('seglog tail -f', () => {
  it('prints the last records, then each record another process appends, until Ctrl-C', async () => {
    const dir = path.join(tmpDir(), 'live-0');
    const log = Log.open(dir, { segmentBytes: 1024 });
    try {
      for (let i = 0; i < 5; i++) log.append({ key: `k${i}`, value: `before-${i}` });
      const f = follow([dir, '-f', '-n', '2', '--json']);
      await f.waitFor(2);
      expect(f.lines.map((l) => [l['offset'], l['value']])).toEqual([
        [3, 'before-3'],
        [4, 'before-4'],
      ]);

      // Appends from this process, in several batches; the small segments make the writer roll.
      const segmentsBefore = log.segments().length;
      for (let i = 0; i < 30; i++) {
        log.append([{ key: `k${i}`, value: `after-${i}-${'x'.repeat(40)}` }]);
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 50));
      }
      expect(log.segments().length).toBeGreaterThan(segmentsBefore);
      await f.waitFor(32);
      expect(f.lines.slice(2).map((l) => l['offset'])).toEqual(Array.from({ length: 30 }, (_, i) => 5 + i));
      expect(f.lines.at(-1)!['value']).toBe(`after-29-${'x'.repeat(40)}`);

      f.kill('SIGINT');
      const { code, signal } = await f.exit;
      expect(signal).toBeNull();
      expect(code).toBe(0);
      expect(f.stderr()).toBe('');
    } finally {
      log.close();
    }
  });

  it('with -n 0 prints only new records, in text form', async () => {
    const dir = path.join(tmpDir(), 'text-0');
    const log = Log.open(dir);
    try {
      log.append({ value: 'old' });
      const child = spawn(process.execPath, [CLI, 'tail', dir, '-f', '-n', '0'], { env: { ...process.env, NO_COLOR: '1' } });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Appends until one shows (the follower may not have started on the first one).
      const deadline = Date.now() + 15_000;
      let n = 0;
      while (!out.includes('value new-')) {
        if (Date.now() > deadline) throw new Error(`no output: ${out}`);
        log.append({ key: 'sensor-A1', value: `new-${n++}` });
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(out).not.toContain('value old');
      expect(out).toMatch(/offset \d+ {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}key sensor-A1 {2}value new-\d+/);
      child.kill('SIGINT');
      expect(await exit).toBe(0);
    } finally {
      log.close();
    }
  });
});
