import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, type CompressionType, type LogRecord, type TimestampType } from '../../src/index.js';
import { decodeBatch } from '../../src/record/batch-reader.js';
import { truncationHooks, type TruncationStep } from '../../src/retention/truncation.js';
import { rawBatches, rawOffsetIndex, rawTimeIndex } from '../support/raw-log.js';
import { tmpDir } from '../support/tmp.js';
import { ClockedLog, appendBatch, deletedFiles, liveFiles, partitionDir, plain, prefix, readAll, segmentFiles } from './helpers.js';

afterEach(() => {
  truncationHooks.afterStep = null;
});

function records(count: number, from: number, timestamp: (i: number) => number) {
  return Array.from({ length: count }, (_, i) => ({
    key: i % 3 === 0 ? null : `key-${from + i}`,
    value: `value-${from + i}-`.repeat(1 + (i % 4)),
    timestamp: timestamp(from + i),
    headers: i % 2 === 0 ? { h: `x${i}`, n: null } : [],
  }));
}

/** Every batch of every segment file, decoded (CRC checked). */
function decodedBatches(log: Log) {
  return log.segments().flatMap((s) => {
    const buf = fs.readFileSync(s.path);
    return rawBatches(s.path).map((b) => decodeBatch(buf.subarray(b.position, b.position + b.size)));
  });
}

