/**
 * A read-only view whose list of segments is older than a writer's `truncateTo`: the writer cut
 * the segment holding the new end, retired every later one (renamed `.deleted`, still readable
 * through the view's open descriptors), and wrote again. A view that caught up just before the
 * truncation (in another process, the writer can truncate between the view's catching up and its
 * read; or the directory's mtime did not move within one tick) reads the cut segment as it is now
 * and must not go on into a retired one: that joined records the log never held together (the
 * reader-beside-writer stress test saw both kinds below). `staleView` forces the stale listing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Log, type LogRecord } from '../../src/index.js';
import { FileRecords } from '../../src/segment/file-records.js';
import { tmpDir } from '../support/tmp.js';

const T0 = 1_700_000_000_000;

/** Appends offsets from the end on, `perBatch` records a batch: value `v<o>`, timestamp T0 + o. */
function appendUpTo(log: Log, end: number, perBatch = 4): void {
  while (log.endOffset < end) {
    const base = log.endOffset;
    const n = Math.min(perBatch, end - base);
    log.append(Array.from({ length: n }, (_, i) => ({ value: `v${base + i}`, timestamp: T0 + base + i })));
  }
}

/** The view's check of the directory's mtime sees no change since now, as within one mtime tick. */
function staleView(log: Log, dir: string): void {
  const view = (log as unknown as { view: { dirMtimeMs: number } }).view;
  expect(view.dirMtimeMs).toBeTypeOf('number');
  view.dirMtimeMs = fs.statSync(dir).mtimeMs;
}

function offsetsOf(records: LogRecord[]): number[] {
  return records.map((r) => r.offset);
}

const sizesByDigits = new Map<number, Map<number, number>>();

/** Key length by size in bytes of a one-record batch with value `v<o>` (by the digits of `o`). */
function singleBatchSizes(o: number): Map<number, number> {
  const digits = String(o).length;
  const known = sizesByDigits.get(digits);
  if (known !== undefined) return known;
  const scratch = Log.open(path.join(tmpDir(), 'sizes-0'));
  const sizes = new Map<number, number>();
  for (let keyLength = 0; keyLength < 200; keyLength++) {
    const before = scratch.size;
    scratch.append({ key: 'k'.repeat(keyLength), value: `v${o}`, timestamp: T0 + o });
    if (!sizes.has(scratch.size - before)) sizes.set(scratch.size - before, keyLength);
  }
  scratch.close();
  sizesByDigits.set(digits, sizes);
  return sizes;
}

/**
 * Appends one-record batches until the active segment is exactly `target` bytes (the last
 * record's key pads it): the same bytes as before hold fewer offsets, and end on a batch boundary.
 */
function refillTo(log: Log, target: number): void {
  for (;;) {
    const o = log.endOffset;
    const rest = target - log.segments().at(-1)!.sizeBytes;
    const keyLength = singleBatchSizes(o).get(rest);
    if (keyLength !== undefined) {
      log.append({ key: 'k'.repeat(keyLength), value: `v${o}`, timestamp: T0 + o });
      return;
    }
    expect(rest).toBeGreaterThan(150);
    log.append({ value: `v${o}`, timestamp: T0 + o });
  }
}

/**
 * A writer with segments [0, second), [second, ...) and more, a view that listed them and read
 * from `second` on (their descriptors open) or everything (`readAll`: its first segment's
 * batches known too). Then the writer truncated to 5, inside the first segment, and appended
 * again in one-record batches until the first segment has the size the view knows, which then
 * holds fewer offsets than before. The first segment is the active one again.
 */
