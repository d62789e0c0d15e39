import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogIOError, RecordTooLargeError, Topic, type TopicConfig, type TopicRecordInput } from '../../src/index.js';
import { BatchWrites } from '../../src/files/batch-writes.js';
import { nativeAddon } from '../../src/files/native.js';
import { tmpDir } from '../support/tmp.js';

/**
 * A call spanning partitions writes their batches together (`BatchWrites`, two threads) where
 * the addon can, else one after another. Both must leave the same bytes and the same offsets,
 * and a failure midway the same prefix: the partitions before the failing one keep their
 * batches, the failing one and those after it keep nothing.
 */

const CONFIG: TopicConfig = { name: 'events', partitions: 3, segmentBytes: 64 * 1024, indexIntervalBytes: 512, clock: () => 1_700_000_000_000 };

afterEach(() => {
  vi.restoreAllMocks();
});

/** Every file under `dir` by relative path, with its bytes as hex (not the active segment's checkpoint: it names inodes and times). */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name !== '.seglog-active-segment') out[path.relative(dir, path.join(entry.parentPath, entry.name))] = fs.readFileSync(path.join(entry.parentPath, entry.name)).toString('hex');
  }
  return out;
}

/** Calls of keyed records over every partition, some timestamped, some with explicit partitions (no keyless ones: their sticky partition is chosen at random), of varied sizes. */
function calls(): TopicRecordInput[][] {
  const out: TopicRecordInput[][] = [];
  for (let c = 0; c < 60; c++) {
    out.push(
      Array.from({ length: 1 + (c % 37) }, (_, i) => {
        const value = Buffer.alloc(50 + ((c * 31 + i * 7) % 900), c + i);
        if (i % 11 === 5) return { key: `t${c}`, value, timestamp: 1_600_000_000_000 + c };
        if (i % 13 === 6) return { key: `k${i}`, value, partition: (c + i) % 3 };
        return { key: `key-${c}-${i}`, value, headers: { h: `${i}` } };
      }),
    );
  }
  return out;
}

/** Appends `calls` to a new topic in `dir`; returns every result, then closes it. */
function appendAll(dir: string, list: TopicRecordInput[][]): unknown[] {
  const topic = Topic.open(dir, CONFIG);
  const results = list.map((records, c) => topic.append(records, c % 5 === 4 ? { compression: 'gzip' } : undefined));
  topic.close();
  return results;
}

/** Counts the addon's calls that write batches together, `writeBatches` and `finishWrites` (none where it has neither). */
function countTogetherWrites(): { calls: number } {
  const count = { calls: 0 };
  const addon = nativeAddon();
  if (addon?.writeBatches !== undefined) {
    const real = addon.writeBatches.bind(addon);
    vi.spyOn(addon, 'writeBatches').mockImplementation((...args) => {
      count.calls++;
      return real(...args);
    });
  }
  if (addon?.finishWrites !== undefined) {
    const real = addon.finishWrites.bind(addon);
    vi.spyOn(addon, 'finishWrites').mockImplementation((results) => {
      count.calls++;
      return real(results);
    });
  }
  return count;
}