describe('truncateTo', () => {
  it('cuts at a batch boundary in the active segment', () => {
    const c = new ClockedLog(partitionDir());
    c.log.append(records(3, 0, (o) => 100 + o));
    c.log.append(records(4, 3, (o) => 100 + o));
    const before = readAll(c.log);
    c.log.truncateTo(3);
    expect(c.log.endOffset).toBe(3);
    expect(readAll(c.log).map(plain)).toEqual(before.slice(0, 3).map(plain));
    expect(c.log.offsetForTimestamp(103)).toBeNull();
    expect(c.log.append({ value: 'new' }).baseOffset).toBe(3);
    c.reopen();
    expect(c.log.endOffset).toBe(4);
    expect(c.log.read(3)[0]!.value!.toString()).toBe('new');
    c.log.close();
  });

  const variants: [CompressionType, TimestampType][] = [
    ['none', 'CreateTime'],
    ['gzip', 'CreateTime'],
    ['lz4', 'CreateTime'],
    ['snappy', 'CreateTime'],
    ['none', 'LogAppendTime'],
    ['gzip', 'LogAppendTime'],
  ];
  for (const [compression, timestampType] of variants) {
    it(`rewrites a batch cut in the middle with its first records (${compression}, ${timestampType})`, () => {
      const c = new ClockedLog(partitionDir(), { compression, timestampType });
      c.log.append(records(5, 0, (o) => 1000 - o * 10));
      c.now += 7;
      c.log.append(records(6, 5, (o) => 2000 + ((o * 37) % 11)));
      const before = readAll(c.log);
      const original = decodedBatches(c.log)[1]!;
      c.log.truncateTo(8);
      expect(c.log.endOffset).toBe(8);
      expect(readAll(c.log).map(plain)).toEqual(before.slice(0, 8).map(plain));
      const cut = decodedBatches(c.log)[1]!;
      expect(cut.records.map(plain)).toEqual(original.records.slice(0, 3).map(plain));
      expect(cut.header).toMatchObject({
        baseOffset: 5,
        lastOffsetDelta: 2,
        baseTimestamp: original.header.baseTimestamp,
        compression: original.header.compression,
        timestampType: original.header.timestampType,
        producerId: original.header.producerId,
        baseSequence: original.header.baseSequence,
        partitionLeaderEpoch: original.header.partitionLeaderEpoch,
        recordCount: 3,
      });
      const keptMax = timestampType === 'LogAppendTime' ? original.header.maxTimestamp : Math.max(...before.slice(5, 8).map((r) => r.timestamp));
      expect(cut.header.maxTimestamp).toBe(keptMax);
      expect(c.log.segments()[0]!.maxTimestamp).toBe(Math.max(...before.slice(0, 8).map((r) => r.timestamp)));
      for (const r of before.slice(0, 8)) expect(c.log.offsetForTimestamp(r.timestamp)).toBe(before.slice(0, 8).find((x) => x.timestamp >= r.timestamp)!.offset);
      expect(c.log.append({ value: 'after' }).baseOffset).toBe(8);
      c.reopen();
      expect(readAll(c.log).map(plain)).toEqual([...before.slice(0, 8), ...c.log.read(8)].map(plain));
      expect(c.log.endOffset).toBe(9);
      c.log.close();
    });
  }

  it('deletes later segments, trims the indexes, and the cut segment becomes the active one', () => {
    const dir = partitionDir();
    const c = new ClockedLog(dir, { indexIntervalBytes: 64, fileDeleteDelayMs: 60_000 });
    for (let s = 0; s < 3; s++) {
      for (let b = 0; b < 10; b++) c.log.append(records(3, c.log.endOffset, (o) => 5000 + o));
      c.log.roll();
    }
    appendBatch(c.log, 2, 9999);
    const before = readAll(c.log);
    c.log.truncateTo(40); // inside the batch [39, 41] of the second segment [30, 60)
    expect(c.log.endOffset).toBe(40);
    expect(c.log.segments().map((s) => s.baseOffset)).toEqual([0, 30]);
    expect(segmentFiles(dir)).toEqual([...liveFiles(0), ...liveFiles(30), ...deletedFiles(60), ...deletedFiles(90)].sort());
    expect(readAll(c.log).map(plain)).toEqual(before.slice(0, 40).map(plain));
    const stem = path.join(dir, prefix(30));
    for (const e of rawOffsetIndex(`${stem}.index`, 30)) expect(e.offset).toBeLessThan(40);
    for (const e of rawTimeIndex(`${stem}.timeindex`, 30)) expect(e.offset).toBeLessThan(40);
    // Appends continue in the cut segment, and the index grows again (resized for appends).
    for (let b = 0; b < 20; b++) c.log.append(records(3, c.log.endOffset, (o) => 6000 + o));
    expect(c.log.segments().map((s) => s.baseOffset)).toEqual([0, 30]);
    expect(rawOffsetIndex(`${stem}.index`, 30).some((e) => e.offset > 40)).toBe(true);
    const after = readAll(c.log);
    c.reopen();
    expect(readAll(c.log).map(plain)).toEqual(after.map(plain));
    expect(c.log.recovery.actions).toEqual([]);
    c.log.close();
  });

  it('to startOffset empties the log', () => {
    const c = new ClockedLog(partitionDir());
    appendBatch(c.log, 3, 1);
    c.log.roll();
    appendBatch(c.log, 3, 2);
    c.log.deleteRecordsBefore(3);
    c.log.truncateTo(3);
    expect([c.log.startOffset, c.log.endOffset]).toEqual([3, 3]);
    expect(c.log.segments()).toEqual([expect.objectContaining({ baseOffset: 3, sizeBytes: 0 })]);
    c.reopen();
    expect([c.log.startOffset, c.log.endOffset]).toEqual([3, 3]);
    c.log.close();
  });

  it('tells streams positioned past the cut to go back to it', async () => {
    const c = new ClockedLog(partitionDir());
    appendBatch(c.log, 10, 1);
    const stream = c.log.stream({ from: 0, maxBytes: 1 });
    const first: LogRecord[] = [];
    for (let i = 0; i < 10; i++) first.push((await stream.next()).value as LogRecord);
    c.log.truncateTo(4);
    appendBatch(c.log, 3, 2);
    const next = await stream.next();
    expect((next.value as LogRecord).offset).toBe(4);
    await stream.return?.();
    c.log.close();
  });
});

/**
 * A crash at each step of the protocol: the directory is copied as it is after the step (what a
 * crashed process leaves, page cache included), then opened. It must hold exactly the log before
 * the truncation or exactly the log after it, every batch valid, indexes consistent.
 */
