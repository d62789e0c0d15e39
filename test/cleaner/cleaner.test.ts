import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidRecordError, Log, LogClosedError, ReadOnlyLogError, Topic } from '../../src/index.js';
import { logConfigOf } from '../../src/broker/topic-configs.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { ClockedLog, partitionDir, readAll, segmentFiles } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;

/** Appends `count` single-record batches over `keys` keys: value `v<offset>`. */
function appendKeyed(log: Log, count: number, keys: number, from = 0): void {
  for (let i = 0; i < count; i++) {
    const o = log.endOffset;
    log.append({ key: `key-${(from + i) % keys}`, value: `v${o}` });
  }
}

describe('configs', () => {
  it("validates Kafka's cleaner configs and defaults them as Kafka does", () => {
    const bad: Record<string, unknown>[] = [
      { cleanupPolicy: 'compacted' },
      { minCleanableDirtyRatio: 1.5 },
      { minCleanableDirtyRatio: -0.1 },
      { maxCompactionLagMs: 0 },
      { deleteRetentionMs: -1 },
      { minCompactionLagMs: 10, maxCompactionLagMs: 5 },
      { cleanerDedupeBufferSize: 1000 },
    ];
    for (const config of bad) expect(() => Log.open(partitionDir(), config), JSON.stringify(config)).toThrow(InvalidConfigError);
    const dir = partitionDir();
    const log = Log.open(dir, { cleanupPolicy: 'compact,delete' });
    expect(log.cleaner.state().dirtyRatio).toBe(0);
    log.close();
  });
});

describe('keys', () => {
  it('a compacted log refuses a batch holding a record without a key, whole, as Kafka does', () => {
    const c = new ClockedLog(partitionDir());
    c.log.append({ key: 'a', value: '1' });
    expect(() => c.log.append([{ key: 'b', value: '2' }, { value: 'no key' }])).toThrow(InvalidRecordError);
    expect(() => c.log.append({ key: null, value: 'x' })).toThrow(InvalidRecordError);
    expect(c.log.endOffset).toBe(1);
    c.log.close();
    // A log that does not compact takes them.
    const plain = Log.open(partitionDir());
    expect(plain.append({ value: 'keyless' }).baseOffset).toBe(0);
    plain.close();
  });

  it("a compacted log refuses a producer's encoded batch holding a record without a key (the broker's Produce)", () => {
    const c = new ClockedLog(partitionDir());
    // Copies: the encoder reuses its buffer.
    const keyed = Buffer.from(encodeBatch([{ key: 'a', value: '1' }], 0, { compression: 'none', timestampType: 'CreateTime', now: 1 }).buffer);
    const keyless = Buffer.from(encodeBatch([{ key: 'a', value: '1' }, { value: 'no key' }], 0, { compression: 'gzip', timestampType: 'CreateTime', now: 1 }).buffer);
    expect(() => c.log.appendEncoded(keyless)).toThrow(/without a key/);
    expect(c.log.endOffset).toBe(0);
    expect(c.log.appendEncoded(keyed).baseOffset).toBe(0);
    c.log.close();
  });

  it("the broker maps Kafka's cleaner topic configs", () => {
    expect(
      logConfigOf({ 'cleanup.policy': 'delete,compact', 'min.cleanable.dirty.ratio': '0.3', 'max.compaction.lag.ms': '9223372036854775807', 'delete.retention.ms': '1000', 'min.compaction.lag.ms': '5' }, true),
    ).toEqual({ cleanupPolicy: 'compact,delete', minCleanableDirtyRatio: 0.3, maxCompactionLagMs: Number.MAX_SAFE_INTEGER, deleteRetentionMs: 1000, minCompactionLagMs: 5 });
    expect(logConfigOf({ 'cleanup.policy': 'compact' }, true)).toEqual({ cleanupPolicy: 'compact' });
  });

  it('a compacted topic refuses the whole call before writing to any partition', () => {
    const dir = path.join(partitionDir(), '..', 'topic');
    const topic = Topic.open(dir, { partitions: 3, cleanupPolicy: 'compact' });
    expect(() => topic.append([{ key: 'a', value: '1' }, { value: 'keyless', partition: 2 }])).toThrow(InvalidRecordError);
    expect(topic.endOffsets()).toEqual([0, 0, 0]);
    topic.append([{ key: 'a', value: '1' }]);
    topic.close();
  });
});