function truncatedUnderView(readAll: boolean): { writer: Log; view: Log; second: number } {
  const dir = path.join(tmpDir(), 'stale-0');
  const writer = Log.open(dir, { segmentBytes: 1024 });
  appendUpTo(writer, 100);
  const segments = writer.segments();
  expect(segments.length).toBeGreaterThanOrEqual(3);
  const second = segments[1]!.baseOffset;
  const end = writer.endOffset;
  const view = Log.open(dir, { readOnly: true });
  expect(view.endOffset).toBe(end);
  const from = readAll ? 0 : second;
  expect(offsetsOf(view.read(from, { maxRecords: 500 }))).toEqual([...Array(end - from).keys()].map((i) => from + i));
  staleView(view, dir);
  writer.truncateTo(5);
  refillTo(writer, segments[0]!.sizeBytes);
  expect(writer.segments().length).toBe(1);
  expect(writer.endOffset).toBeLessThan(second);
  staleView(view, dir);
  return { writer, view, second };
}

describe('a read-only view listed before the writer truncated', () => {
  it.each([false, true])('read and readBatches never go on from the cut segment into a retired one (first segment read before: %s)', (readAll) => {
    const { writer, view, second } = truncatedUnderView(readAll);
    // The first segment holds 0..end-1 now, in the bytes the view knows; the retired second one
    // second.. as before: a read that went on into it returned a gap of offsets.
    const end = writer.endOffset;
    const all = [...Array(end - 3).keys()].map((i) => 3 + i);
    const records = view.read(3, { maxRecords: 500 });
    expect(offsetsOf(records)).toEqual(all);
    for (const r of records) expect(r.value?.toString()).toBe(`v${r.offset}`);
    staleView(view, writer.dir);
    const bytes = view.readBatches(3, { maxBytes: 1 << 20 });
    let last = -1;
    for (let at = 0; at < bytes.length; at += 12 + bytes.readInt32BE(at + 8)) {
      const base = Number(bytes.readBigInt64BE(at));
      if (last >= 0) expect(base).toBe(last + 1);
      last = base + bytes.readInt32BE(at + 23);
    }
    expect(last).toBe(end - 1);
    expect(second).toBeGreaterThan(end);
    view.close();
    writer.close();
  });

  it.each([false, true])('offsetForTimestamp never answers from a retired segment after the cut one had nothing (first segment read before: %s)', (readAll) => {
    const { writer, view, second } = truncatedUnderView(readAll);
    // Nothing the log holds has a timestamp at or after T0 + end: the retired segment's `second`
    // answers for a log that no longer exists (nor ever held 0..end-1 and then `second`).
    const end = writer.endOffset;
    expect(second).toBeGreaterThan(end + 2);
    expect(view.offsetForTimestamp(T0 + end + 2)).toBeNull();
    staleView(view, writer.dir);
    expect(view.offsetForTimestamp(T0 + 7)).toBe(7);
    expect(view.endOffset).toBe(end);
    view.close();
    writer.close();
  });

  it('reads on into the next segment when the writer only appended and rolled', () => {
    const { writer, view } = truncatedUnderView(true);
    appendUpTo(writer, 150);
    const fresh = Log.open(writer.dir, { readOnly: true });
    expect(fresh.segments().length).toBeGreaterThan(1);
    for (const reader of [fresh, view]) {
      expect(offsetsOf(reader.read(0, { maxRecords: 500 }))).toEqual([...Array(150).keys()]);
      expect(reader.offsetForTimestamp(T0 + 140)).toBe(140);
    }
    fresh.close();
    view.close();
    writer.close();
  });
  it('offsetForTimestamp never passes over a segment on a largest timestamp it read after the cut', () => {
    const dir = path.join(tmpDir(), 'stale-0');
    const writer = Log.open(dir, { segmentBytes: 1024 });
    appendUpTo(writer, 100);
    const segments = writer.segments();
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const b = segments[1]!.baseOffset;
    const view = Log.open(dir, { readOnly: true });
    expect(view.read(0, { maxRecords: 500 })).toHaveLength(100);
    staleView(view, dir);
    // The writer cuts the second segment (retiring the later ones) and writes it again, to the
    // size the view knows, in one-record batches: fewer offsets than before.
    writer.truncateTo(b + 5);
    refillTo(writer, segments[1]!.sizeBytes);
    const end = writer.endOffset;
    staleView(view, dir);
    // Answered by the second segment, whose largest timestamp the view reads now: T0 + end - 1.
    expect(view.offsetForTimestamp(T0 + b + 2)).toBe(b + 2);
    appendUpTo(writer, end + 4, 1);
    staleView(view, dir);
    // Passed over on that maximum, a retired later segment answered with its own offsets. The
    // answer is end + 2, or none while the view has not seen the segment the writer rolled to.
    expect([end + 2, null]).toContain(view.offsetForTimestamp(T0 + end + 2));
    view.close();
    writer.close();
  });
});