describe('truncateTo survives a crash at any step', () => {
  const scenarios: { name: string; target: number; compression: CompressionType }[] = [
    { name: 'cut inside a batch of an older segment', target: 40, compression: 'none' },
    { name: 'cut inside a compressed batch of an older segment', target: 41, compression: 'gzip' },
    { name: 'cut at a batch boundary of an older segment', target: 39, compression: 'none' },
    { name: 'cut inside a batch of the active segment', target: 95, compression: 'lz4' },
    { name: 'cut at a batch boundary of the active segment', target: 93, compression: 'none' },
  ];
  for (const scenario of scenarios) {
    it(scenario.name, () => {
      const root = tmpDir('seglog-crash-');
      const dir = path.join(root, 'events-0');
      const c = new ClockedLog(dir, { indexIntervalBytes: 64, compression: scenario.compression, fileDeleteDelayMs: 60_000 });
      for (let s = 0; s < 3; s++) {
        for (let b = 0; b < 10; b++) c.log.append(records(3, c.log.endOffset, (o) => 5000 + o));
        c.log.roll();
      }
      for (let b = 0; b < 3; b++) c.log.append(records(3, c.log.endOffset, (o) => 5000 + o));
      c.log.flushSync();
      const before = readAll(c.log).map(plain);
      const after = before.slice(0, scenario.target);
      const copies: { step: TruncationStep; dir: string }[] = [];
      truncationHooks.afterStep = (step) => {
        const copy = path.join(root, `crash${copies.length}-0`);
        fs.cpSync(dir, copy, { recursive: true });
        copies.push({ step, dir: copy });
      };
      c.log.truncateTo(scenario.target);
      truncationHooks.afterStep = null;
      expect(readAll(c.log).map(plain)).toEqual(after);
      c.log.close();
      expect(copies.length).toBeGreaterThanOrEqual(3);
      const outcomes: string[] = [];
      for (const { step, dir: copy } of copies) {
        const log = Log.open(copy, { ...c.config });
        try {
          expect(log.recovery.cleanShutdown).toBe(false);
          const got = readAll(log).map(plain);
          const state = JSON.stringify(got) === JSON.stringify(before) ? 'before' : JSON.stringify(got) === JSON.stringify(after) ? 'after' : 'neither';
          expect(state, `after step ${step}`).not.toBe('neither');
          outcomes.push(`${step}:${state}`);
          expect(log.endOffset).toBe(state === 'before' ? before.length : after.length);
          // Indexes agree with the data: reads from every offset and time lookups.
          const expected = state === 'before' ? before : after;
          for (let o = 0; o < expected.length; o += 7) expect(plain(log.read(o, { maxRecords: 1 })[0]!)).toEqual(expected[o]);
          for (const t of [5000, 5010, 5039, 5040, 5094]) {
            expect(log.offsetForTimestamp(t)).toBe(expected.find((r) => r.timestamp >= t)?.offset ?? null);
          }
          expect(segmentFiles(copy).some((n) => n.includes('.truncating') || n.endsWith('.deleted'))).toBe(false);
          // The log goes on: append, reopen cleanly.
          const next = log.append({ value: 'more' }).baseOffset;
          expect(next).toBe(expected.length);
          log.close();
          const again = Log.open(copy, { ...c.config });
          expect(again.recovery.actions).toEqual([]);
          expect(again.endOffset).toBe(expected.length + 1);
          again.close();
        } finally {
          log.close();
        }
      }
      // Once the intent (or, without one, the cut itself) is on disk, the open finishes the job.
      expect(outcomes[0]).toBe('recovery-point-lowered:before');
      expect(outcomes[outcomes.length - 1]).toMatch(/:after$/);
      const firstAfter = outcomes.findIndex((o) => o.endsWith(':after'));
      expect(outcomes.slice(firstAfter).every((o) => o.endsWith(':after'))).toBe(true);
    });
  }
});
