/**
 * `seglog dump` on a partition whose `.index` and `.timeindex` files are gone (issue 13): it must
 * still start where a writer would, `--from O` at the first record `read(O)` returns and
 * `--from-time T` at `offsetForTimestamp(T)`. The expectations come from a writer opened before
 * the indexes were deleted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { Log } from '../../src/index.js';
import { ensureBuilt, seglogLines, suiteTmpDir } from './helpers.js';

const START = Date.parse('2026-11-24T08:00:00Z');
const BATCHES = 60;
const PER_BATCH = 4;

/** Batch b holds timestamps START + 1000 b + 10 j, except every 7th batch, which goes back in time. */
function timestampOf(b: number, j: number): number {
  return START + (b % 7 === 6 ? (b - 5) * 1000 : b * 1000) + j * 10;
}

let dir: string;
const times: number[] = [];
const offsets: number[] = [];
const byTime = new Map<number, number | null>();
const byOffset = new Map<number, number | null>();

function firstDumped(args: string[]): number | null {
  const { status, lines, stderr } = seglogLines(['dump', dir, '--records', ...args, '-n', '1']);
  expect(status, stderr).toBe(0);
  const records = lines.filter((l) => l['type'] === 'record');
  return records.length === 0 ? null : (records[0]!['offset'] as number);
}

beforeAll(() => {
  ensureBuilt();
  dir = path.join(suiteTmpDir(), 'readings-0');
  const log = Log.open(dir, { segmentBytes: 2048, indexIntervalBytes: 128 });
  for (let b = 0; b < BATCHES; b++) {
    log.append(Array.from({ length: PER_BATCH }, (_, j) => ({ key: `k${j}`, value: `b${b}-r${j}-${'v'.repeat(30)}`, timestamp: timestampOf(b, j) })));
  }
  expect(log.segments().length).toBeGreaterThan(4);
  // On a record, between records of a batch, between batches, before the start, past the end.
  for (let b = 0; b < BATCHES; b += 5) times.push(timestampOf(b, 0), timestampOf(b, 1) + 5, timestampOf(b, 3) + 500);
  times.push(START - 1, START + BATCHES * 1000 + 1);
  for (const t of times) byTime.set(t, log.offsetForTimestamp(t));
  for (let o = 0; o < log.endOffset; o += 11) offsets.push(o);
  offsets.push(log.endOffset - 1, log.endOffset);
  for (const o of offsets) byOffset.set(o, log.read(o, { maxRecords: 1 })[0]?.offset ?? null);
  log.close();
  let deleted = 0;
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith('.index') || name.endsWith('.timeindex')) {
      fs.rmSync(path.join(dir, name));
      deleted++;
    }
  }
  expect(deleted).toBeGreaterThan(8);
}, 240_000);

describe('seglog dump without index files', () => {
  it('--from-time starts where offsetForTimestamp does', () => {
    expect(new Set(byTime.values()).size).toBeGreaterThan(10);
    expect([...byTime.values()]).toContain(null);
    const got = new Map(times.map((t) => [t, firstDumped(['--from-time', String(t)])]));
    expect(got).toEqual(byTime);
  });

  it('--from starts where read does', () => {
    expect([...byOffset.values()]).toContain(null);
    const got = new Map(offsets.map((o) => [o, firstDumped(['--from', String(o)])]));
    expect(got).toEqual(byOffset);
  });
});