describe('compact()', () => {
  it('keeps the latest record of each key at its offset, with its timestamp and headers, and checkpoints its end', async () => {
    const c = new ClockedLog(partitionDir(), { segmentBytes: 1024 });
    for (let i = 0; i < 60; i++) c.log.append({ key: `key-${i % 5}`, value: `v${i}`, timestamp: 1000 + i, headers: { i: String(i) } });
    const active = c.log.segments().at(-1)!.baseOffset;
    const result = await c.log.compact();
    expect(result.segmentsCleaned).toBeGreaterThan(1);
    expect(result.recordsRemoved).toBeGreaterThan(30);
    expect(result.bytesWritten).toBeLessThan(result.bytesRead);
    expect(c.log.cleaner.firstDirtyOffset()).toBe(active);
    const got = readAll(c.log);
    // Below the active segment: one record per key, the latest; from it on: untouched.
    const clean = got.filter((r) => r.offset < active);
    for (const r of clean) {
      const later = got.filter((x) => x.key === r.key && x.offset > r.offset);
      expect(later.every((x) => x.offset >= active) || later.length === 0).toBe(true);
      expect(r).toEqual({ offset: r.offset, timestamp: 1000 + r.offset, key: r.key, value: `v${r.offset}`, headers: [['i', String(r.offset)]] });
    }
    expect(got.filter((r) => r.offset >= active).map((r) => r.offset)).toEqual([...Array(60 - active).keys()].map((i) => active + i));
    expect(fs.readFileSync(path.join(c.dir, 'cleaner-offset-checkpoint'), 'utf8')).toBe(`0\n1\ntable 0 ${active}\n`);
    // Nothing dirty: a forced pass cleans nothing.
    expect((await c.log.compact()).segmentsCleaned).toBe(0);
    c.log.close();
  });

  it('a tombstone outlives deleteRetentionMs from the pass that first kept it, then goes', async () => {
    const c = new ClockedLog(partitionDir(), { deleteRetentionMs: DAY });
    c.log.append({ key: 'a', value: '1' });
    c.log.append({ key: 'a', value: null });
    c.log.append({ key: 'b', value: '1' });
    c.log.roll();
    c.log.append({ key: 'c', value: 'active' });
    const first = await c.log.compact();
    expect(first.tombstonesRemoved).toBe(0);
    expect(readAll(c.log).map((r) => [r.offset, r.key, r.value])).toEqual([[1, 'a', null], [2, 'b', '1'], [3, 'c', 'active']]);
    // Later passes before the horizon keep it; the first one at or after it drops it.
    for (const [advance, kept] of [[DAY - 1, true], [1, false]] as const) {
      c.now += advance;
      c.log.roll();
      c.log.append({ key: 'c', value: `at ${c.now}` });
      const result = await c.log.compact();
      expect(readAll(c.log).some((r) => r.key === 'a'), `${advance}`).toBe(kept);
      expect(result.tombstonesRemoved).toBe(kept ? 0 : 1);
    }
    c.log.close();
  });

  it('minCompactionLagMs keeps recent segments dirty', async () => {
    const c = new ClockedLog(partitionDir(), { minCompactionLagMs: 60_000 });
    for (let i = 0; i < 10; i++) c.log.append({ key: 'k', value: `v${i}`, timestamp: c.now });
    c.log.roll();
    c.log.append({ key: 'k', value: 'active', timestamp: c.now });
    expect((await c.log.compact()).segmentsCleaned).toBe(0);
    expect(readAll(c.log)).toHaveLength(11);
    c.now += 60_001;
    expect((await c.log.compact()).segmentsCleaned).toBe(1);
    expect(readAll(c.log).map((r) => r.offset)).toEqual([9, 10]);
    c.log.close();
  });

  it('a small key map cleans in several passes, each from where the last stopped', async () => {
    const c = new ClockedLog(partitionDir(), { cleanerDedupeBufferSize: 64 * 1024, segmentBytes: 256 * 1024 });
    // 64 KiB holds 2730 slots, 2457 keys: 6000 distinct keys need three passes.
    for (let i = 0; i < 6000; i += 50) c.log.append([...Array(50).keys()].map((j) => ({ key: `key-${i + j}`, value: 'x' })));
    for (let i = 0; i < 6000; i += 50) c.log.append([...Array(50).keys()].map((j) => ({ key: `key-${i + j}`, value: 'y' })));
    c.log.roll();
    c.log.append({ key: 'last', value: 'active' });
    const active = c.log.segments().at(-1)!.baseOffset;
    const checkpoints: number[] = [];
    for (let pass = 0; pass < 6 && (c.log.cleaner.firstDirtyOffset() ?? 0) < active; pass++) {
      await c.log.compact();
      checkpoints.push(c.log.cleaner.firstDirtyOffset()!);
      // Whatever the pass covered, every key's latest record is there.
      const latest = new Map(readAll(c.log).map((r) => [r.key, r.value]));
      for (let k = 0; k < 6000; k++) expect(latest.get(`key-${k}`)).toBe('y');
    }
    expect(checkpoints.length).toBeGreaterThanOrEqual(3);
    expect(checkpoints.at(-1)).toBe(active);
    expect(readAll(c.log).filter((r) => r.value === 'x')).toEqual([]);
    c.log.close();
  });

  it("rejects on a log that does not compact, on a read-only view, and when the log closes meanwhile, leaving no .cleaned file", async () => {
    const plain = Log.open(partitionDir());
    await expect(plain.compact()).rejects.toThrow(InvalidConfigError);
    plain.close();
    const c = new ClockedLog(partitionDir(), { segmentBytes: 4096 });
    appendKeyed(c.log, 3000, 7);
    const view = Log.open(c.dir, { readOnly: true });
    await expect(view.compact()).rejects.toThrow(ReadOnlyLogError);
    view.close();
    const pass = c.log.compact();
    await new Promise((r) => setImmediate(r));
    c.log.close();
    await expect(pass).rejects.toThrow(LogClosedError);
    expect(segmentFiles(c.dir).filter((n) => /\.(cleaned|swap)$/.test(n))).toEqual([]);
    const again = Log.open(c.dir, c.config);
    expect(again.endOffset).toBe(3000);
    await again.compact();
    expect(readAll(again).filter((r) => r.offset < again.segments().at(-1)!.baseOffset).length).toBeLessThanOrEqual(7);
    again.close();
  });

  it('appends go on while a pass runs, and the pass never touches the active segment', async () => {
    const c = new ClockedLog(partitionDir(), { segmentBytes: 8192 });
    appendKeyed(c.log, 4000, 11);
    const activeBase = c.log.segments().at(-1)!.baseOffset;
    const pass = c.log.compact();
    let appended = 0;
    let done = false;
    void pass.finally(() => (done = true));
    while (!done) {
      appendKeyed(c.log, 5, 11);
      appended += 5;
      await new Promise((r) => setImmediate(r));
    }
    await pass;
    expect(appended).toBeGreaterThan(0);
    const got = readAll(c.log);
    expect(got.filter((r) => r.offset >= activeBase).length).toBe(4000 + appended - activeBase);
    expect(c.log.endOffset).toBe(4000 + appended);
    c.log.close();
  });

  it('truncateTo below the checkpoint brings it down', async () => {
    const c = new ClockedLog(partitionDir(), { segmentBytes: 1024 });
    appendKeyed(c.log, 200, 5);
    await c.log.compact();
    const at = c.log.cleaner.firstDirtyOffset()!;
    expect(at).toBeGreaterThan(100);
    c.log.truncateTo(100);
    expect(c.log.cleaner.firstDirtyOffset()).toBe(100);
    appendKeyed(c.log, 200, 5);
    await c.log.compact();
    const got = readAll(c.log);
    const active = c.log.segments().at(-1)!.baseOffset;
    expect(new Set(got.filter((r) => r.offset < active).map((r) => r.key)).size).toBe(got.filter((r) => r.offset < active).length);
    c.log.close();
  });
});

