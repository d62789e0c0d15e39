import fs from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { Log, OffsetOutOfRangeError, type LogRecord } from '../../src/index.js';
import { ClockedLog, appendBatch, partitionDir, readsRecordData, segmentFiles, sleep, waitFor } from './helpers.js';

/** Record `o` has value `v<o>:...` (see `appendBatch`): a record is right when its value names its offset. */
function checkRecord(r: LogRecord): void {
  expect(r.value!.toString().startsWith(`v${r.offset}:`), `record at offset ${r.offset}: ${r.value!.toString().slice(0, 20)}`).toBe(true);
  expect(r.key!.toString()).toBe(`k${r.offset}`);
}

describe('reading while retention deletes', () => {
  it('streams from old segments keep going without error or wrong record', async () => {
    for (const fileDeleteDelayMs of [0, 60_000]) {
      const c = new ClockedLog(partitionDir(), { retentionMs: 1000, fileDeleteDelayMs, segmentBytes: 4096 });
      for (let i = 0; i < 200; i++) appendBatch(c.log, 3, c.now - 10_000, 40);
      const segments = c.log.segments().length;
      expect(segments).toBeGreaterThan(10);
      const streams = [c.log.stream({ maxBytes: 1 }), c.log.stream({ from: 100, maxBytes: 300 }), c.log.stream({ from: 400 })];
      const seen: number[][] = streams.map(() => []);
      // Each stream takes a few records, so that it is positioned inside an old segment.
      for (let s = 0; s < streams.length; s++) {
        for (let i = 0; i < 5; i++) {
          const r = (await streams[s]!.next()).value as LogRecord;
          checkRecord(r);
          seen[s]!.push(r.offset);
        }
      }
      // Delete all but the newest few segments while the streams sit inside the deleted ones.
      c.log.deleteRecordsBefore(c.log.segments()[segments - 3]!.baseOffset);
      const start = c.log.startOffset;
      for (let s = 0; s < streams.length; s++) {
        for await (const r of streams[s]!) {
          checkRecord(r);
          expect(r.offset).toBeGreaterThan(seen[s]!.at(-1)!);
          seen[s]!.push(r.offset);
        }
        // What the stream had read ahead comes out (it was read before the deletion: right
        // records), then it jumps to the new start: no offset twice, none out of order.
        const tail = seen[s]!.slice(4);
        const jumps = tail.filter((o, i) => i > 0 && o !== tail[i - 1]! + 1);
        expect(jumps.length).toBeLessThanOrEqual(1);
        if (jumps.length === 1) expect(jumps[0]).toBe(start);
        expect(seen[s]!.at(-1)).toBe(c.log.endOffset - 1);
      }
      c.log.close();
    }
  });

  it('a follower keeps reading correct records while the background pass deletes under it', async () => {
    const c = new ClockedLog(partitionDir(), { retentionMs: 50, retentionCheckIntervalMs: 5, fileDeleteDelayMs: 0, segmentBytes: 2048 });
    const controller = new AbortController();
    const got: number[] = [];
    const reader = (async () => {
      for await (const r of c.log.stream({ follow: true, signal: controller.signal, maxBytes: 200 })) {
        checkRecord(r);
        if (got.length > 0) expect(r.offset).toBeGreaterThan(got.at(-1)!);
        got.push(r.offset);
        if (got.length % 7 === 0) await sleep(1);
      }
    })();
    const reads: Promise<void> = (async () => {
      for (let i = 0; i < 100; i++) {
        const start = c.log.startOffset;
        try {
          for (const r of c.log.read(start, { maxRecords: 50 })) checkRecord(r);
        } catch (err) {
          // Only a range error can happen, if the start moved between the two calls (it cannot: both are synchronous).
          expect(err).toBeInstanceOf(OffsetOutOfRangeError);
        }
        await sleep(1);
      }
    })();
    for (let i = 0; i < 300; i++) {
      appendBatch(c.log, 2, c.now, 30);
      c.now += 1;
      if (i % 10 === 0) await sleep(2);
    }
    await reads;
    expect(await waitFor(() => got.at(-1) === c.log.endOffset - 1)).toBe(true);
    controller.abort();
    await reader;
    expect(c.log.startOffset).toBeGreaterThan(0);
    c.log.close();
  });

  it('a read-only view reading old segments sees them go without error or wrong record', async () => {
    const c = new ClockedLog(partitionDir(), { retentionMs: 1000, fileDeleteDelayMs: 0, segmentBytes: 4096 });
    for (let i = 0; i < 100; i++) appendBatch(c.log, 3, c.now - 10_000, 40);
    c.log.flushSync();
    const view = Log.open(c.dir, { readOnly: true });
    const stream = view.stream({ maxBytes: 1 });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(((await stream.next()).value as LogRecord).offset);
    appendBatch(c.log, 1, c.now, 40);
    const count = c.log.segments().length;
    expect(count).toBeGreaterThan(3);
    expect(c.log.applyRetention()).toBe(count - 1);
    const start = c.log.startOffset;
    await waitFor(() => !segmentFiles(c.dir).some((n) => n.endsWith('.deleted')));
    for await (const r of stream) {
      checkRecord(r);
      seen.push(r.offset);
      if (r.offset === c.log.endOffset - 1) break;
    }
    const jumps = seen.filter((o, i) => i > 0 && o !== seen[i - 1]! + 1);
    expect(jumps).toEqual([start]);
    expect(() => view.read(0)).toThrow(OffsetOutOfRangeError);
    view.close();
    c.log.close();
  });
});

