import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  InvalidConfigError,
  InvalidRecordError,
  Log,
  LogClosedError,
  LogLockedError,
  OffsetOutOfRangeError,
  ReadOnlyLogError,
  RecordTooLargeError,
  isSeglogError,
} from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

function partitionDir(): string {
  return path.join(tmpDir(), 'events-0');
}

function filesOf(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of fs.readdirSync(dir)) out[name] = fs.statSync(path.join(dir, name)).size;
  return out;
}

describe('Log basics', () => {
  it('appends and reads back records with keys, values, headers and timestamps', () => {
    const log = Log.open(partitionDir());
    const first = log.append({ key: 'k1', value: 'v1', timestamp: 1000, headers: { a: '1', b: null } });
    const second = log.append([
      { key: null, value: Buffer.from([1, 2, 3]), timestamp: 999 },
      { key: new Uint8Array([9]), value: null, timestamp: 2000, headers: [{ key: 'x', value: Buffer.from('y') }, { key: 'x', value: 'z' }] },
    ]);
    expect(first).toEqual({ baseOffset: 0, lastOffset: 0 });
    expect(second).toEqual({ baseOffset: 1, lastOffset: 2 });
    const records = log.read(0);
    expect(records.map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(records[0]!.key!.toString()).toBe('k1');
    expect(records[0]!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
      ['a', '1'],
      ['b', null],
    ]);
    expect(records[1]!.key).toBeNull();
    expect([...records[1]!.value!]).toEqual([1, 2, 3]);
    expect(records[1]!.timestamp).toBe(999);
    expect(records[2]!.value).toBeNull();
    expect(records[2]!.headers.map((h) => h.value!.toString())).toEqual(['y', 'z']);
    log.close();
  });

  it('gives back exactly the same records and offsets after close and reopen', () => {
    const dir = partitionDir();
    const log = Log.open(dir, { segmentBytes: 2048 });
    for (let i = 0; i < 200; i++) log.append({ key: `k${i % 7}`, value: `value-${i}`.repeat(3), timestamp: 10_000 + i });
    const before = log.read(0, { maxBytes: 1 << 30 });
    const segments = log.segments();
    expect(segments.length).toBeGreaterThan(3);
    log.close();
    const reopened = Log.open(dir, { segmentBytes: 2048 });
    expect(reopened.recovery.cleanShutdown).toBe(true);
    expect(reopened.segments()).toEqual(segments);
    expect(reopened.read(0, { maxBytes: 1 << 30 })).toEqual(before);
    expect(reopened.append({ value: 'next' }).baseOffset).toBe(200);
    reopened.close();
  });

  it('names segment files by their 20-digit base offset', () => {
    const dir = partitionDir();
    const log = Log.open(dir);
    log.append([{ value: 'a' }, { value: 'b' }]);
    log.roll();
    log.append({ value: 'c' });
    log.close();
    const names = fs.readdirSync(dir).filter((n) => /^\d{20}\./.test(n)).sort();
    expect(names).toEqual([
      '00000000000000000000.index',
      '00000000000000000000.log',
      '00000000000000000000.timeindex',
      '00000000000000000002.index',
      '00000000000000000002.log',
      '00000000000000000002.timeindex',
    ]);
  });

  it('preallocates the active indexes and trims them on roll and close', () => {
    const dir = partitionDir();
    const log = Log.open(dir, { segmentIndexBytes: 1000, indexIntervalBytes: 0 });
    for (let i = 0; i < 5; i++) log.append({ value: 'x', timestamp: 100 + i });
    expect(fs.statSync(path.join(dir, '00000000000000000000.index')).size).toBe(1000);
    expect(fs.statSync(path.join(dir, '00000000000000000000.timeindex')).size).toBe(996);
    log.roll();
    // Entries for appends 2..5 (the first append of a segment is never indexed).
    expect(fs.statSync(path.join(dir, '00000000000000000000.index')).size).toBe(4 * 8);
    expect(fs.statSync(path.join(dir, '00000000000000000000.timeindex')).size).toBe(4 * 12);
    log.close();
    expect(fs.statSync(path.join(dir, '00000000000000000005.index')).size).toBe(0);
  });

  it('trims the indexes of a segment an append rolled in the flush that roll starts, and keeps the recovery point below it until then', async () => {
    const dir = partitionDir();
    const log = Log.open(dir, { segmentBytes: 5 * 70, segmentIndexBytes: 1000, indexIntervalBytes: 0 });
    const local = (log as unknown as { local: { recoveryPoint: number; markFlushedTo(end: number): boolean } }).local;
    for (let i = 0; i < 7; i++) log.append({ value: 'x'.repeat(10), timestamp: 100 + i });
    const sealed = log.segments()[0]!;
    expect(log.segments().length).toBe(2);
    // Still untrimmed right after the appending call that rolled.
    expect(fs.statSync(path.join(dir, '00000000000000000000.index')).size).toBe(1000);
    expect(fs.statSync(path.join(dir, '00000000000000000000.timeindex')).size).toBe(996);
    // A flush that synced past the sealed segment (one started before the roll) moves the
    // recovery point no further than its base offset while its indexes are untrimmed.
    local.markFlushedTo(log.endOffset);
    expect(local.recoveryPoint).toBeLessThanOrEqual(sealed.baseOffset);
    await log.flush();
    const entries = sealed.endOffset - sealed.baseOffset - 1;
    expect(fs.statSync(path.join(dir, '00000000000000000000.index')).size).toBe(entries * 8);
    expect(fs.statSync(path.join(dir, '00000000000000000000.timeindex')).size).toBe(entries * 12);
    expect(local.recoveryPoint).toBe(log.endOffset);
    log.close();
  });

  it('trims a sealed segment\'s indexes in flushSync and close too', () => {
    for (const end of ['flushSync', 'close'] as const) {
      const dir = partitionDir();
      const log = Log.open(dir, { segmentBytes: 5 * 70, segmentIndexBytes: 1000, indexIntervalBytes: 0 });
      for (let i = 0; i < 7; i++) log.append({ value: 'x'.repeat(10), timestamp: 100 + i });
      const sealed = log.segments()[0]!;
      const entries = sealed.endOffset - sealed.baseOffset - 1;
      expect(fs.statSync(path.join(dir, '00000000000000000000.index')).size).toBe(1000);
      if (end === 'flushSync') log.flushSync();
      else log.close();
      expect(fs.statSync(path.join(dir, '00000000000000000000.index')).size, end).toBe(entries * 8);
      expect(fs.statSync(path.join(dir, '00000000000000000000.timeindex')).size, end).toBe(entries * 12);
      log.close();
    }
  });

  it('rolls on segmentMs measured from the first batch timestamp', () => {
    const log = Log.open(partitionDir(), { segmentMs: 1000 });
    log.append({ value: 'a', timestamp: 5000 });
    log.append({ value: 'b', timestamp: 5900 });
    expect(log.segments().length).toBe(1);
    log.append({ value: 'c', timestamp: 6001 });
    expect(log.segments().map((s) => s.baseOffset)).toEqual([0, 2]);
    log.close();
  });

  it('rolls when the next batch would pass segmentBytes', () => {
    const log = Log.open(partitionDir(), { segmentBytes: 300 });
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      log.append({ value: 'x'.repeat(50) });
      sizes.push(log.segments().length);
    }
    for (const s of log.segments()) expect(s.sizeBytes).toBeLessThanOrEqual(300);
    expect(log.segments().length).toBeGreaterThan(2);
    log.close();
  });

  it('stamps LogAppendTime batches with the clock', () => {
    const log = Log.open(partitionDir(), { timestampType: 'LogAppendTime', clock: () => 1234567 });
    log.append([{ value: 'a', timestamp: 1 }, { value: 'b', timestamp: 2 }]);
    expect(log.read(0).map((r) => r.timestamp)).toEqual([1234567, 1234567]);
    expect(log.offsetForTimestamp(1234567)).toBe(0);
    log.close();
  });

  it('defaults the record timestamp to the clock', () => {
    const log = Log.open(partitionDir(), { clock: () => 42_000 });
    log.append({ value: 'a' });
    expect(log.read(0)[0]!.timestamp).toBe(42_000);
    log.close();
  });

  it('honours maxBytes and maxRecords and always returns one record', () => {
    const log = Log.open(partitionDir());
    for (let i = 0; i < 10; i++) log.append([{ value: 'a'.repeat(100) }, { value: 'b'.repeat(100) }]);
    expect(log.read(0, { maxBytes: 1 }).length).toBe(2);
    expect(log.read(3, { maxBytes: 1 }).map((r) => r.offset)).toEqual([3]);
    expect(log.read(0, { maxRecords: 3 }).map((r) => r.offset)).toEqual([0, 1, 2]);
    const batchSize = log.readBatches(0, { maxBytes: 1 }).length;
    expect(log.read(0, { maxBytes: batchSize * 3 }).length).toBe(6);
    expect(log.read(0, { maxBytes: batchSize * 3 - 1 }).length).toBe(4);
    log.close();
  });

  it('returns whole raw batches from readBatches', () => {
    const log = Log.open(partitionDir());
    log.append([{ value: 'a' }, { value: 'b' }]);
    log.append({ value: 'c' });
    const one = log.readBatches(1, { maxBytes: 1 });
    expect(one.readBigInt64BE(0)).toBe(0n);
    expect(one.length).toBe(12 + one.readInt32BE(8));
    const both = log.readBatches(0);
    expect(both.length).toBeGreaterThan(one.length);
    expect(log.readBatches(3).length).toBe(0);
    log.close();
  });
});

