import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Log, RecordTooLargeError, type LogConfig, type LogRecord, type RecordInput } from '../../src/index.js';
import { rawBatches, rawOffsetIndex, rawTimeIndex } from '../support/raw-log.js';
import { tmpDir } from '../support/tmp.js';

/**
 * Model-based test of the core engine: random appends, rolls and reopens against an array of
 * records, with every observable checked after every step. Runs and seed come from
 * SEGLOG_PROPERTY_RUNS / SEGLOG_PROPERTY_SEED so a long soak is one environment variable away.
 */

const RUNS = Number(process.env.SEGLOG_PROPERTY_RUNS ?? 25);
const SEED = process.env.SEGLOG_PROPERTY_SEED === undefined ? undefined : Number(process.env.SEGLOG_PROPERTY_SEED);

interface ModelRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

interface Model {
  records: ModelRecord[];
}

interface Real {
  dir: string;
  config: LogConfig;
  log: Log;
}

const bytes = (maxLength: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength }) },
  );

const bytesOrNull = (maxLength: number) => fc.option(bytes(maxLength).map((a) => Buffer.from(a)), { nil: null, freq: 4 });

const recordArb = fc.record({
  key: fc.oneof(bytesOrNull(32), fc.string({ maxLength: 12 }).map((s) => s as string | Buffer | null)),
  value: bytesOrNull(10 * 1024),
  timestamp: fc.integer({ min: 0, max: 2_000_000 }),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 6 }), value: fc.option(fc.string({ maxLength: 8 }), { nil: null }) }), { maxLength: 3 }),
});

function toModel(input: { key: string | Buffer | null; value: Buffer | null; timestamp: number; headers: { key: string; value: string | null }[] }, offset: number): ModelRecord {
  return {
    offset,
    timestamp: input.timestamp,
    key: typeof input.key === 'string' ? Buffer.from(input.key, 'utf8') : input.key,
    value: input.value,
    headers: input.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value, 'utf8') })),
  };
}

function plain(r: LogRecord | ModelRecord) {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : Buffer.from(r.key).toString('hex'),
    value: r.value === null ? null : Buffer.from(r.value).toString('hex'),
    headers: r.headers.map((h) => [h.key, h.value === null ? null : Buffer.from(h.value).toString('hex')]),
  };
}

class AppendCommand implements fc.Command<Model, Real> {
  constructor(
    readonly batch: { key: string | Buffer | null; value: Buffer | null; timestamp: number; headers: { key: string; value: string | null }[] }[],
    readonly compression: 'none' | 'gzip' | 'lz4',
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const before = r.log.endOffset;
    const sizeBefore = r.log.size;
    let result;
    try {
      result = r.log.append(this.batch as RecordInput[], { compression: this.compression });
    } catch (err) {
      // A batch bigger than the tiny segmentBytes is refused, and must leave no trace.
      expect(err).toBeInstanceOf(RecordTooLargeError);
      expect(r.log.endOffset).toBe(before);
      expect(r.log.size).toBe(sizeBefore);
      return;
    }
    expect(result.baseOffset).toBe(before);
    expect(result.lastOffset).toBe(before + this.batch.length - 1);
    this.batch.forEach((rec, i) => m.records.push(toModel(rec, before + i)));
    checkAll(m, r);
  }
  toString(): string {
    return `append(${this.batch.length} records, ${this.compression})`;
  }
}

class RollCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const count = r.log.segments().length;
    const activeEmpty = r.log.segments().at(-1)!.sizeBytes === 0;
    r.log.roll();
    expect(r.log.segments().length).toBe(activeEmpty ? count : count + 1);
    checkAll(m, r);
  }
  toString(): string {
    return 'roll()';
  }
}

class ReopenCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.log.close();
    expect(() => r.log.read(0)).toThrow(/closed/);
    r.log = Log.open(r.dir, r.config);
    expect(r.log.recovery.cleanShutdown).toBe(true);
    checkAll(m, r);
  }
  toString(): string {
    return 'close+open';
  }
}

class ReadOnlyViewCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const reader = Log.open(r.dir, { readOnly: true });
    try {
      expect(reader.endOffset).toBe(m.records.length);
      const all = m.records.length === 0 ? [] : reader.read(0, { maxBytes: 64 * 1024 * 1024 });
      expect(all.map(plain)).toEqual(m.records.map(plain));
    } finally {
      reader.close();
    }
  }
  toString(): string {
    return 'readOnly view';
  }
}

function checkAll(m: Model, r: Real): void {
  const log = r.log;
  expect(log.startOffset).toBe(0);
  expect(log.endOffset).toBe(m.records.length);
  checkReads(m, log);
  checkTimestamps(m, log);
  checkSegments(m, r);
}