describe('a read-only view that lists the directory while truncateTo retires the later segments', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // The writer renames the segments after the cut one to `.deleted` one by one, before it cuts. A
  // view in another process that lists the directory between two renames sees some of them. When
  // the first was renamed first, the view held the cut segment and the last one with a hole
  // between: a read went on over it as over a compacted log's gap (the cut segment was not cut
  // yet, the last one still under its name), and a timestamp lookup in the hole answered with the
  // last segment's offsets (the stress test saw offsetForTimestamp skip 431 offsets past the log
  // start). The last one goes first: the view sees the log without its tail, as it will be.
  it('sees the log without its tail, never with a hole, and reads and looks up across it', () => {
    const dir = path.join(tmpDir(), 'retiring-0');
    const writer = Log.open(dir);
    for (const end of [10, 20, 30]) {
      appendUpTo(writer, end);
      if (end < 30) writer.roll();
    }
    expect(writer.segments().map((s) => s.baseOffset)).toEqual([0, 10, 20]);
    const rename = fs.renameSync;
    const seen: { bases: number[]; read: number[]; lookup: number | null }[] = [];
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      rename(from, to);
      if (!String(to).endsWith('.log.deleted') || seen.length > 0) return;
      // Between the first `.log` renamed and the next: what a view listing now sees.
      const view = Log.open(dir, { readOnly: true });
      const bases = view.segments().map((s) => s.baseOffset);
      seen.push({ bases, read: offsetsOf(view.read(5, { maxRecords: 100 })), lookup: view.offsetForTimestamp(T0 + 15) });
      view.close();
    });
    writer.truncateTo(5);
    vi.restoreAllMocks();
    expect(seen).toHaveLength(1);
    const [{ bases, read, lookup }] = seen as [(typeof seen)[0]];
    expect(read).toEqual([...Array(15).keys()].map((i) => 5 + i));
    expect(lookup).toBe(15);
    expect(bases).toEqual([0, 10]);
    writer.close();
  });
});

describe('a read-only view whose read of a segment meets the writer cutting and writing it again', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // The view found the batch holding the offset asked for (its header), then read the run of
  // batches from there; a writer in another process cut the segment before that batch and wrote
  // it again in between, so the run started with a batch below the offset. Its records were
  // passed over, the read went on from the offset after that batch, and returned records before
  // the one asked for (the stress test saw read(206912) begin at 206911).
  it('never returns records before the offset asked for', () => {
    const dir = path.join(tmpDir(), 'rewritten-0');
    const writer = Log.open(dir);
    appendUpTo(writer, 10, 10);
    appendUpTo(writer, 20, 10);
    const view = Log.open(dir, { readOnly: true });
    const readInto = FileRecords.prototype.readInto;
    let rewrites = 0;
    vi.spyOn(FileRecords.prototype, 'readInto').mockImplementation(function (this: FileRecords, into, intoOffset, length, position) {
      // The read of the run (a buffer of its own, not a cursor's chunk): the writer gets there first.
      if (!this.writable && rewrites === 0 && intoOffset === 0 && into.length === length) {
        rewrites++;
        writer.truncateTo(10);
        appendUpTo(writer, 30, 1);
      }
      return readInto.call(this, into, intoOffset, length, position);
    });
    const records = view.read(15, { maxRecords: 100 });
    vi.restoreAllMocks();
    expect(rewrites).toBe(1);
    expect(offsetsOf(records)[0]).toBe(15);
    expect(offsetsOf(records)).toEqual([...Array(records.length).keys()].map((i) => 15 + i));
    for (const r of records) expect(r.value?.toString()).toBe(`v${r.offset}`);
    view.close();
    writer.close();
  });
});