describe('retention with cleanupPolicy', () => {
  it("'compact' alone deletes nothing by time or size; 'compact,delete' does; both honour deleteRecordsBefore", async () => {
    for (const policy of ['compact', 'compact,delete'] as const) {
      const c = new ClockedLog(partitionDir(), { cleanupPolicy: policy, retentionMs: 1000, retentionBytes: 100, segmentBytes: 1024 });
      appendKeyed(c.log, 100, 3);
      c.now += 10_000;
      const deleted = c.log.applyRetention();
      if (policy === 'compact') expect(deleted).toBe(0);
      else expect(deleted).toBeGreaterThan(0);
      c.log.deleteRecordsBefore(c.log.endOffset - 1);
      expect(c.log.applyRetention()).toBeGreaterThanOrEqual(0);
      expect(c.log.startOffset).toBeGreaterThanOrEqual(99);
      c.log.close();
    }
  });
});

describe('the background cleaner', () => {
  const until = async (check: () => boolean, ms = 20_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('runs when the dirty ratio passes minCleanableDirtyRatio, and never at ratio 1', async () => {
    const c = new ClockedLog(partitionDir(), { segmentBytes: 2048, cleanerBackoffMs: 10 });
    c.reopen();
    appendKeyed(c.log, 300, 4);
    await until(() => c.log.cleaner.firstDirtyOffset() !== null);
    expect(readAll(c.log).filter((r) => r.offset < c.log.cleaner.firstDirtyOffset()!).length).toBeLessThanOrEqual(4);
    c.log.close();

    const never = new ClockedLog(partitionDir(), { segmentBytes: 2048, cleanerBackoffMs: 10, minCleanableDirtyRatio: 1 });
    never.reopen();
    appendKeyed(never.log, 300, 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(never.log.cleaner.firstDirtyOffset()).toBeNull();
    never.log.close();
  });

  it('runs for a segment older than maxCompactionLagMs whatever the ratio', async () => {
    const c = new ClockedLog(partitionDir(), { segmentBytes: 2048, cleanerBackoffMs: 10, minCleanableDirtyRatio: 1, maxCompactionLagMs: 60_000 });
    c.reopen();
    for (let i = 0; i < 300; i++) c.log.append({ key: `key-${i % 4}`, value: `v${i}`, timestamp: c.now });
    await new Promise((r) => setTimeout(r, 100));
    expect(c.log.cleaner.firstDirtyOffset()).toBeNull();
    c.now += 60_001;
    await until(() => c.log.cleaner.firstDirtyOffset() !== null);
    c.log.close();
  });
});

describe('a log with gaps', () => {
  it('streams, consumers and offsetForTimestamp skip the gaps', async () => {
    const c = new ClockedLog(partitionDir(), { segmentBytes: 1024 });
    for (let i = 0; i < 100; i++) c.log.append({ key: `key-${i % 6}`, value: `v${i}`, timestamp: 10_000 + i * 10 });
    await c.log.compact();
    const expected = readAll(c.log);
    const streamed: number[] = [];
    for await (const r of c.log.stream()) streamed.push(r.offset);
    expect(streamed).toEqual(expected.map((r) => r.offset));
    const consumer = c.log.consumer('app');
    await consumer.commit(3);
    const fromCommit: number[] = [];
    for await (const r of consumer.stream()) fromCommit.push(r.offset);
    expect(fromCommit).toEqual(expected.filter((r) => r.offset >= 3).map((r) => r.offset));
    for (const t of [0, 10_050, 10_500, 10_990, 20_000]) {
      expect(c.log.offsetForTimestamp(t)).toBe(expected.find((r) => r.timestamp >= t)?.offset ?? null);
    }
    expect(c.log.readBatches(1).length).toBeGreaterThan(0);
    c.log.close();
  });
});