describe('bad input gets a typed error and changes nothing', () => {
  it('rejects unknown config keys and values out of range', () => {
    const dir = partitionDir();
    expect(() => Log.open(dir, { segmentbytes: 10 } as never)).toThrow(/did you mean 'segmentBytes'/);
    expect(() => Log.open(dir, { segmentBytes: -1 })).toThrow(InvalidConfigError);
    expect(() => Log.open(dir, { segmentMs: 1.5 })).toThrow(InvalidConfigError);
    expect(() => Log.open(dir, { compression: 'brotli' as never })).toThrow(InvalidConfigError);
    expect(() => Log.open(dir, { clock: 5 as never })).toThrow(InvalidConfigError);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('rejects bad offsets and timestamps', () => {
    const log = Log.open(partitionDir());
    log.append({ value: 'a' });
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 2, NaN, '0', null]) {
      expect(() => log.read(bad as number)).toThrow(InvalidArgumentError);
      expect(() => log.readBatches(bad as number)).toThrow(InvalidArgumentError);
    }
    expect(() => log.read(2)).toThrow(OffsetOutOfRangeError);
    expect(() => log.offsetForTimestamp(1.5)).toThrow(InvalidArgumentError);
    expect(() => log.offsetForTimestamp('now' as never)).toThrow(InvalidArgumentError);
    expect(() => log.read(0, { maxBytes: 0 })).toThrow(InvalidArgumentError);
    expect(() => log.read(0, { limit: 1 } as never)).toThrow(InvalidArgumentError);
    log.close();
  });

  it('rejects malformed records without writing anything', () => {
    const dir = partitionDir();
    const log = Log.open(dir);
    log.append({ value: 'a' });
    const before = filesOf(dir);
    const bad: unknown[] = [
      [],
      [{ value: 5 }],
      [{ key: {} }],
      [{ value: 'ok' }, { timestamp: -5 }],
      [{ timestamp: 1.5 }],
      [{ timestamp: Number.MAX_SAFE_INTEGER + 2 }],
      [{ headers: [{ key: 5, value: 'x' }] }],
      [{ headers: { a: 5 } }],
      ['not a record'],
    ];
    for (const records of bad) {
      let caught: unknown;
      try {
        log.append(records as never);
      } catch (err) {
        caught = err;
      }
      expect(isSeglogError(caught), JSON.stringify(records)).toBe(true);
      expect(caught instanceof InvalidRecordError || caught instanceof InvalidArgumentError).toBe(true);
    }
    expect(log.endOffset).toBe(1);
    expect(filesOf(dir)).toEqual(before);
    log.close();
  });

  it('rejects a batch over maxMessageBytes or segmentBytes', () => {
    const dir = partitionDir();
    const log = Log.open(dir, { maxMessageBytes: 1000, segmentBytes: 4000 });
    log.append({ value: 'a' });
    const before = filesOf(dir);
    expect(() => log.append({ value: 'x'.repeat(2000) })).toThrow(RecordTooLargeError);
    expect(log.endOffset).toBe(1);
    expect(filesOf(dir)).toEqual(before);
    log.close();
    const small = Log.open(dir, { maxMessageBytes: 100_000, segmentBytes: 4000 });
    expect(() => small.append({ value: 'x'.repeat(5000) })).toThrow(/segmentBytes/);
    small.close();
  });

  it('refuses a second writer on the same directory', () => {
    const dir = partitionDir();
    const log = Log.open(dir);
    expect(() => Log.open(dir)).toThrow(LogLockedError);
    const reader = Log.open(dir, { readOnly: true });
    expect(() => reader.append({ value: 'x' })).toThrow(ReadOnlyLogError);
    reader.close();
    log.close();
    Log.open(dir).close();
  });

  it('throws LogClosedError for any call after close, and a second close does nothing', () => {
    const log = Log.open(partitionDir());
    log.append({ value: 'a' });
    log.close();
    log.close();
    expect(() => log.append({ value: 'b' })).toThrow(LogClosedError);
    expect(() => log.read(0)).toThrow(LogClosedError);
    expect(() => log.readBatches(0)).toThrow(LogClosedError);
    expect(() => log.offsetForTimestamp(0)).toThrow(LogClosedError);
    expect(() => log.roll()).toThrow(LogClosedError);
    expect(() => log.segments()).toThrow(LogClosedError);
    expect(() => log.endOffset).toThrow(LogClosedError);
    expect(() => log.flushSync()).toThrow(LogClosedError);
    return expect(log.flush()).rejects.toThrow(LogClosedError);
  });

  it('names the path when the directory is a file', () => {
    const file = path.join(tmpDir(), 'plain-file');
    fs.writeFileSync(file, 'x');
    expect(() => Log.open(file)).toThrow(/plain-file is not a directory/);
  });
});

