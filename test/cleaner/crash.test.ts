import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Log, type LogConfig } from '../../src/index.js';
import { swapHooks, type SwapStep } from '../../src/cleaner/swap.js';
import { ensureDist } from '../support/dist.js';
import { prng } from '../support/prng.js';
import { tmpDir } from '../support/tmp.js';
import { ClockedLog, readAll, segmentFiles, type PlainRecord } from './helpers.js';

/**
 * A crash at every step of the swap protocol, three ways: the directory copied after each step of
 * a real pass (what a crash right then leaves on disk), the intermediate states built by hand from
 * those files as Kafka's LogLoaderTest builds them, and a child process SIGKILLed at random points
 * of its passes. Every reopen must give the log before or after the swap (for a pass of several
 * groups: before or after each group, so a subset of the records before that holds every record
 * after), and a second pass must then complete to the log after.
 * Iterations of the SIGKILL test: SEGLOG_CRASH_ITERATIONS (default 6).
 */

const ITERATIONS = Number(process.env.SEGLOG_CRASH_ITERATIONS ?? 6);
const CHILD = path.join(import.meta.dirname, 'compact-child.mjs');

afterEach(() => {
  swapHooks.afterStep = null;
});

/** A compacted log of `segments` rolled segments of 10 batches over 7 keys (tombstones among them), and an active one. */
function fill(c: ClockedLog, segments: number): void {
  let n = 0;
  for (let s = 0; s < segments; s++) {
    for (let b = 0; b < 10; b++) {
      const records = [0, 1].map(() => {
        n++;
        return { key: `key-${n % 7}`, value: n % 11 === 0 ? null : `value-${n}`, timestamp: c.now + (n % 5) * 100, headers: { n: String(n) } };
      });
      c.log.append(records, { compression: b % 3 === 0 ? 'gzip' : 'none' });
    }
    c.log.roll();
  }
  c.log.append({ key: 'key-0', value: 'active' });
  c.log.flushSync();
}

function key(r: PlainRecord): string {
  return JSON.stringify(r);
}

/** The reopened log is before, after, or (several groups) between them: a subset of before holding all of after. */
function expectBetween(got: PlainRecord[], before: PlainRecord[], after: PlainRecord[], label: string): 'before' | 'after' | 'between' {
  const beforeSet = new Set(before.map(key));
  const gotSet = new Set(got.map(key));
  expect(got.every((r) => beforeSet.has(key(r))), `${label}: a record that was never there`).toBe(true);
  expect(after.every((r) => gotSet.has(key(r))), `${label}: a record the pass keeps is missing`).toBe(true);
  return got.length === before.length ? 'before' : got.length === after.length ? 'after' : 'between';
}

/** Opens a crashed copy, checks it, runs a second pass and checks that it reaches `after`. */
async function reopenAndFinish(copy: string, config: LogConfig, before: PlainRecord[], after: PlainRecord[], label: string): Promise<string> {
  const log = Log.open(copy, config);
  try {
    const state = expectBetween(readAll(log), before, after, label);
    expect(segmentFiles(copy).filter((n) => /\.(cleaned|swap|deleted)$/.test(n)), label).toEqual([]);
    await log.compact();
    expect(readAll(log), `${label}: the second pass`).toEqual(after);
    log.close();
    const again = Log.open(copy, config);
    expect(readAll(again), `${label}: reopened after the second pass`).toEqual(after);
    again.close();
    return state;
  } finally {
    log.close();
  }
}

/** Runs a pass on a log in `dir`, copying the directory after each swap step; returns the copies and the before/after records. */
async function passWithCopies(segmentBytes: number, segments: number) {
  const root = tmpDir('seglog-cleaner-crash-');
  const dir = path.join(root, 'table-0');
  const c = new ClockedLog(dir, { segmentBytes });
  fill(c, segments);
  const before = readAll(c.log);
  const copies: { step: SwapStep; dir: string }[] = [];
  swapHooks.afterStep = (step) => {
    const copy = path.join(root, `crash${copies.length}-0`);
    fs.cpSync(dir, copy, { recursive: true });
    copies.push({ step, dir: copy });
  };
  await c.log.compact();
  swapHooks.afterStep = null;
  const after = readAll(c.log);
  c.log.close();
  return { c, before, after, copies };
}

