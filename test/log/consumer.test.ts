import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONSUMER_OFFSETS_FILE,
  CorruptCheckpointError,
  InvalidArgumentError,
  Log,
  LogClosedError,
  LogIOError,
  OffsetOutOfRangeError,
  type LogRecord,
} from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

function partitionDir(): string {
  return path.join(tmpDir(), 'orders-0');
}

function fill(log: Log, count: number): void {
  for (let i = 0; i < count; i++) log.append({ key: `k${i}`, value: `value-${i}`, timestamp: 1_000 + i });
}

async function offsets(iter: AsyncIterable<LogRecord>): Promise<number[]> {
  const out: number[] = [];
  for await (const r of iter) out.push(r.offset);
  return out;
}

/** Removes the first `n` segments' files, as retention does, and reopens the log. */
function dropFirstSegments(dir: string, log: Log, n: number): Log {
  const segments = log.segments();
  log.close();
  for (const s of segments.slice(0, n)) {
    for (const ext of ['.log', '.index', '.timeindex']) fs.rmSync(s.path.replace(/\.log$/, ext), { force: true });
  }
  return Log.open(dir, { segmentBytes: 1024 });
}

describe('consumer offsets', () => {
  it('starts with no commit, commits durably, and keeps it across reopen', async () => {
    const dir = partitionDir();
    const log = Log.open(dir);
    fill(log, 10);
    const c = log.consumer('billing');
    expect(c.committed()).toBeNull();
    expect(c.position()).toBe(0);
    await c.commit(4);
    expect(c.committed()).toBe(4);
    expect(fs.readFileSync(path.join(dir, CONSUMER_OFFSETS_FILE), 'utf8')).toBe('0\n1\nbilling 4\n');
    log.close();
    const again = Log.open(dir);
    expect(again.consumer('billing').committed()).toBe(4);
    expect(await offsets(again.consumer('billing').stream())).toEqual([4, 5, 6, 7, 8, 9]);
    again.close();
  });

  it('keeps the offsets of several consumers, each at its own pace', async () => {
    const dir = partitionDir();
    const log = Log.open(dir);
    fill(log, 20);
    const a = log.consumer('a');
    const b = log.consumer('b');
    const c = log.consumer('c.with-dots_and:colons');
    // Commits of one tick, and commits racing each other, all land.
    await Promise.all([a.commit(3), b.commit(7), c.commit(1), a.commit(5)]);
    expect([a.committed(), b.committed(), c.committed()]).toEqual([5, 7, 1]);
    const many: Promise<void>[] = [];
    for (let i = 0; i <= 20; i++) {
      many.push(a.commit(i));
      if (i % 3 === 0) many.push(b.commit(i));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(many);
    expect([a.committed(), b.committed(), c.committed()]).toEqual([20, 18, 1]);
    expect(fs.readFileSync(path.join(dir, CONSUMER_OFFSETS_FILE), 'utf8')).toBe('0\n3\na 20\nb 18\nc.with-dots_and:colons 1\n');
    expect(await offsets(b.stream())).toEqual([18, 19]);
    expect(await offsets(a.stream())).toEqual([]);
    // Commits may go backwards (a consumer that seeks back and reprocesses).
    await a.commit(2);
    expect(a.committed()).toBe(2);
    log.close();
  });

  it('rejects bad names, options and offsets with typed errors', async () => {
    const log = Log.open(partitionDir());
    fill(log, 5);
    for (const name of ['', 'has space', 'new\nline', 'tab\t', 'x'.repeat(250), 42, null]) {
      expect(() => log.consumer(name as string)).toThrow(InvalidArgumentError);
    }
    expect(() => log.consumer('ok', { autoOffsetReset: 'smallest' as never })).toThrow(InvalidArgumentError);
    expect(() => log.consumer('ok', { retainUncommitted: 'yes' as never })).toThrow(InvalidArgumentError);
    expect(() => log.consumer('ok', { bogus: true } as never)).toThrow(InvalidArgumentError);
    const c = log.consumer('ok');
    for (const bad of [-1, 1.5, NaN, Infinity, '3', null, 2 ** 53]) {
      await expect(c.commit(bad as number)).rejects.toThrow(InvalidArgumentError);
    }
    await expect(c.commit(6)).rejects.toThrow(OffsetOutOfRangeError);
    await c.commit(5);
    expect(() => c.stream({ from: 3 } as never)).toThrow(InvalidArgumentError);
    log.close();
    expect(() => c.committed()).toThrow(LogClosedError);
    await expect(c.commit(1)).rejects.toThrow(LogClosedError);
    expect(() => log.consumer('late')).toThrow(LogClosedError);
  });

  it('reports a malformed offsets file as CorruptCheckpointError', () => {
    const dir = partitionDir();
    const log = Log.open(dir);
    for (const text of ['garbage', '0\n2\na 1\n', '0\n1\na x\n', '0\n1\na 1 keep\n', '1\n0\n', '0\n2\na 1\na 2\n']) {
      fs.writeFileSync(path.join(dir, CONSUMER_OFFSETS_FILE), text);
      expect(() => log.consumer('a').committed()).toThrow(CorruptCheckpointError);
    }
    // Retention then keeps everything rather than guessing.
    expect(log.retentionFloor()).toBe(0);
    log.close();
  });
});

describe('autoOffsetReset', () => {
  it('decides where a consumer without a commit starts', async () => {
    const log = Log.open(partitionDir());
    fill(log, 5);
    expect(await offsets(log.consumer('e').stream())).toEqual([0, 1, 2, 3, 4]);
    expect(await offsets(log.consumer('l', { autoOffsetReset: 'latest' }).stream())).toEqual([]);
    expect(log.consumer('l', { autoOffsetReset: 'latest' }).position()).toBe(5);
    expect(() => log.consumer('n', { autoOffsetReset: 'none' }).stream()).toThrow(OffsetOutOfRangeError);
    await log.consumer('n').commit(3);
    expect(await offsets(log.consumer('n', { autoOffsetReset: 'none' }).stream())).toEqual([3, 4]);
    log.close();
  });

  it('decides where a consumer whose commit retention deleted starts', async () => {
    const dir = partitionDir();
    let log = Log.open(dir, { segmentBytes: 1024 });
    fill(log, 100);
    for (const name of ['e', 'l', 'n', 'fine']) await log.consumer(name).commit(name === 'fine' ? 90 : 2);
    log = dropFirstSegments(dir, log, 2);
    const start = log.startOffset;
    expect(start).toBeGreaterThan(2);
    expect((await offsets(log.consumer('e').stream()))[0]).toBe(start);
    expect(log.consumer('l', { autoOffsetReset: 'latest' }).position()).toBe(100);
    let error: unknown;
    try {
      log.consumer('n', { autoOffsetReset: 'none' }).stream();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OffsetOutOfRangeError);
    expect((error as OffsetOutOfRangeError).offset).toBe(2);
    expect(log.consumer('fine', { autoOffsetReset: 'none' }).position()).toBe(90);
    log.close();
  });

  it('resumes at the new end when the log was truncated below the commit', async () => {
    const dir = partitionDir();
    const log = Log.open(dir, { segmentBytes: 1024 });
    fill(log, 100);
    await log.consumer('ahead').commit(100);
    await log.consumer('behind').commit(20);
    const segments = log.segments();
    log.close();
    // The last segment gone behind the log's back: the commit is past the end.
    const last = segments[segments.length - 1]!;
    for (const ext of ['.log', '.index', '.timeindex']) fs.rmSync(last.path.replace(/\.log$/, ext), { force: true });
    const cut = Log.open(dir, { segmentBytes: 1024 });
    expect(cut.endOffset).toBe(last.baseOffset);
    const c = cut.consumer('ahead', { autoOffsetReset: 'none' });
    expect(c.position()).toBe(last.baseOffset);
    // truncateTo lowers the commits past the cut, so the consumer reads what is appended there.
    const truncateTo = (cut as unknown as { truncateTo?: (o: number) => void }).truncateTo;
    if (typeof truncateTo === 'function') {
      truncateTo.call(cut, 50);
      expect(c.committed()).toBe(50);
      expect(cut.consumer('behind').committed()).toBe(20);
      cut.append([{ value: 'new-50' }, { value: 'new-51' }]);
      expect(await offsets(c.stream())).toEqual([50, 51]);
    }
    cut.close();
  });
});

describe('retainUncommitted', () => {
  it('sets the retention floor to the lowest commit of the retaining consumers, across restarts', async () => {
    const dir = partitionDir();
    const log = Log.open(dir, { segmentBytes: 1024 });
    fill(log, 100);
    expect(log.retentionFloor()).toBeNull();
    const slow = log.consumer('slow', { retainUncommitted: true });
    expect(slow.retainUncommitted).toBe(true);
    // Not committed yet: keep everything.
    expect(log.retentionFloor()).toBe(0);
    await slow.commit(40);
    expect(log.retentionFloor()).toBe(40);
    const fast = log.consumer('fast', { retainUncommitted: true });
    await fast.commit(90);
    const ignored = log.consumer('ignored');
    await ignored.commit(10);
    expect(log.retentionFloor()).toBe(40);
    expect(fs.readFileSync(path.join(dir, CONSUMER_OFFSETS_FILE), 'utf8')).toBe('0\n3\nfast 90 retain\nignored 10\nslow 40 retain\n');
    log.close();
    const again = Log.open(dir, { segmentBytes: 1024 });
    expect(again.retentionFloor()).toBe(40);
    // Leaving the option out keeps what is stored; false clears it.
    expect(again.consumer('slow').retainUncommitted).toBe(true);
    again.consumer('slow', { retainUncommitted: false });
    expect(again.retentionFloor()).toBe(90);
    expect(again.consumer('slow').committed()).toBe(40);
    // A read-only view's consumers count too: the writer reads the same file.
    const reader = Log.open(dir, { readOnly: true });
    const remote = reader.consumer('remote', { retainUncommitted: true });
    await remote.commit(55);
    expect(again.retentionFloor()).toBe(55);
    reader.close();
    const applyRetention = (again as unknown as { applyRetention?: () => number }).applyRetention;
    if (typeof applyRetention === 'function') {
      const before = again.segments();
      (again as unknown as { config: { retentionBytes: number } }).config.retentionBytes = 1;
      applyRetention.call(again);
      // Every segment holding offset 55 or later is kept.
      expect(again.startOffset).toBeLessThanOrEqual(55);
      expect(again.segments().length).toBeLessThan(before.length);
    }
    again.close();
  });

  it('rejects a commit it cannot write with LogIOError, and commits again once it can', async () => {
    const dir = partitionDir();
    const log = Log.open(dir);
    fill(log, 3);
    const lock = path.join(dir, CONSUMER_OFFSETS_FILE + '.lock');
    fs.mkdirSync(lock);
    const c = log.consumer('blocked');
    await expect(c.commit(2)).rejects.toThrow(LogIOError);
    await expect(c.commit(2)).rejects.toMatchObject({ code: 'SEGLOG_IO' });
    expect(c.committed()).toBeNull();
    fs.rmdirSync(lock);
    await c.commit(2);
    expect(c.committed()).toBe(2);
    log.close();
  });

  it('lets consumers of a read-only view commit', async () => {
    const dir = partitionDir();
    const writer = Log.open(dir);
    fill(writer, 10);
    const reader = Log.open(dir, { readOnly: true });
    const c = reader.consumer('remote');
    expect(await offsets(c.stream())).toHaveLength(10);
    await c.commit(10);
    expect(writer.consumer('remote').committed()).toBe(10);
    await expect(c.commit(11)).rejects.toThrow(OffsetOutOfRangeError);
    writer.append({ value: 'x' });
    await c.commit(11);
    reader.close();
    writer.close();
  });
});