describe('a roll onto stray files of the new base offset', () => {
  // Files a crash left between creating a segment's files and using them, or planted: the new
  // segment must start empty whichever of its three files were there.
  it.each([
    ['its two indexes only', ['.index', '.timeindex']],
    ['its .log and indexes', ['.log', '.index', '.timeindex']],
  ])('%s: the new segment starts empty, reads and lookups are right, the next open rebuilds nothing', (_what, suffixes) => {
    const dir = partitionDir();
    const log = Log.open(dir, { indexIntervalBytes: 1 });
    for (let i = 0; i < 10; i++) log.append({ value: `v${i}`, timestamp: 1_000 + i });
    // Entries that would send lookups of the new segment astray if they were kept.
    const stray = Buffer.alloc(4096);
    for (let at = 0; at + 12 <= stray.length; at += 12) stray.writeInt32BE(7, at + 4);
    for (const suffix of suffixes) fs.writeFileSync(path.join(dir, `${String(10).padStart(20, '0')}${suffix}`), stray);
    log.roll();
    for (let i = 10; i < 30; i++) log.append({ value: `v${i}`, timestamp: 1_000 + i });
    for (let o = 0; o < 30; o++) expect(log.read(o, { maxRecords: 1 })[0]!.value!.toString()).toBe(`v${o}`);
    expect(log.offsetForTimestamp(1_015)).toBe(15);
    log.close();
    const reopened = Log.open(dir);
    expect(reopened.recovery.actions).toEqual([]);
    expect(reopened.read(20, { maxRecords: 1 })[0]!.value!.toString()).toBe('v20');
    reopened.close();
  });
});
