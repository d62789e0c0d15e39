import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  InvalidConfigError,
  InvalidRecordError,
  LogClosedError,
  Log,
  LogLockedError,
  ReadOnlyLogError,
  Topic,
  partitionForKey,
  type TopicRecord,
} from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

/** Every file under `dir` with its size and, for small files, its contents: "nothing changed" is this being equal. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, file);
    if (entry.isDirectory()) out[rel] = 'dir';
    else {
      const stat = fs.statSync(file);
      out[rel] = stat.size < 4096 ? fs.readFileSync(file).toString('hex') : `${stat.size} bytes`;
    }
  }
  return out;
}

async function collect(iterable: AsyncIterable<TopicRecord>): Promise<TopicRecord[]> {
  const out: TopicRecord[] = [];
  for await (const r of iterable) out.push(r);
  return out;
}

describe('Topic.open', () => {
  it('creates <name>-<p> partition directories and topic.json', () => {
    const dir = path.join(tmpDir(), 'sensors');
    const topic = Topic.open(dir, { partitions: 3 });
    expect(topic.partitions).toBe(3);
    expect(topic.name).toBe('sensors');
    expect(fs.readdirSync(dir).sort()).toEqual(['.seglog.lock', 'sensors-0', 'sensors-1', 'sensors-2', 'topic.json']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'topic.json'), 'utf8'))).toEqual({ version: 1, name: 'sensors', partitions: 3 });
    expect(topic.partition(1).dir).toBe(path.join(dir, 'sensors-1'));
    topic.close();
  });

  it('uses the recorded count when partitions is omitted on reopen, and keeps the data', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { name: 'events', partitions: 4 });
    const [placed] = topic.append({ key: 'k', value: 'v' });
    topic.close();
    const again = Topic.open(dir);
    expect(again.partitions).toBe(4);
    expect(again.name).toBe('events');
    expect(again.partition(placed!.partition).read(placed!.offset)[0]!.value!.toString()).toBe('v');
    again.close();
  });

  it('passes the other keys to every partition Log', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { partitions: 2, segmentBytes: 1024, compression: 'gzip' });
    for (let i = 0; i < 20; i++) topic.append({ partition: 1, value: 'x'.repeat(200) });
    expect(topic.partition(1).segments().length).toBeGreaterThan(1);
    expect(topic.partition(0).segments().length).toBe(1);
    topic.close();
  });

  it('adopts Kafka partition directories without topic.json', () => {
    const dir = path.join(tmpDir(), 'orders');
    const first = Topic.open(dir, { partitions: 3 });
    first.append([{ key: 'a', value: '1' }]);
    first.close();
    fs.rmSync(path.join(dir, 'topic.json'));
    const adopted = Topic.open(dir);
    expect(adopted.partitions).toBe(3);
    expect(adopted.endOffsets().reduce((a, b) => a + b, 0)).toBe(1);
    adopted.close();
    expect(fs.existsSync(path.join(dir, 'topic.json'))).toBe(true);
  });

  it('opens read-only next to a writer and refuses writes', () => {
    const dir = tmpDir();
    const writer = Topic.open(dir, { partitions: 2 });
    writer.append({ partition: 1, value: 'a' });
    const reader = Topic.open(dir, { readOnly: true });
    expect(reader.endOffsets()).toEqual([0, 1]);
    expect(() => reader.append({ value: 'x' })).toThrow(ReadOnlyLogError);
    expect(() => reader.addPartitions(1)).toThrow(ReadOnlyLogError);
    reader.close();
    writer.close();
  });
});

describe('bad input: typed errors, nothing changed', () => {
  it.each([0, -1, 1.5, Number.NaN, Infinity, '3', null])('rejects partitions = %s before creating anything', (partitions) => {
    const dir = path.join(tmpDir(), 'topic');
    expect(() => Topic.open(dir, { partitions: partitions as number })).toThrow(InvalidConfigError);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('rejects a missing count for a new topic, unknown keys, bad names, bad partitioner or stickyBatchBytes', () => {
    const dir = path.join(tmpDir(), 'topic');
    expect(() => Topic.open(dir)).toThrow(InvalidConfigError);
    expect(() => Topic.open(dir, { partitions: 2, 'segment.bytes': 5 } as never)).toThrow(/did you mean 'segmentBytes'/);
    expect(() => Topic.open(dir, { partitions: 2, segmentBytes: 1 })).toThrow(InvalidConfigError);
    expect(() => Topic.open(dir, { partitions: 2, name: 'a/b' })).toThrow(InvalidConfigError);
    expect(() => Topic.open(dir, { partitions: 2, name: '..' })).toThrow(InvalidConfigError);
    expect(() => Topic.open(dir, { partitions: 2, partitioner: 3 as never })).toThrow(InvalidConfigError);
    expect(() => Topic.open(dir, { partitions: 2, stickyBatchBytes: -1 })).toThrow(InvalidConfigError);
    expect(() => Topic.open(path.join(tmpDir(), 'bad name'), { partitions: 2 })).toThrow(InvalidConfigError);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('rejects reopening with a different count, or another name, leaving every file as it was', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { name: 'metrics', partitions: 3 });
    topic.append([{ key: 'a', value: '1' }, { value: '2' }]);
    topic.close();
    const before = snapshot(dir);
    expect(() => Topic.open(dir, { partitions: 4 })).toThrow(InvalidConfigError);
    expect(() => Topic.open(dir, { partitions: 2 })).toThrow(/has 3 partitions/);
    expect(() => Topic.open(dir, { name: 'other', partitions: 3 })).toThrow(InvalidConfigError);
    expect(snapshot(dir)).toEqual(before);
    const again = Topic.open(dir, { partitions: 3 });
    expect(again.endOffsets().reduce((a, b) => a + b, 0)).toBe(2);
    again.close();
  });

  it('rejects partition directories past the recorded count, and a second writer', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { name: 't', partitions: 2 });
    expect(() => Topic.open(dir)).toThrow(LogLockedError);
    topic.close();
    fs.mkdirSync(path.join(dir, 't-5'));
    const before = snapshot(dir);
    expect(() => Topic.open(dir)).toThrow(/past the count 2: t-5/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('rejects a corrupt topic.json instead of guessing a count', () => {
    const dir = tmpDir();
    Topic.open(dir, { partitions: 2 }).close();
    fs.writeFileSync(path.join(dir, 'topic.json'), '{"version":1,"name":"x","partitions":0}');
    expect(() => Topic.open(dir)).toThrow(InvalidConfigError);
  });

  it('rejects a file where the topic directory should be', () => {
    const file = path.join(tmpDir(), 'plain');
    fs.writeFileSync(file, 'x');
    expect(() => Topic.open(file, { partitions: 1 })).toThrow(InvalidArgumentError);
  });

  it('partition(p) rejects out of range and non-integers', () => {
    const topic = Topic.open(tmpDir(), { partitions: 3 });
    for (const p of [-1, 3, 1.5, Number.NaN, '1']) expect(() => topic.partition(p as number)).toThrow(InvalidArgumentError);
    topic.close();
  });

  it('append rejects a bad explicit partition, key type or partitioner choice with nothing appended', () => {
    let choice: unknown = 0;
    const dir = tmpDir();
    const topic = Topic.open(dir, { partitions: 3, partitioner: () => choice as number });
    topic.append({ value: 'ok' });
    const before = snapshot(dir);
    expect(() => topic.append([{ value: 'a' }, { partition: 3, value: 'b' }])).toThrow(InvalidArgumentError);
    expect(() => topic.append([{ value: 'a' }, { partition: -1, value: 'b' }])).toThrow(/Record 1: partition/);
    expect(() => topic.append([{ value: 'a' }, { key: 42 as never, value: 'b' }])).toThrow(InvalidRecordError);
    expect(() => topic.append([1 as never])).toThrow(InvalidRecordError);
    expect(() => topic.append([])).toThrow(InvalidArgumentError);
    choice = 7;
    expect(() => topic.append({ value: 'c' })).toThrow(/partitioner's choice/);
    choice = 0.5;
    expect(() => topic.append({ value: 'c' })).toThrow(InvalidArgumentError);
    expect(topic.endOffsets()).toEqual([1, 0, 0]);
    expect(snapshot(dir)).toEqual(before);
    topic.close();
  });

  it('addPartitions rejects non-positive and non-integer counts, changing nothing', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { partitions: 2 });
    const before = snapshot(dir);
    for (const n of [0, -1, 1.5, Number.NaN, '1']) expect(() => topic.addPartitions(n as number)).toThrow(InvalidArgumentError);
    expect(topic.partitions).toBe(2);
    expect(snapshot(dir)).toEqual(before);
    topic.close();
  });

  it('every call after close throws LogClosedError; a second close does nothing', async () => {
    const topic = Topic.open(tmpDir(), { partitions: 2 });
    topic.close();
    topic.close();
    expect(() => topic.append({ value: 'a' })).toThrow(LogClosedError);
    expect(() => topic.partition(0)).toThrow(LogClosedError);
    expect(() => topic.endOffsets()).toThrow(LogClosedError);
    expect(() => topic.stream()).toThrow(LogClosedError);
    await expect(topic.flush()).rejects.toThrow(LogClosedError);
  });
});

describe('append', () => {
  it("sends keyed records to Kafka's partition for the key, one batch per partition, offsets in input order", () => {
    const topic = Topic.open(tmpDir(), { partitions: 3 });
    const keys = ['sensor-A1', 'sensor-A2', 'sensor-B1', 'sensor-B2', 'sensor-C1', ''];
    const records = Array.from({ length: 60 }, (_, i) => ({ key: keys[i % keys.length]!, value: `r${i}` }));
    const placed = topic.append(records);
    placed.forEach((where, i) => {
      expect(where.partition).toBe(partitionForKey(records[i]!.key, 3));
      const [stored] = topic.partition(where.partition).read(where.offset, { maxRecords: 1 });
      expect(stored!.value!.toString()).toBe(`r${i}`);
    });
    for (let p = 0; p < 3; p++) {
      const count = placed.filter((w) => w.partition === p).length;
      expect(topic.partition(p).segments()).toHaveLength(1);
      expect(topic.partition(p).readBatches(0).length === 0).toBe(count === 0);
      // one batch: its last offset is the partition's last offset
      if (count > 0) expect(topic.partition(p).readBatches(0).readInt32BE(23)).toBe(count - 1);
    }
    topic.close();
  });

  it('gives an explicit partition precedence over the key and the partitioner', () => {
    const topic = Topic.open(tmpDir(), { partitions: 4, partitioner: () => 3 });
    expect(topic.append([{ key: 'x', partition: 1 }, { key: 'x' }, { value: 'v' }]).map((w) => w.partition)).toEqual([1, 3, 3]);
    topic.close();
  });

  it('calls a custom partitioner with the record and the count', () => {
    const seen: [unknown, number][] = [];
    const topic = Topic.open(tmpDir(), {
      partitions: 5,
      partitioner: (record, n) => {
        seen.push([record.value, n]);
        return record.value === 'hi' ? 4 : 0;
      },
    });
    expect(topic.append([{ value: 'hi' }, { key: 'k', value: 'lo' }])).toEqual([
      { partition: 4, offset: 0 },
      { partition: 0, offset: 0 },
    ]);
    expect(seen).toEqual([['hi', 5], ['lo', 5]]);
    topic.close();
  });

  it('accepts a single record and forwards append options', () => {
    const topic = Topic.open(tmpDir(), { partitions: 1 });
    expect(topic.append({ key: 'k', value: 'v' }, { compression: 'gzip' })).toEqual([{ partition: 0, offset: 0 }]);
    expect(topic.partition(0).readBatches(0).readInt16BE(21) & 7).toBe(1);
    topic.close();
  });

  it('keeps keyless records of one call on one partition, and moves on after stickyBatchBytes', () => {
    const topic = Topic.open(tmpDir(), { partitions: 8, stickyBatchBytes: 1000 });
    const calls = Array.from({ length: 40 }, () => topic.append(Array.from({ length: 5 }, () => ({ value: 'x'.repeat(92) }))));
    const perCall = calls.map((placed) => new Set(placed.map((w) => w.partition)));
    expect(perCall.every((s) => s.size === 1)).toBe(true);
    const sequence = perCall.map((s) => [...s][0]!);
    // 5 records x (92 + 8) bytes = 500 per call: two calls per partition, then a different one.
    for (let i = 0; i < sequence.length; i += 2) {
      expect(sequence[i + 1]).toBe(sequence[i]);
      if (i + 2 < sequence.length) expect(sequence[i + 2]).not.toBe(sequence[i]);
    }
    expect(new Set(sequence).size).toBeGreaterThan(2);
    topic.close();
  });

  it('with stickyBatchBytes 0 switches after every call', () => {
    const topic = Topic.open(tmpDir(), { partitions: 2, stickyBatchBytes: 0 });
    const sequence = Array.from({ length: 10 }, () => topic.append({ value: 'v' })[0]!.partition);
    for (let i = 1; i < sequence.length; i++) expect(sequence[i]).not.toBe(sequence[i - 1]);
    topic.close();
  });
});

describe('addPartitions', () => {
  it('creates the new partitions, records the count, and remaps keys as Kafka does', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { name: 'grow', partitions: 2 });
    expect(topic.addPartitions(3)).toBe(5);
    expect(topic.partitions).toBe(5);
    expect(fs.existsSync(path.join(dir, 'grow-4'))).toBe(true);
    expect(topic.append({ key: 'sensor-A1' })[0]!.partition).toBe(partitionForKey('sensor-A1', 5));
    topic.close();
    const again = Topic.open(dir);
    expect(again.partitions).toBe(5);
    again.close();
  });

  it('restores the count when a new partition cannot be opened', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { name: 't', partitions: 2 });
    const squatter = Log.open(path.join(dir, 't-3'));
    const recorded = fs.readFileSync(path.join(dir, 'topic.json'), 'utf8');
    expect(() => topic.addPartitions(2)).toThrow(LogLockedError);
    expect(topic.partitions).toBe(2);
    expect(fs.readFileSync(path.join(dir, 'topic.json'), 'utf8')).toBe(recorded);
    expect(fs.existsSync(path.join(dir, 't-2'))).toBe(false);
    expect(topic.append({ key: 'k' })[0]!.partition).toBe(partitionForKey('k', 2));
    squatter.close();
    topic.close();
  });

  it('recreates partition directories that topic.json counts but that are missing (a crash mid-way)', () => {
    const dir = tmpDir();
    const topic = Topic.open(dir, { name: 't', partitions: 3 });
    topic.close();
    fs.rmSync(path.join(dir, 't-2'), { recursive: true });
    const again = Topic.open(dir);
    expect(again.partitions).toBe(3);
    expect(fs.existsSync(path.join(dir, 't-2'))).toBe(true);
    again.close();
  });
});

describe('reading across partitions', () => {
  function filled(): Topic {
    const topic = Topic.open(tmpDir(), { partitions: 3 });
    for (let i = 0; i < 30; i++) topic.append({ key: `k${i % 7}`, value: String(i), timestamp: 1000 + i * 10 });
    return topic;
  }

  it('endOffsets, startOffsets and offsetsForTimestamp are indexed by partition', () => {
    const topic = filled();
    const ends = topic.endOffsets();
    expect(ends.reduce((a, b) => a + b, 0)).toBe(30);
    expect(topic.startOffsets()).toEqual([0, 0, 0]);
    expect(topic.offsetsForTimestamp(0)).toEqual(ends.map((e) => (e > 0 ? 0 : null)));
    expect(topic.offsetsForTimestamp(10_000)).toEqual([null, null, null]);
    const mid = topic.offsetsForTimestamp(1150);
    mid.forEach((offset, p) => {
      if (offset === null) return;
      expect(topic.partition(p).read(offset)[0]!.timestamp).toBeGreaterThanOrEqual(1150);
      if (offset > 0) expect(topic.partition(p).read(offset - 1)[0]!.timestamp).toBeLessThan(1150);
    });
    expect(() => topic.offsetsForTimestamp(1.5)).toThrow(InvalidArgumentError);
    topic.close();
  });

  it('stream yields every record once with its partition, in order within each partition', async () => {
    const topic = filled();
    const records = await collect(topic.stream());
    expect(records).toHaveLength(30);
    for (let p = 0; p < 3; p++) {
      const offsets = records.filter((r) => r.partition === p).map((r) => r.offset);
      expect(offsets).toEqual(Array.from({ length: topic.endOffsets()[p]! }, (_, i) => i));
    }
    expect(records.map((r) => Number(r.value!.toString())).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const r of records) expect(r.partition).toBe(partitionForKey(r.key!, 3));
    topic.close();
  });

  it("stream from { timestamp }, 'latest' and per-partition offsets", async () => {
    const topic = filled();
    const late = await collect(topic.stream({ from: { timestamp: 1200 } }));
    expect(late.map((r) => r.timestamp).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => 1200 + i * 10));
    expect(await collect(topic.stream({ from: 'latest' }))).toEqual([]);
    const ends = topic.endOffsets();
    const tail = await collect(topic.stream({ from: ends.map((e) => Math.max(0, e - 1)) }));
    expect(tail).toHaveLength(ends.filter((e) => e > 0).length);
    expect(() => topic.stream({ from: [0] })).toThrow(InvalidArgumentError);
    expect(() => topic.stream({ from: 'newest' as never })).toThrow(InvalidArgumentError);
    expect(() => topic.stream({ nope: 1 } as never)).toThrow(InvalidArgumentError);
    topic.close();
  });

  it('follow sees new appends on every partition and ends on abort', async () => {
    const topic = Topic.open(tmpDir(), { partitions: 3 });
    topic.append({ partition: 0, value: 'old' });
    const controller = new AbortController();
    const seen: TopicRecord[] = [];
    const done = (async () => {
      for await (const r of topic.stream({ from: 'latest', follow: true, signal: controller.signal })) {
        seen.push(r);
        if (seen.length === 3) controller.abort();
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    topic.append([{ partition: 2, value: 'a' }, { partition: 1, value: 'b' }, { partition: 2, value: 'c' }]);
    await done;
    expect(seen.map((r) => `${r.partition}:${r.value}`).sort()).toEqual(['1:b', '2:a', '2:c']);
    topic.close();
  });

  it('follow ends when the topic closes, and a break releases the waits at once', async () => {
    const topic = Topic.open(tmpDir(), { partitions: 2 });
    topic.append({ partition: 1, value: 'x' });
    for await (const r of topic.stream({ follow: true })) {
      expect(r.partition).toBe(1);
      break;
    }
    const following = collect(topic.stream({ follow: true }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    topic.append({ partition: 0, value: 'y' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    topic.close();
    expect((await following).map((r) => r.value!.toString()).sort()).toEqual(['x', 'y']);
  });

  it('an already aborted signal yields nothing', async () => {
    const topic = filled();
    const controller = new AbortController();
    controller.abort();
    expect(await collect(topic.stream({ follow: true, signal: controller.signal }))).toEqual([]);
    topic.close();
  });

  it('flush resolves for every partition', async () => {
    const topic = filled();
    await topic.flush();
    topic.close();
  });
});