describe('a topic append written together', () => {
  it('leaves the same files and offsets as appending one partition after another', () => {
    const root = tmpDir();
    const list = calls();
    const together = countTogetherWrites();
    const a = appendAll(path.join(root, 'a'), list);
    // Where the addon writes batches together, the first topic used it for every call spanning partitions.
    expect(together.calls > 0).toBe(BatchWrites.available());
    vi.spyOn(BatchWrites, 'available').mockReturnValue(false);
    const before = together.calls;
    const b = appendAll(path.join(root, 'b'), list);
    expect(together.calls).toBe(before);
    expect(a).toEqual(b);
    expect(contents(path.join(root, 'a'))).toEqual(contents(path.join(root, 'b')));
    const reopened = Topic.open(path.join(root, 'a'));
    expect(reopened.endOffsets().reduce((x, y) => x + y, 0)).toBe(list.reduce((n, records) => n + records.length, 0));
    expect(reopened.partition(1).segments().length).toBeGreaterThan(1); // the calls rolled segments
    reopened.close();
  });

  // Small calls are written at once (`writeBatches`), larger ones handed over batch by batch (`finishWrites` ends them).
  it.each([0, 8000])('when the middle partition fails to write, keeps the first one and nothing of the others (values padded by %i bytes)', (pad) => {
    const dir = tmpDir();
    const topic = Topic.open(dir, CONFIG);
    const records = (n: number): TopicRecordInput[] =>
      [0, 1, 2].flatMap((p) => Array.from({ length: n }, (_, i) => ({ value: `p${p}-${i}`.padEnd(4 + pad, '.'), partition: p })));
    topic.append(records(3));
    const partitionDir = (p: number): string => path.join(dir, `events-${p}`);
    const before = [1, 2].map((p) => contents(partitionDir(p)));
    const activeLog = path.join(partitionDir(1), '00000000000000000000.log');
    const size = fs.statSync(activeLog).size;
    const failed = failSecondWrite(activeLog);
    let caught: unknown;
    try {
      topic.append(records(2));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LogIOError);
    expect(caught).toMatchObject({ file: activeLog, position: size });
    expect(((caught as Error).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    // Whether a large call is handed over batch by batch is the addon's choice (it stops asking a worker that cannot run in time).
    expect(failed.by).toMatch(BatchWrites.available() ? (pad > 0 ? /^(finishWrites|writeBatches)$/ : /^writeBatches$/) : /^writeSync$/);
    expect(topic.endOffsets()).toEqual([5, 3, 3]);
    expect([1, 2].map((p) => contents(partitionDir(p)))).toEqual(before);
    vi.restoreAllMocks();
    topic.append(records(1));
    expect(topic.endOffsets()).toEqual([6, 4, 4]);
    topic.close();
    const reopened = Topic.open(dir);
    expect(reopened.endOffsets()).toEqual([6, 4, 4]);
    expect(reopened.partition(1).recovery.actions).toEqual([]);
    const values = (p: number): string[] => reopened.partition(p).read(3).map((r) => r.value!.toString().replace(/\.+$/, ''));
    expect(values(1)).toEqual(['p1-0']);
    expect(values(0)).toEqual(['p0-0', 'p0-1', 'p0-0']);
    reopened.close();
  });

  it('when a later partition batch cannot be made, appends the partitions before it and throws its error', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { ...CONFIG, maxMessageBytes: 4096 });
    const big = Buffer.alloc(8192, 1);
    expect(() =>
      topic.append([
        { value: 'a', partition: 0 },
        { value: 'b', partition: 1 },
        { value: big, partition: 2 },
      ]),
    ).toThrow(RecordTooLargeError);
    expect(topic.endOffsets()).toEqual([1, 1, 0]);
    topic.close();
  });

  it('never ends a call whose writes were handed over but not run in a later call that started none', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { ...CONFIG, maxMessageBytes: 16_000 });
    const finished: number[] = [];
    const addon = nativeAddon();
    // The addon's calls are stood in for: what is checked is which ones the topic makes.
    if (addon?.startWrites !== undefined) {
      vi.spyOn(BatchWrites, 'available').mockReturnValue(true);
      vi.spyOn(addon, 'startWrites').mockReturnValue(true);
      vi.spyOn(addon, 'queueWrite').mockReturnValue(true);
      vi.spyOn(addon, 'writeBatches').mockReturnValue(1);
      vi.spyOn(addon, 'finishWrites').mockImplementation((results) => (finished.push(results.length), 1));
    }
    const records = (bytes: number[]): TopicRecordInput[] => bytes.map((n, p) => ({ value: Buffer.alloc(n, 1), partition: p }));
    const first = (): unknown => topic.append(records([9000, 9000, 9000]));
    if (addon?.startWrites === undefined) first(); // SEGLOG_NO_NATIVE: the loop of Log.appends, which hands nothing over
    else {
      // The call's JS is cut short between handing its batches over and running them (as by a stack overflow).
      vi.spyOn(BatchWrites.prototype, 'run').mockImplementationOnce(() => {
        throw new RangeError('Maximum call stack size exceeded');
      });
      expect(first).toThrow(RangeError);
    }
    // The next call's first batch cannot be made: it starts no call, so it must end none.
    expect(() => topic.append(records([20_000, 9000, 9000]))).toThrow(RecordTooLargeError);
    expect(finished).toEqual([]);
    vi.restoreAllMocks();
    topic.close();
  });

  it('writes batches to several files in one call, reporting each failure by its errno', () => {
    const dir = tmpDir();
    expect(BatchWrites.available()).toBe(nativeAddon()?.writeBatches !== undefined && process.env.SEGLOG_WRITE_THREADS !== '1');
    if (nativeAddon()?.writeBatches === undefined) return; // SEGLOG_NO_NATIVE: the topic tests above ran the fallback
    const files = [0, 1, 2].map((i) => path.join(dir, `f${i}`));
    const fds = files.map((f) => fs.openSync(f, 'w+'));
    const readOnly = fs.openSync(files[0]!, 'r');
    const writes = new BatchWrites();
    const buffers = [0, 1, 2].map((i) => Buffer.alloc(20_000 + i, 65 + i));
    for (let round = 0; round < 3; round++) {
      // Rounds 1 and 2 hand each write over as it is added, where the worker can be had.
      if (round > 0) writes.start(3, 60_000);
      for (let i = 0; i < 3; i++) writes.add(fds[i]!, buffers[i]!, buffers[i]!.length - round, round * 100);
      writes.run();
      expect([0, 1, 2].map((i) => writes.failure(i))).toEqual([null, null, null]);
      writes.clear();
    }
    expect(files.map((f) => fs.statSync(f).size)).toEqual([20_000 + 198, 20_001 + 198, 20_002 + 198]);
    expect(fs.readFileSync(files[2]!).subarray(200)).toEqual(buffers[2]!.subarray(0, 20_000));
    writes.add(fds[0]!, buffers[0]!, 10, 0);
    writes.add(readOnly, buffers[1]!, 10, 0);
    writes.run();
    expect(writes.failure(0)).toBeNull();
    expect(writes.failure(1)).toMatchObject({ code: 'EBADF', syscall: 'write' });
    for (const fd of [...fds, readOnly]) fs.closeSync(fd);
  });
});