function checkReads(m: Model, log: Log): void {
  const end = m.records.length;
  expect(log.read(end)).toEqual([]);
  const probes = new Set([0, end - 1, Math.floor(end / 2), Math.floor(Math.random() * end)]);
  for (const o of probes) {
    if (o < 0 || o >= end) continue;
    const all = log.read(o, { maxBytes: 64 * 1024 * 1024 });
    expect(all.map(plain)).toEqual(m.records.slice(o).map(plain));
    const k = 1 + Math.floor(Math.random() * 5);
    expect(log.read(o, { maxRecords: k }).map(plain)).toEqual(m.records.slice(o, o + k).map(plain));
    const small = log.read(o, { maxBytes: 1 });
    expect(small.length).toBeGreaterThan(0);
    expect(plain(small[0]!)).toEqual(plain(m.records[o]!));
  }
}

function checkTimestamps(m: Model, log: Log): void {
  const stamps = m.records.map((r) => r.timestamp);
  const probes = [0, -1, 2_000_001, ...stamps.slice(-3), ...stamps.slice(-3).map((t) => t + 1), stamps[Math.floor(Math.random() * stamps.length)] ?? 5];
  for (const t of probes) {
    const expected = m.records.find((r) => r.timestamp >= t)?.offset ?? null;
    expect(log.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(expected);
  }
}

function checkSegments(m: Model, r: Real): void {
  const segs = r.log.segments();
  expect(segs[0]!.baseOffset).toBe(0);
  expect(segs.at(-1)!.endOffset).toBe(m.records.length);
  let total = 0;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (i > 0) expect(s.baseOffset).toBe(segs[i - 1]!.endOffset);
    expect(s.sizeBytes).toBe(fs.statSync(s.path).size);
    expect(s.sizeBytes).toBeLessThanOrEqual(r.config.segmentBytes!);
    const inSeg = m.records.slice(s.baseOffset, s.endOffset);
    expect(s.maxTimestamp).toBe(inSeg.length === 0 ? -1 : Math.max(...inSeg.map((x) => x.timestamp)));
    total += s.sizeBytes;
    checkIndexes(s.path, s.baseOffset, inSeg);
  }
  expect(r.log.size).toBe(total);
}

/** Every index entry points at the start of the batch that holds its offset; time entries carry the max so far. */
function checkIndexes(logPath: string, baseOffset: number, records: ModelRecord[]): void {
  const batches = rawBatches(logPath);
  const byPosition = new Map(batches.map((b) => [b.position, b]));
  const stem = logPath.slice(0, -'.log'.length);
  let previous = -1;
  for (const e of rawOffsetIndex(`${stem}.index`, baseOffset)) {
    const batch = byPosition.get(e.position);
    expect(batch, `index entry ${e.offset}@${e.position} of ${stem}`).toBeDefined();
    expect(batch!.lastOffset).toBe(e.offset);
    expect(e.offset).toBeGreaterThan(previous);
    previous = e.offset;
  }
  let previousTs = -1;
  for (const e of rawTimeIndex(`${stem}.timeindex`, baseOffset)) {
    expect(batches.some((b) => b.lastOffset === e.offset)).toBe(true);
    const upTo = records.filter((x) => x.offset <= e.offset).map((x) => x.timestamp);
    expect(e.timestamp).toBe(Math.max(...upTo));
    expect(e.timestamp).toBeGreaterThan(previousTs);
    previousTs = e.timestamp;
  }
}

const configArb = fc.record({
  segmentBytes: fc.constantFrom(4096, 16 * 1024, 64 * 1024, 1024 * 1024),
  segmentIndexBytes: fc.constantFrom(12, 24, 48, 1024, 10 * 1024 * 1024),
  indexIntervalBytes: fc.constantFrom(0, 100, 4096),
  segmentMs: fc.constantFrom(1_000, 100_000, 7 * 24 * 3600 * 1000),
});

const commands = [
  fc.tuple(fc.array(recordArb, { minLength: 1, maxLength: 50 }), fc.constantFrom('none' as const, 'gzip' as const, 'lz4' as const)).map(
    ([batch, c]) => new AppendCommand(batch, c),
  ),
  fc.constant(new RollCommand()),
  fc.constant(new ReopenCommand()),
  fc.constant(new ReadOnlyViewCommand()),
];

describe('Log against an in-memory model', () => {
  it('agrees after every append, roll and reopen', () => {
    fc.assert(
      fc.property(configArb, fc.commands(commands, { maxCommands: 25 }), (config, cmds) => {
        const dir = path.join(tmpDir(), 'topic-0');
        const real: Real = { dir, config, log: Log.open(dir, config) };
        try {
          fc.modelRun(() => ({ model: { records: [] }, real }), cmds);
        } finally {
          real.log.close();
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