describe('a crash at each step of the swap protocol', () => {
  it('one group: every copy reopens as the log before or after, and a second pass completes', async () => {
    const { c, before, after, copies } = await passWithCopies(1024 * 1024, 4);
    expect(after.length).toBeLessThan(before.length);
    expect(copies.map((x) => x.step)).toEqual(['cleaned-written', 'renamed-to-swap', 'old-segments-retired', 'swap-renamed']);
    const states: string[] = [];
    for (const { step, dir } of copies) states.push(`${step}:${await reopenAndFinish(dir, c.config, before, after, step)}`);
    // Before the `.swap` rename the old segments win; from it on the new one does.
    expect(states).toEqual(['cleaned-written:before', 'renamed-to-swap:after', 'old-segments-retired:after', 'swap-renamed:after']);
  });

  it('several groups: each copy is a valid state between before and after, and a second pass completes', async () => {
    const { c, before, after, copies } = await passWithCopies(2000, 3);
    expect(copies.length).toBeGreaterThan(4);
    for (const { step, dir } of copies) await reopenAndFinish(dir, c.config, before, after, step);
  });

  it("intermediate states built by hand, as Kafka's LogLoaderTest builds them", async () => {
    const { c, before, after, copies } = await passWithCopies(1024 * 1024, 4);
    const written = copies.find((x) => x.step === 'cleaned-written')!.dir;
    const retired = copies.find((x) => x.step === 'old-segments-retired')!.dir;
    const root = path.dirname(written);
    const variant = (name: string, from: string, change: (dir: string) => void): string => {
      const dir = path.join(root, `${name}-0`);
      fs.cpSync(from, dir, { recursive: true });
      change(dir);
      return dir;
    };
    const rename = (dir: string, match: RegExp, from: string, to: string): void => {
      for (const n of segmentFiles(dir).filter((x) => match.test(x))) fs.renameSync(path.join(dir, n), path.join(dir, n.replace(from, to)));
    };
    const cases: { name: string; dir: string; expected: 'before' | 'after' }[] = [
      // The `.log` renamed to `.swap`, its indexes still `.cleaned`: the swap is at a `.cleaned` offset, so it goes.
      { name: 'log-swapped-indexes-cleaned', dir: variant('a', written, (d) => rename(d, /\.log\.cleaned$/, '.cleaned', '.swap')), expected: 'before' },
      // Only the time index renamed: the `.log` is still `.cleaned`.
      { name: 'timeindex-swapped', dir: variant('b', written, (d) => rename(d, /\.timeindex\.cleaned$/, '.cleaned', '.swap')), expected: 'before' },
      // Every new file `.swap`, the originals untouched: they are deleted, the swap completed.
      { name: 'all-swapped', dir: variant('c', written, (d) => rename(d, /\.cleaned$/, '.cleaned', '.swap')), expected: 'after' },
      // Every new file `.swap`, one original already `.deleted`.
      {
        name: 'one-original-deleted',
        dir: variant('d', written, (d) => {
          rename(d, /\.cleaned$/, '.cleaned', '.swap');
          rename(d, /^0{20}\.(log|index|timeindex)$/, '.log', '.log.deleted');
        }),
        expected: 'after',
      },
      // The `.log` renamed to its final name, its indexes still `.swap`.
      { name: 'log-final-indexes-swap', dir: variant('e', retired, (d) => rename(d, /\.log\.swap$/, '.swap', '')), expected: 'after' },
    ];
    for (const { name, dir, expected } of cases) {
      const state = await reopenAndFinish(dir, c.config, before, after, name);
      expect(state, name).toBe(expected);
    }
  });
});

/**
 * Runs the child on `dir` until `ready`, then kills it after `killAfterMs` (or, when null, waits
 * for its pass to finish and kills it then). Returns its output and the ms from ready to the end.
 */
async function runChild(dir: string, clock: number, killAfterMs: number | null): Promise<{ output: string; elapsedMs: number }> {
  const child = spawn(process.execPath, [CHILD, dir, String(clock)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let readyAt = 0;
  const exited = new Promise((r) => child.on('exit', r));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child never reached its point: ${output}`)), 120_000);
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (readyAt === 0 && output.includes('ready')) {
        readyAt = performance.now();
        if (killAfterMs !== null) setTimeout(done, killAfterMs);
      }
      if (killAfterMs === null && /^pass/m.test(output)) done();
    };
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    void exited.then(() => reject(new Error(`child exited by itself: ${output}`)));
  });
  const elapsedMs = performance.now() - readyAt;
  child.kill('SIGKILL');
  await exited;
  return { output, elapsedMs };
}

describe('a cleaner process SIGKILLed at random points of its passes', () => {
  beforeAll(() => {
    ensureDist();
  }, 300_000);

  it('every reopen is a valid state between before and after, and a second pass completes', async () => {
    const random = prng(Number(process.env.SEGLOG_CRASH_SEED ?? 7));
    const outcomes: string[] = [];
    let passMs: number | null = null;
    for (let i = 0; i < ITERATIONS; i++) {
      const root = tmpDir('seglog-cleaner-kill-');
      const dir = path.join(root, 'table-0');
      const c = new ClockedLog(dir, { segmentBytes: 4096 });
      fill(c, 12);
      c.log.close();
      const reference = path.join(root, 'reference-0');
      fs.cpSync(dir, reference, { recursive: true });
      const ref = new ClockedLog(reference, { segmentBytes: 4096 });
      ref.now = c.now;
      const before = readAll(ref.log);
      await ref.log.compact();
      const after = readAll(ref.log);
      ref.log.close();

      // How long a whole pass takes in a child (from `ready`), measured on a copy: kills land across it.
      if (passMs === null) {
        const probe = path.join(root, 'probe-0');
        fs.cpSync(dir, probe, { recursive: true });
        const run = await runChild(probe, c.now, null);
        passMs = Number(/^pass \d+/m.test(run.output) ? run.elapsedMs : 1000);
      }
      const killAfterMs = Math.floor(random() * passMs * 1.2);
      const { output } = await runChild(dir, c.now, killAfterMs);
      const finished = /^pass (\d+)/m.exec(output);
      const label = `iteration ${i}, killed after ${killAfterMs} ms (the pass ${finished === null ? 'had not finished' : `took ${finished[1]} ms`})`;
      outcomes.push(`${label}: ${await reopenAndFinish(dir, { ...c.config }, before, after, label)}`);
    }
    console.log(outcomes.join('\n'));
  }, 600_000);
});
