import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Log, OffsetOutOfRangeError } from '../../src/index.js';
import { ClockedLog, partitionDir, readAll } from './helpers.js';

/**
 * A read-only view with a bound of one open file (`maxOpenSegments: 1`), so that it opens its
 * inactive segments lazily, by the name it listed, and closes them again as it moves on. The
 * writer then swaps every segment for a compacted one (`.cleaned` -> `.swap` -> `.log`, the
 * originals renamed `.deleted` and deleted at once), deletes segments below a new log start, and
 * truncates, and the view first opens (or opens again) the files it listed afterwards: their
 * names hold other files or none. Every read API must answer without an error (only
 * `OffsetOutOfRangeError` for an offset the writer no longer holds), hold every record the writer
 * holds, and return no record the log never held at that offset. `staleView` forces the listing to
 * be older than the files, as a directory mtime within one tick of the renames leaves it.
 */

const KEYS = 11;
const T0 = 1_700_000_000_000;

/** Offset o holds key `key-<o % KEYS>`, value `v<o>`, timestamp T0 + o. */
function appendRecords(c: ClockedLog, count: number): void {
  for (let i = 0; i < count; i += 4) {
    const base = c.log.endOffset;
    c.now = T0 + base;
    c.log.append([0, 1, 2, 3].map((j) => ({ key: `key-${(base + j) % KEYS}`, value: `v${base + j}`, timestamp: T0 + base + j })));
  }
}

function staleView(log: Log, dir: string): void {
  const view = (log as unknown as { view: { dirMtimeMs: number } }).view;
  expect(view.dirMtimeMs).toBeTypeOf('number');
  view.dirMtimeMs = fs.statSync(dir).mtimeMs;
}

type Api = 'read' | 'readBatches' | 'offsetForTimestamp' | 'stream';

/**
 * Offset -> value of every record the view holds from `from` on, through `api`, in order. The view
 * may know an end the writer has cut since: past `writerEnd`, finding nothing is right.
 */
async function through(api: Api, view: Log, from: number, writerEnd: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const add = (offset: number, value: string): void => {
    const last = [...out.keys()].pop() ?? from - 1;
    expect(offset, `${api}: offset ${offset} after ${last}`).toBeGreaterThan(last);
    out.set(offset, value);
  };
  const end = view.endOffset;
  if (api === 'stream') {
    for await (const r of view.stream({ from })) {
      add(r.offset, r.value!.toString());
      if (r.offset >= end - 1) break;
    }
    return out;
  }
  if (api === 'readBatches') {
    let next = from;
    while (next < end) {
      const buf = view.readBatches(next, { maxBytes: 200 });
      if (next >= writerEnd && buf.length === 0) break;
      expect(buf.length, `readBatches(${next})`).toBeGreaterThan(0);
      for (let at = 0; at < buf.length; at += 12 + buf.readInt32BE(at + 8)) next = Number(buf.readBigInt64BE(at)) + buf.readInt32BE(at + 23) + 1;
    }
  }
  if (api === 'offsetForTimestamp') {
    for (let o = from; o < end; o += 3) {
      const found = view.offsetForTimestamp(T0 + o);
      if (o >= writerEnd && found === null) break;
      expect(found, `offsetForTimestamp(T0 + ${o})`).not.toBeNull();
      expect(found!).toBeGreaterThanOrEqual(o);
      const [r] = view.read(found!, { maxRecords: 1 });
      expect(r!.offset).toBe(found);
    }
  }
  let next = from;
  while (next < end) {
    const got = view.read(next, { maxBytes: 200 });
    if (got.length === 0) break;
    for (const r of got) add(r.offset, r.value!.toString());
    next = got[got.length - 1]!.offset + 1;
  }
  return out;
}

/** Every record the view returned is the one the log had at its offset; every one the writer holds from `from` on is there. */
function checkHolds(got: Map<number, string>, writer: Log, from: number, where: string): void {
  for (const [offset, value] of got) expect(value, `${where}: offset ${offset}`).toBe(`v${offset}`);
  for (const r of readAll(writer)) if (r.offset >= from) expect(got.get(r.offset), `${where}: offset ${r.offset}`).toBe(r.value);
}

/**
 * Views with one open file: one that only listed the directory (no segment file opened), one that
 * read everything (each inactive segment opened, its batches and index entries held, then closed
 * again by the bound: the next use reopens it by name).
 */
function views(dir: string): Log[] {
  const listed = Log.open(dir, { readOnly: true, maxOpenSegments: 1 });
  const reopened = Log.open(dir, { readOnly: true, maxOpenSegments: 1 });
  expect(readAll(reopened).length).toBeGreaterThan(100);
  for (let o = reopened.startOffset; o < reopened.endOffset; o += 7) expect(reopened.offsetForTimestamp(T0 + o)).toBeGreaterThanOrEqual(o);
  return [listed, reopened];
}

describe('a read-only view with one open file, listed before the writer swapped, deleted and truncated its segments', () => {
  for (const api of ['read', 'readBatches', 'offsetForTimestamp', 'stream'] as const) {
    it(`${api}: no error, no record skipped or invented`, async () => {
      const c = new ClockedLog(partitionDir(), { segmentBytes: 1024 });
      appendRecords(c, 400);
      expect(c.log.segments().length).toBeGreaterThan(8);
      // A compaction pass swaps every inactive segment.
      let listed = views(c.dir);
      await c.log.compact();
      expect(readAll(c.log).length).toBeLessThan(400);
      for (const view of listed) {
        staleView(view, c.dir);
        checkHolds(await through(api, view, view.startOffset, c.log.endOffset), c.log, 0, `${api} after a pass`);
        view.close();
      }
      // Retention: the segments below a new log start renamed `.deleted`, then deleted.
      appendRecords(c, 200);
      listed = views(c.dir);
      const start = c.log.segments()[3]!.baseOffset + 2;
      expect(c.log.deleteRecordsBefore(start)).toBeGreaterThan(0);
      for (const view of listed) {
        staleView(view, c.dir);
        // The view may still hold the offsets below the new start (their segment open) or not.
        try {
          view.read(0, { maxRecords: 1 });
        } catch (err) {
          expect(err).toBeInstanceOf(OffsetOutOfRangeError);
        }
        staleView(view, c.dir);
        checkHolds(await through(api, view, start, c.log.endOffset), c.log, start, `${api} after deleteRecordsBefore`);
        view.close();
      }
      // A truncation retires the segments after the cut one; then the writer appends and rolls again.
      listed = views(c.dir);
      const cut = c.log.segments().at(-4)!.baseOffset + 3;
      c.log.truncateTo(cut);
      appendRecords(c, 60);
      c.log.roll();
      appendRecords(c, 20);
      for (const view of listed) {
        staleView(view, c.dir);
        checkHolds(await through(api, view, start, c.log.endOffset), c.log, start, `${api} after truncateTo`);
        view.close();
      }
      c.log.close();
    });
  }
});