describe('cost of a retention pass', () => {
  /** System calls made by one pass that deletes `segments` segments of `valueBytes`-byte records, and by their deletion. */
  async function syscallsOfPass(valueBytes: number, segments: number): Promise<Record<string, number>> {
    const c = new ClockedLog(partitionDir(), { retentionMs: 1000, fileDeleteDelayMs: 0, retentionCheckIntervalMs: 0 });
    for (let s = 0; s < segments; s++) {
      for (let b = 0; b < 4; b++) appendBatch(c.log, 2, c.now - 10_000, valueBytes);
      c.log.roll();
    }
    appendBatch(c.log, 1, c.now, 10);
    // The rolls' background flushes done first: a `.log` closed under a running fdatasync is
    // closed when the sync ends (FileRecords.closeWhenSynced), which could land in the pass.
    await c.log.flush();
    c.reopen(); // same state for both: nothing cached, no flush in flight
    const names = ['renameSync', 'rmSync', 'unlinkSync', 'readSync', 'openSync', 'closeSync', 'fstatSync', 'statSync', 'fsyncSync', 'fdatasyncSync', 'writeSync', 'writeFileSync', 'ftruncateSync', 'readFileSync', 'readdirSync'] as const;
    const counts: Record<string, number> = {};
    const spies = names.map((name) => {
      counts[name] = 0;
      const original = fs[name] as (...args: unknown[]) => unknown;
      return vi.spyOn(fs, name).mockImplementation(((...args: unknown[]) => {
        // readSync: only reads of record data (see readsRecordData).
        if (name !== 'readSync' || readsRecordData(args[0])) counts[name]!++;
        return original.apply(fs, args);
      }) as never);
    });
    try {
      expect(c.log.applyRetention()).toBe(segments);
      expect(await waitFor(() => !fs.readdirSync(c.dir).some((n) => n.endsWith('.deleted')))).toBe(true);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    c.log.close();
    // The `waitFor` polling itself lists the directory; it is not part of the pass.
    delete counts.readdirSync;
    return counts;
  }

  it('does not depend on the bytes deleted, and reads no record data', async () => {
    const small = await syscallsOfPass(10, 5);
    const big = await syscallsOfPass(256 * 1024, 5);
    expect(big).toEqual(small);
    expect(small.readSync).toBe(0);
    // Per segment: rename .log, .index, .timeindex, .txnindex (absent), then delete the four;
    // plus one rename for the log-start-offset checkpoint.
    expect(small.renameSync).toBe(5 * 4 + 1);
    expect(small.rmSync).toBe(5 * 4);
    // And it grows with the number of segments, not with anything else.
    const more = await syscallsOfPass(10, 10);
    expect(more.renameSync).toBe(10 * 4 + 1);
    expect(more.readSync).toBe(0);
  });
});
