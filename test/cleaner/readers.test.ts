import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { swapHooks } from '../../src/cleaner/swap.js';
import { ensureDist } from '../support/dist.js';
import { ClockedLog, partitionDir, readAll } from './helpers.js';

/**
 * Readers next to a cleaner: read-only views in this process, looked at in the middle of every
 * swap step, and a reader process that reads the whole log over and over while the writer appends
 * and compacts with no delete delay. A file listed a moment ago may be gone; that must never be an
 * error, and no key's latest record may ever be missing.
 */

const KEYS = 17;
/** How long the reader process runs next to the compacting writer; SEGLOG_STRESS_CLEANER_MS for a longer run. */
const READER_MS = Number(process.env.SEGLOG_STRESS_CLEANER_MS ?? 4000);

afterEach(() => {
  swapHooks.afterStep = null;
});

/** Appends `count` records from the end on: offset o holds key `key-<o % KEYS>`, value `v<o>`. */
function appendRecords(log: Log, count: number): void {
  for (let i = 0; i < count; i += 4) {
    const base = log.endOffset;
    log.append([0, 1, 2, 3].map((j) => ({ key: `key-${(base + j) % KEYS}`, value: `v${base + j}` })));
  }
}

describe('read-only views through a swap', () => {
  it('a view opened or refreshed at any step of a swap sees every latest record and no error', async () => {
    const c = new ClockedLog(partitionDir(), { segmentBytes: 2048 });
    appendRecords(c.log, 400);
    const latest = (end: number) => [...Array(KEYS).keys()].map((k) => end - 1 - ((((end - 1 - k) % KEYS) + KEYS) % KEYS));
    const live = Log.open(c.dir, { readOnly: true });
    let checks = 0;
    const look = (): void => {
      for (const view of [Log.open(c.dir, { readOnly: true }), live]) {
        const records = new Map(readAll(view).map((r) => [r.offset, r.value]));
        for (const o of latest(view.endOffset)) expect(records.get(o)).toBe(`v${o}`);
        if (view !== live) view.close();
        checks++;
      }
    };
    swapHooks.afterStep = look;
    await c.log.compact();
    swapHooks.afterStep = null;
    look();
    expect(checks).toBeGreaterThan(8);
    live.close();
    c.log.close();
  });
});

describe('a reader process through passes', () => {
  beforeAll(() => {
    ensureDist();
  }, 300_000);

  it('reads the whole log again and again while the writer appends and compacts', async () => {
    const c = new ClockedLog(partitionDir(), { segmentBytes: 4096, fileDeleteDelayMs: 0 });
    appendRecords(c.log, 600);
    c.log.flushSync();
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'reader.child.mjs'), c.dir, String(KEYS), String(READER_MS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise((r) => child.on('exit', r));
    let passes = 0;
    const started = Date.now();
    while (Date.now() - started < READER_MS + 500) {
      appendRecords(c.log, 120);
      c.log.roll();
      await c.log.compact();
      passes++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await exited;
    c.log.close();
    const result = JSON.parse(output.trim().split('\n').pop()!) as { reads: number; problems: string[] };
    expect(result.problems).toEqual([]);
    expect(result.reads).toBeGreaterThan(5);
    expect(passes).toBeGreaterThan(5);
  }, READER_MS + 120_000);
});