/**
 * Makes the second batch write of the next append (partition 1's, to `file`) fail with ENOSPC:
 * where batches are written together, after all three landed (so the failing one and the one
 * after it must be cut back); else its `fs.writeSync`, before anything of it lands.
 */
function failSecondWrite(file: string): { by: string } {
  const failed = { by: '' };
  const addon = nativeAddon();
  if (BatchWrites.available()) {
    const writeBatches = addon!.writeBatches!.bind(addon);
    vi.spyOn(addon!, 'writeBatches').mockImplementation((fds, buffers, lengths, positions, results, count) => {
      const threads = writeBatches(fds, buffers, lengths, positions, results, count);
      results[1] = -28; // ENOSPC
      failed.by = 'writeBatches';
      return threads;
    });
    if (addon!.finishWrites !== undefined) {
      const finishWrites = addon!.finishWrites.bind(addon);
      vi.spyOn(addon!, 'finishWrites').mockImplementation((results) => {
        const threads = finishWrites(results);
        results[1] = -28;
        failed.by = 'finishWrites';
        return threads;
      });
    }
    return failed;
  }
  const real = fs.writeSync.bind(fs) as (...args: unknown[]) => number;
  const ino = fs.statSync(file).ino;
  vi.spyOn(fs, 'writeSync').mockImplementation(((...args: unknown[]) => {
    if (fs.fstatSync(args[0] as number).ino === ino) {
      failed.by = 'writeSync';
      throw Object.assign(new Error('ENOSPC: injected failure, write'), { code: 'ENOSPC', syscall: 'write' });
    }
    return real(...args);
  }) as typeof fs.writeSync);
  return failed;
}
