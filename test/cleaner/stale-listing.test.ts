import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { swapHooks } from '../../src/cleaner/swap.js';
import { ClockedLog, partitionDir, readAll, type PlainRecord } from './helpers.js';

/**
 * A read-only view whose listing of the directory is older than a swap, and which first touches
 * the listed segments afterwards: their `.log` is gone (renamed `.deleted`, or `.swap` renamed to
 * its final name) or its name now holds the cleaned file. The writer's renames can land within one
 * tick of the directory's mtime, so the view's cheap "did the directory change?" check can miss
 * them; `staleView` forces that case deterministically. Every read API must then answer from the
 * log before or after the pass: never an error, never a record skipped, duplicated or invented.
 */

const KEYS = 13;

afterEach(() => {
  swapHooks.afterStep = null;
});

/** Offset o holds key `key-<o % KEYS>`, value `v<o>`, timestamp T0 + o. */
function appendRecords(c: ClockedLog, count: number): void {
  for (let i = 0; i < count; i += 4) {
    const base = c.log.endOffset;
    c.now = T0 + base;
    c.log.append([0, 1, 2, 3].map((j) => ({ key: `key-${(base + j) % KEYS}`, value: `v${base + j}`, timestamp: T0 + base + j })));
  }
}
const T0 = 1_700_000_000_000;

/**
 * The view's check of the directory's mtime sees no change since now (as in one mtime tick): the
 * mtime its `ReadOnlyView` (src/log/read-only-view.ts, internal) saw last is set to the current one.
 */
function staleView(log: Log, dir: string): void {
  const view = (log as unknown as { view: { dirMtimeMs: number } }).view;
  expect(view.dirMtimeMs).toBeTypeOf('number');
  view.dirMtimeMs = fs.statSync(dir).mtimeMs;
}

type Api = 'read' | 'readBatches' | 'offsetForTimestamp' | 'segments' | 'stream';

/** Everything the view holds, through `api`, as offset -> value (checked in order on the way). */
async function through(api: Api, view: Log): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const add = (offset: number, value: string): void => {
    const last = [...out.keys()].pop() ?? -1;
    expect(offset, `${api}: offset ${offset} after ${last}`).toBeGreaterThan(last);
    out.set(offset, value);
  };
  if (api === 'read') {
    for (const r of readAll(view)) add(r.offset, r.value!);
  } else if (api === 'stream') {
    for await (const r of view.stream()) add(r.offset, r.value!.toString());
  } else if (api === 'readBatches') {
    // Whole batches, by their base and last offsets: each call starts after the last batch returned.
    let next = view.startOffset;
    while (next < view.endOffset) {
      const buf = view.readBatches(next, { maxBytes: 300 });
      expect(buf.length, `readBatches(${next})`).toBeGreaterThan(0);
      for (let at = 0; at < buf.length; at += 12 + buf.readInt32BE(at + 8)) {
        const lastOffset = Number(buf.readBigInt64BE(at)) + buf.readInt32BE(at + 23);
        expect(lastOffset).toBeGreaterThanOrEqual(next);
        next = lastOffset + 1;
      }
    }
    for (const r of readAll(view)) add(r.offset, r.value!);
  } else if (api === 'offsetForTimestamp') {
    for (let o = 0; o < view.endOffset; o += 5) {
      const found = view.offsetForTimestamp(T0 + o);
      expect(found, `offsetForTimestamp(T0 + ${o})`).not.toBeNull();
      const [r] = view.read(found!, { maxRecords: 1 });
      expect(r!.offset).toBe(found);
      expect(r!.timestamp).toBeGreaterThanOrEqual(T0 + o);
    }
    for (const r of readAll(view)) add(r.offset, r.value!);
  } else {
    const segments = view.segments();
    for (let i = 1; i < segments.length; i++) expect(segments[i]!.baseOffset).toBeGreaterThanOrEqual(segments[i - 1]!.endOffset);
    expect(segments[segments.length - 1]!.endOffset).toBe(view.endOffset);
    for (const r of readAll(view)) add(r.offset, r.value!);
  }
  return out;
}

/** Nothing invented (every record is one of the log before the pass); every key's latest one there. */
function checkHolds(got: Map<number, string>, before: PlainRecord[], end: number, where: string): void {
  const original = new Map(before.map((r) => [r.offset, r.value]));
  for (const [offset, value] of got) expect(original.get(offset), `${where}: offset ${offset}`).toBe(value);
  for (let k = 0; k < KEYS; k++) {
    const latest = end - 1 - ((end - 1 - k) % KEYS);
    expect(got.get(latest), `${where}: key-${k}'s latest record ${latest}`).toBe(`v${latest}`);
  }
}

describe('a read-only view that listed the segments before a swap', () => {
  for (const api of ['read', 'readBatches', 'offsetForTimestamp', 'segments', 'stream'] as const) {
    it(`answers ${api} from the log before or after the pass at every step, without an error`, async () => {
      const c = new ClockedLog(partitionDir(), { segmentBytes: 2048 });
      appendRecords(c, 240);
      const before = readAll(c.log);
      const end = c.log.endOffset;
      // One view that read the active segment's tail (its old segments' files never opened), one
      // that read everything (their descriptors open, their indexes in memory), with few open files.
      const views = [Log.open(c.dir, { readOnly: true }), Log.open(c.dir, { readOnly: true, maxOpenSegments: 2 })];
      views[0]!.read(end - 3);
      readAll(views[1]!);
      const problems: string[] = [];
      let steps = 0;
      swapHooks.afterStep = (step) => {
        steps++;
        // The synchronous reads run here, between two renames of the writer; a stream needs the loop.
        if (api !== 'stream') {
          for (const view of views) {
            staleView(view, c.dir);
            try {
              void through(api, view).then((got) => checkHolds(got, before, end, step)).catch((err: Error) => problems.push(`${step}: ${err.message}`));
            } catch (err) {
              problems.push(`${step}: ${(err as Error).message}`);
            }
          }
        }
        // And a view listed at this step (a `.swap` file, say), touched after the later ones.
        if (views.length < 6) views.push(Log.open(c.dir, { readOnly: true }));
      };
      await c.log.compact();
      swapHooks.afterStep = null;
      const after = readAll(c.log);
      expect(after.length).toBeLessThan(before.length);
      for (const view of views) {
        staleView(view, c.dir);
        const got = await through(api, view);
        checkHolds(got, before, end, 'after the pass');
        // Never skipped: everything the writer holds after the pass, each view holds.
        for (const r of after) expect(got.get(r.offset), `offset ${r.offset}`).toBe(r.value);
        view.close();
      }
      expect(problems).toEqual([]);
      expect(steps).toBeGreaterThan(3);
      c.log.close();
    });
  }
});
