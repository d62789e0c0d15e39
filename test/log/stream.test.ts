import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError, Log, LogClosedError, OffsetOutOfRangeError, type LogRecord } from '../../src/index.js';
import { watchedDirectoryCount } from '../../src/log/stream.js';
import { tmpDir } from '../support/tmp.js';

function partitionDir(): string {
  return path.join(tmpDir(), 'events-0');
}

function fill(log: Log, count: number, from = 0, perBatch = 1): void {
  for (let i = from; i < from + count; i += perBatch) {
    const batch = [];
    for (let j = i; j < Math.min(i + perBatch, from + count); j++) batch.push({ key: `k${j}`, value: `value-${j}`, timestamp: 1_000 + j });
    log.append(batch);
  }
}

async function collect(iter: AsyncIterable<LogRecord>, limit = Infinity): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of iter) {
    out.push(r);
    if (out.length >= limit) break;
  }
  return out;
}

function waiters(log: Log): number {
  return (log as unknown as { local: { appendWaiters: Set<unknown> } }).local.appendWaiters.size;
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('stream: reading', () => {
  it('yields every record once, in offset order, across many segments', async () => {
    const log = Log.open(partitionDir(), { segmentBytes: 1024 });
    fill(log, 500, 0, 3);
    expect(log.segments().length).toBeGreaterThan(10);
    const records = await collect(log.stream({ maxBytes: 300 }));
    expect(records.map((r) => r.offset)).toEqual([...Array(500).keys()]);
    expect(records[123]!.value!.toString()).toBe('value-123');
    log.close();
  });

  it('reads step by step, bounded by maxBytes, and never ahead of the consumer', async () => {
    const log = Log.open(partitionDir(), { segmentBytes: 1 << 20 });
    fill(log, 2000);
    const read = vi.spyOn(log, 'read');
    const stream = log.stream({ maxBytes: 1000 });
    const first = await stream.next();
    expect(first.value!.offset).toBe(0);
    expect(read).toHaveBeenCalledTimes(1);
    // Each record batch here is about 80 bytes: a step of 1000 bytes holds a dozen, not the segment.
    const stepSize = read.mock.results[0]!.value.length as number;
    expect(stepSize).toBeGreaterThan(1);
    expect(stepSize).toBeLessThan(20);
    // A consumer that stops pulling makes the stream read nothing more, however much is appended.
    fill(log, 5000, 2000);
    await tick(20);
    expect(read).toHaveBeenCalledTimes(1);
    let count = 1;
    for await (const r of stream) {
      expect(r.offset).toBe(count);
      count++;
    }
    expect(count).toBe(7000);
    for (const result of read.mock.results) expect((result.value as LogRecord[]).length).toBeLessThan(20);
    log.close();
  });

  it('starts at an offset, at a timestamp, or at startOffset, and rejects bad options', async () => {
    const log = Log.open(partitionDir(), { segmentBytes: 1024 });
    fill(log, 100);
    expect((await collect(log.stream({ from: 42 }))).map((r) => r.offset)[0]).toBe(42);
    expect((await collect(log.stream({ from: { timestamp: 1_050 } })))[0]!.offset).toBe(50);
    expect(await collect(log.stream({ from: { timestamp: 999_999 } }))).toEqual([]);
    expect(await collect(log.stream({ from: 100 }))).toEqual([]);
    expect(() => log.stream({ from: 101 })).toThrow(OffsetOutOfRangeError);
    expect(() => log.stream({ from: -1 })).toThrow(InvalidArgumentError);
    expect(() => log.stream({ from: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => log.stream({ from: 'x' as never })).toThrow(InvalidArgumentError);
    expect(() => log.stream({ maxBytes: 0 })).toThrow(InvalidArgumentError);
    expect(() => log.stream({ follow: 'yes' as never })).toThrow(InvalidArgumentError);
    expect(() => log.stream({ signal: {} as never })).toThrow(InvalidArgumentError);
    expect(() => log.stream({ bogus: 1 } as never)).toThrow(InvalidArgumentError);
    log.close();
    expect(() => log.stream()).toThrow(LogClosedError);
  });

  it('skips records that retention removed before the stream reached them', async () => {
    const dir = partitionDir();
    const writer = Log.open(dir, { segmentBytes: 1024 });
    fill(writer, 300);
    writer.close();
    const log = Log.open(dir, { readOnly: true });
    const segments = log.segments();
    const stream = log.stream({ maxBytes: 200 });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push((await stream.next()).value!.offset);
    // Delete the first three segments behind the reader's back, as retention in the writer would.
    for (const s of segments.slice(0, 3)) {
      for (const ext of ['.log', '.index', '.timeindex']) fs.rmSync(s.path.replace(/\.log$/, ext), { force: true });
    }
    for await (const r of stream) seen.push(r.offset);
    // What the stream had read before the deletion, then on from the new start offset: in order, no duplicate.
    const base = segments[3]!.baseOffset;
    const k = seen.findIndex((o) => o >= base);
    expect(k).toBeGreaterThanOrEqual(5);
    expect(seen.slice(0, k)).toEqual([...Array(k).keys()]);
    expect(seen.slice(k)).toEqual(Array.from({ length: 300 - base }, (_, i) => base + i));
    expect(log.startOffset).toBe(base);
    log.close();
  });
});

describe('stream: follow', () => {
  it('is woken at once by appends of the same process', async () => {
    const log = Log.open(partitionDir());
    fill(log, 3);
    const stream = log.stream({ follow: true });
    const seen: number[] = [];
    const latencies: number[] = [];
    const reader = (async () => {
      for await (const r of stream) {
        seen.push(r.offset);
        if (r.offset >= 3) latencies.push(performance.now() - Number(r.value!.toString()));
        if (r.offset === 22) break;
      }
    })();
    for (let i = 0; i < 20; i++) {
      await tick(5);
      log.append({ value: String(performance.now()) });
    }
    await reader;
    expect(seen).toEqual([...Array(23).keys()]);
    // No poll: a writable log never polls (its waiters wait for the append itself).
    latencies.sort((a, b) => a - b);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(20);
    expect(waiters(log)).toBe(0);
    log.close();
  });

  it('ends cleanly when the signal aborts, also while waiting, and frees its waiter (and with it its timer)', async () => {
    const log = Log.open(partitionDir());
    fill(log, 2);
    const controller = new AbortController();
    const stream = log.stream({ follow: true, signal: controller.signal });
    expect((await stream.next()).value!.offset).toBe(0);
    expect((await stream.next()).value!.offset).toBe(1);
    const pending = stream.next();
    await tick(10);
    expect(waiters(log)).toBe(1);
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(waiters(log)).toBe(0);
    // An already aborted signal gives an empty stream.
    expect(await collect(log.stream({ follow: true, signal: AbortSignal.abort() }))).toEqual([]);
    log.close();
  });

  it('ends cleanly when the log closes', async () => {
    const log = Log.open(partitionDir());
    fill(log, 1);
    const stream = log.stream({ follow: true });
    const reader = collect(stream);
    await tick(10);
    log.close();
    expect((await reader).map((r) => r.offset)).toEqual([0]);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('break and return() release everything, even with a next() waiting', async () => {
    const log = Log.open(partitionDir());
    fill(log, 5);
    for await (const r of log.stream({ follow: true })) {
      if (r.offset === 2) break;
    }
    expect(waiters(log)).toBe(0);
    const stream = log.stream({ follow: true, from: 5 });
    const pending = stream.next();
    await tick(10);
    expect(waiters(log)).toBe(1);
    expect(await stream.return!()).toEqual({ done: true, value: undefined });
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(waiters(log)).toBe(0);
    log.close();
  });

  it('follows a writer through a read-only view, woken by file-system notification', async () => {
    const dir = partitionDir();
    const writer = Log.open(dir, { segmentBytes: 2048 });
    const reader = Log.open(dir, { readOnly: true });
    const stream = reader.stream({ follow: true });
    const seen: number[] = [];
    const latencies: number[] = [];
    const done = (async () => {
      for await (const r of stream) {
        seen.push(r.offset);
        latencies.push(performance.now() - Number(r.value!.toString()));
        if (r.offset === 59) break;
      }
    })();
    for (let i = 0; i < 60; i++) {
      await tick(3);
      writer.append({ value: String(performance.now()) });
    }
    await done;
    expect(seen).toEqual([...Array(60).keys()]);
    expect(writer.segments().length).toBeGreaterThan(1);
    // Polling alone would take up to 1000 ms (notification works) or 100 ms (it does not).
    latencies.sort((a, b) => a - b);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(50);
    expect(watchedDirectoryCount()).toBe(0);
    expect(waiters(reader)).toBe(0);
    reader.close();
    writer.close();
  });

  it('falls back to polling when file-system notification is unavailable', async () => {
    const dir = partitionDir();
    const writer = Log.open(dir);
    const reader = Log.open(dir, { readOnly: true });
    const watch = vi.spyOn(fs, 'watch').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: inotify watch limit reached'), { code: 'ENOSPC' });
    });
    try {
      const stream = reader.stream({ follow: true });
      const pending = stream.next();
      await tick(20);
      expect(watch).toHaveBeenCalled();
      const start = performance.now();
      writer.append({ value: 'polled' });
      expect((await pending).value!.value!.toString()).toBe('polled');
      // Found by the 100 ms poll.
      expect(performance.now() - start).toBeLessThan(500);
      await stream.return!();
      expect(watchedDirectoryCount()).toBe(0);
    } finally {
      watch.mockRestore();
    }
    reader.close();
    writer.close();
  });

  it('shares one watcher among the followers of a directory and drops it with the last', async () => {
    const dir = partitionDir();
    const writer = Log.open(dir);
    fill(writer, 1);
    const reader = Log.open(dir, { readOnly: true });
    const a = reader.stream({ follow: true, from: 1 });
    const b = reader.stream({ follow: true, from: 1 });
    const pa = a.next();
    const pb = b.next();
    await tick(20);
    expect(watchedDirectoryCount()).toBe(1);
    writer.append({ value: 'x' });
    expect((await pa).value!.offset).toBe(1);
    expect((await pb).value!.offset).toBe(1);
    await a.return!();
    expect(watchedDirectoryCount()).toBe(1);
    await b.return!();
    expect(watchedDirectoryCount()).toBe(0);
    reader.close();
    writer.close();
  });

  it('goes back to the new end when the log is truncated below its position', async () => {
    const dir = partitionDir();
    const writer = Log.open(dir, { segmentBytes: 1024 });
    fill(writer, 100);
    writer.close();
    const log = Log.open(dir, { readOnly: true });
    const stream = log.stream({ follow: true, maxBytes: 400 });
    const seen: number[] = [];
    for (let i = 0; i < 100; i++) seen.push((await stream.next()).value!.offset);
    expect(seen[99]).toBe(99);
    // Cut the log at a batch boundary in the middle of a segment, as truncateTo would, behind the reader's back.
    const segments = log.segments();
    const holder = segments.findIndex((s) => s.baseOffset <= 60 && s.endOffset > 60);
    for (const s of segments.slice(holder + 1)) {
      for (const ext of ['.log', '.index', '.timeindex']) fs.rmSync(s.path.replace(/\.log$/, ext), { force: true });
    }
    const keep = log.readBatches(segments[holder]!.baseOffset, { maxBytes: 1 << 20 });
    let bytes = 0;
    for (let at = 0, next = segments[holder]!.baseOffset; next < 60; ) {
      const size = keep.readInt32BE(at + 8) + 12;
      next = Number(keep.readBigInt64BE(at)) + keep.readInt32BE(at + 23) + 1;
      at += size;
      bytes = at;
    }
    fs.truncateSync(segments[holder]!.path, bytes);
    const pending = stream.next();
    await tick(30);
    expect(log.endOffset).toBe(60);
    // The writer comes back and appends from the new end: the stream reads from there.
    const again = Log.open(dir, { segmentBytes: 1024 });
    expect(again.endOffset).toBe(60);
    again.append({ value: 'after-truncation' });
    const next = await pending;
    expect(next.value!.offset).toBe(60);
    expect(next.value!.value!.toString()).toBe('after-truncation');
    await stream.return!();
    log.close();
    again.close();
  });

  it('goes on from startOffset when deleteRecordsBefore passes it, in the same process', async () => {
    const log = Log.open(partitionDir(), { segmentBytes: 1024 });
    fill(log, 200);
    const stream = log.stream({ follow: true, maxBytes: 200 });
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) seen.push((await stream.next()).value!.offset);
    const ahead = [...seen];
    // Read ahead in the current step: those records were read before the deletion and are whole.
    log.deleteRecordsBefore(150);
    for (;;) {
      const r = (await stream.next()).value!;
      seen.push(r.offset);
      if (r.offset === 199) break;
    }
    const k = seen.indexOf(150);
    expect(seen.slice(0, k)).toEqual([...Array(k).keys()]);
    expect(k).toBeGreaterThanOrEqual(ahead.length);
    expect(seen.slice(k)).toEqual(Array.from({ length: 50 }, (_, i) => 150 + i));
    await stream.return!();
    log.close();
  });

  it('goes back to the cut when truncateTo runs while it waits', async () => {
    const log = Log.open(partitionDir(), { segmentBytes: 1024 });
    fill(log, 40);
    const stream = log.stream({ follow: true });
    for (let i = 0; i < 40; i++) await stream.next();
    const pending = stream.next();
    await tick(10);
    // Cut and append again in one go: the stream must not wait for offset 40 and miss 25..39.
    log.truncateTo(25);
    fill(log, 20, 1025);
    const r = (await pending).value!;
    expect([r.offset, r.value!.toString()]).toEqual([25, 'value-1025']);
    await stream.return!();
    log.close();
  });

  it('follows truncateTo of its own process, when the log has it', async () => {
    const log = Log.open(partitionDir(), { segmentBytes: 1024 });
    const truncateTo = (log as unknown as { truncateTo?: (o: number) => void }).truncateTo;
    if (typeof truncateTo !== 'function') {
      log.close();
      return;
    }
    fill(log, 50);
    const stream = log.stream({ follow: true, maxBytes: 100 });
    for (let i = 0; i < 30; i++) await stream.next();
    // Truncate below both the consumer's position and what the stream read ahead, then append again.
    truncateTo.call(log, 20);
    log.append({ value: 'new-20' });
    const seen: string[] = [];
    for (let i = 0; i < 1; i++) {
      const r = (await stream.next()).value!;
      seen.push(`${r.offset}:${r.value!.toString()}`);
    }
    expect(seen).toEqual(['20:new-20']);
    await stream.return!();
    log.close();
  });
});
