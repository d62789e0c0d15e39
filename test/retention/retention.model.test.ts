import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Log, OffsetOutOfRangeError, RecordTooLargeError, type LogConfig, type RecordInput } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';
import { deletedFiles, liveFiles, plain, readsRecordData, segmentFiles, sleep, waitFor } from './helpers.js';

/**
 * Model-based test of retention, the log start offset and truncation: random appends (timestamps
 * from an injected clock, some in the future), rolls, clock steps, retention passes,
 * deleteRecordsBefore, truncateTo, retention floors, waits for delayed deletions and
 * close/reopen, against a model that applies Kafka's rules on its own. After every step: the
 * segment files on disk are exactly the live segments plus the `.deleted` files of the pending
 * deletions; startOffset, endOffset, segments(), size, read and offsetForTimestamp agree with the
 * model, so no record that retention should keep is gone.
 * Runs and seed: SEGLOG_PROPERTY_RUNS / SEGLOG_PROPERTY_SEED.
 */

const RUNS = Number(process.env.SEGLOG_PROPERTY_RUNS ?? 30);
const SEED = process.env.SEGLOG_PROPERTY_SEED === undefined ? undefined : Number(process.env.SEGLOG_PROPERTY_SEED);

type Plain = ReturnType<typeof plain>;

interface Model {
  /** Every record appended and not truncated, by offset (also those below the start offset). */
  records: Plain[];
  start: number;
  end: number;
  /** Base offsets of the live segments, oldest first. */
  segments: number[];
  /** Base offsets of segments renamed `.deleted`, not yet deleted. */
  pending: number[];
  floor: number | null;
  /** How many times a retention step moved the start offset (each writes the checkpoint once). */
  raises: number;
}

interface Real {
  dir: string;
  config: LogConfig & { fileDeleteDelayMs: number; retentionMs: number; retentionBytes: number };
  clock: { now: number };
  floor: { value: number | null };
  log: Log;
}

type Cmd = fc.AsyncCommand<Model, Real>;

function open(r: Real): Log {
  const log = Log.open(r.dir, { ...r.config, clock: () => r.clock.now });
  log.addRetentionFloor(() => r.floor.value);
  return log;
}

// ------------------------------------------------------------------------------------------------
// The model's own reading of Kafka's rules.

interface ModelSegment {
  base: number;
  upper: number;
  size: number;
  empty: boolean;
  maxTimestamp: number;
}

function modelSegments(m: Model, r: Real): ModelSegment[] {
  const sizes = new Map(r.log.segments().map((s) => [s.baseOffset, s.sizeBytes]));
  return m.segments.map((base, i) => {
    const upper = m.segments[i + 1] ?? m.end;
    const inSeg = m.records.slice(base, upper);
    return { base, upper, size: sizes.get(base)!, empty: inSeg.length === 0, maxTimestamp: Math.max(-1, ...inSeg.map((x) => x.timestamp)) };
  });
}

/** Kafka's walk: a prefix of segments, each passing the floor, not the empty last one, and the rule. */
function walk(m: Model, segs: ModelSegment[], rule: (s: ModelSegment) => boolean, floor: boolean): number {
  let n = 0;
  for (const s of segs) {
    if (floor && m.floor !== null && m.floor < s.upper) break;
    if (s === segs[segs.length - 1] && s.empty) break;
    if (!rule(s)) break;
    n++;
  }
  return n;
}

/** Deletes the first `n` segments as Kafka does (rolling first when they are all); returns n. */
function deletePrefix(m: Model, n: number): number {
  if (n === 0) return 0;
  if (n === m.segments.length) m.segments.push(m.end);
  const gone = m.segments.splice(0, n);
  m.pending.push(...gone);
  if (m.segments[0]! > m.start) m.raises++;
  m.start = Math.max(m.start, m.segments[0]!);
  return n;
}

function startOffsetStep(m: Model, r: Real): number {
  return deletePrefix(m, walk(m, modelSegments(m, r), (s) => s.upper <= m.start, false));
}

function modelRetention(m: Model, r: Real, now: number): number {
  let deleted = startOffsetStep(m, r);
  const { retentionBytes, retentionMs } = r.config;
  let segs = modelSegments(m, r);
  const total = segs.reduce((a, s) => a + s.size, 0);
  if (retentionBytes >= 0 && total >= retentionBytes) {
    let diff = total - retentionBytes;
    deleted += deletePrefix(
      m,
      walk(m, segs, (s) => {
        if (diff - s.size < 0) return false;
        diff -= s.size;
        return true;
      }, true),
    );
  }
  segs = modelSegments(m, r);
  if (retentionMs >= 0) deleted += deletePrefix(m, walk(m, segs, (s) => now - s.maxTimestamp > retentionMs, true));
  return deleted;
}

/**
 * Runs a retention pass while counting file-system calls: whatever the segments' sizes, a pass
 * reads no data (no `readSync`) and renames exactly the four files of each segment it deletes,
 * plus the log-start-offset checkpoint once per step that moved the start offset (`raised`, from
 * the model's run of the same pass).
 */
function countedPass(pass: () => number, raised: number): number {
  let reads = 0;
  let renames = 0;
  const readSync = fs.readSync;
  const renameSync = fs.renameSync;
  const readSpy = vi.spyOn(fs, 'readSync').mockImplementation(((...args: unknown[]) => {
    if (readsRecordData(args[0])) reads++;
    return (readSync as (...a: unknown[]) => number).apply(fs, args);
  }) as typeof fs.readSync);
  const renameSpy = vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
    renames++;
    renameSync(from, to);
  });
  let deleted: number;
  try {
    deleted = pass();
  } finally {
    readSpy.mockRestore();
    renameSpy.mockRestore();
  }
  expect(reads, 'reads of record data during a retention pass').toBe(0);
  expect(renames, 'renames during a retention pass').toBe(4 * deleted + raised);
  return deleted;
}

// ------------------------------------------------------------------------------------------------
// Commands.

interface BatchSpec {
  records: { key: string | null; value: string; headers: boolean; dt: number | null }[];
  compression: 'none' | 'gzip' | 'lz4';
}

class AppendCommand implements Cmd {
  constructor(readonly batch: BatchSpec) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const now = r.clock.now;
    const inputs: RecordInput[] = this.batch.records.map((x) => ({
      key: x.key,
      value: x.value,
      headers: x.headers ? { h: x.value.slice(0, 3) } : [],
      ...(x.dt === null ? {} : { timestamp: Math.max(0, now + x.dt) }),
    }));
    const before = m.segments.slice();
    try {
      r.log.append(inputs, { compression: this.batch.compression });
    } catch (err) {
      expect(err).toBeInstanceOf(RecordTooLargeError);
      check(m, r);
      return;
    }
    const appendTime = r.config.timestampType === 'LogAppendTime';
    this.batch.records.forEach((x, i) => {
      const ts = appendTime || x.dt === null ? now : Math.max(0, now + x.dt);
      m.records[m.end + i] = {
        offset: m.end + i,
        timestamp: ts,
        key: x.key === null ? null : Buffer.from(x.key).toString('hex'),
        value: Buffer.from(x.value).toString('hex'),
        headers: x.headers ? [['h', Buffer.from(x.value.slice(0, 3)).toString('hex')]] : [],
      };
    });
    const bases = r.log.segments().map((s) => s.baseOffset);
    // The engine decides when an append rolls (tested elsewhere); it may only add a segment at the append's base.
    if (bases.length === before.length + 1) {
      expect(bases).toEqual([...before, m.end]);
      m.segments.push(m.end);
    } else {
      expect(bases).toEqual(before);
    }
    m.end += this.batch.records.length;
    check(m, r);
  }
  toString(): string {
    return `append(${this.batch.records.map((x) => x.dt ?? 'now').join(',')}; ${this.batch.compression})`;
  }
}

class RollCommand implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.log.roll();
    if (m.segments[m.segments.length - 1]! < m.end) m.segments.push(m.end);
    check(m, r);
  }
  toString(): string {
    return 'roll';
  }
}

class TimeStepCommand implements Cmd {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.clock.now += this.ms;
    check(m, r);
  }
  toString(): string {
    return `clock+${this.ms}`;
  }
}

class RetentionCommand implements Cmd {
  constructor(readonly explicitDelta: number | null) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const now = r.clock.now + (this.explicitDelta ?? 0);
    const raises = m.raises;
    const expected = modelRetention(m, r, now);
    const deleted = countedPass(() => (this.explicitDelta === null ? r.log.applyRetention() : r.log.applyRetention(now)), m.raises - raises);
    expect(deleted).toBe(expected);
    check(m, r);
  }
  toString(): string {
    return this.explicitDelta === null ? 'applyRetention()' : `applyRetention(now+${this.explicitDelta})`;
  }
}

/** A pass exactly at (extra 0) or just past (extra 1) the time limit of the `pick`-th live segment. */
class BoundaryRetentionCommand implements Cmd {
  constructor(
    readonly pick: number,
    readonly extra: 0 | 1,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const segs = modelSegments(m, r).filter((s) => !s.empty);
    const target = segs[Math.floor(this.pick * segs.length)];
    if (r.config.retentionMs < 0 || target === undefined) return;
    const now = target.maxTimestamp + r.config.retentionMs + this.extra;
    const raises = m.raises;
    const expected = modelRetention(m, r, now);
    expect(countedPass(() => r.log.applyRetention(now), m.raises - raises)).toBe(expected);
    check(m, r);
  }
  toString(): string {
    return `applyRetention(boundary ${this.pick.toFixed(2)} +${this.extra})`;
  }
}

class DeleteRecordsCommand implements Cmd {
  constructor(readonly where: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    // `where` in [0, 1] picks an offset in [start, end]; above 1, one past the end (refused).
    const offset = this.where > 1 ? m.end + 1 : m.start + Math.round(this.where * (m.end - m.start));
    if (offset > m.end) {
      expect(() => r.log.deleteRecordsBefore(offset)).toThrow(OffsetOutOfRangeError);
    } else {
      expect(r.log.deleteRecordsBefore(offset)).toBe(Math.max(m.start, offset));
      if (offset > m.start) {
        m.start = offset;
        startOffsetStep(m, r);
      }
    }
    check(m, r);
  }
  toString(): string {
    return `deleteRecordsBefore(${this.where.toFixed(2)})`;
  }
}

class TruncateCommand implements Cmd {
  constructor(readonly where: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    // `where` < 0 picks an offset below the start (refused when there is one).
    const offset = this.where < 0 ? m.start - 1 : m.start + Math.round(this.where * (m.end - m.start));
    if (offset < 0) return;
    if (offset < m.start) {
      expect(() => r.log.truncateTo(offset)).toThrow(OffsetOutOfRangeError);
    } else {
      r.log.truncateTo(offset);
      if (offset < m.end) {
        m.records.length = offset;
        m.end = offset;
        const later = m.segments.filter((b) => b > offset);
        m.segments = m.segments.filter((b) => b <= offset);
        m.pending.push(...later);
      }
    }
    check(m, r);
  }
  toString(): string {
    return `truncateTo(${this.where.toFixed(2)})`;
  }
}

class FloorCommand implements Cmd {
  constructor(readonly where: number | null) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    m.floor = this.where === null ? null : m.start + Math.round(this.where * (m.end - m.start));
    r.floor.value = m.floor;
    check(m, r);
  }
  toString(): string {
    return `floor(${this.where === null ? 'none' : this.where.toFixed(2)})`;
  }
}

class WaitCommand implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    if (r.config.fileDeleteDelayMs === 0) {
      expect(await waitFor(() => !segmentFiles(r.dir).some((n) => n.endsWith('.deleted')))).toBe(true);
      m.pending = [];
    } else {
      await sleep(2);
    }
    check(m, r);
  }
  toString(): string {
    return 'wait';
  }
}

class ReopenCommand implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.log.close();
    // Pending deletions are done at close.
    m.pending = [];
    r.log = open(r);
    expect(r.log.recovery.cleanShutdown).toBe(true);
    expect(r.log.recovery.actions).toEqual([]);
    check(m, r);
  }
  toString(): string {
    return 'close+open';
  }
}

// ------------------------------------------------------------------------------------------------
// Checks.

function check(m: Model, r: Real): void {
  const log = r.log;
  expect(log.startOffset, 'startOffset').toBe(m.start);
  expect(log.endOffset, 'endOffset').toBe(m.end);
  const segs = log.segments();
  expect(segs.map((s) => s.baseOffset), 'segments').toEqual(m.segments);
  let total = 0;
  segs.forEach((s, i) => {
    const upper = m.segments[i + 1] ?? m.end;
    expect(s.endOffset).toBe(upper);
    expect(s.sizeBytes).toBe(fs.statSync(s.path).size);
    const inSeg = m.records.slice(s.baseOffset, upper);
    expect(s.maxTimestamp, `maxTimestamp of ${s.baseOffset}`).toBe(inSeg.length === 0 ? -1 : Math.max(...inSeg.map((x) => x.timestamp)));
    total += s.sizeBytes;
  });
  expect(log.size).toBe(total);
  // Files: exactly the live segments and the pending deletions; nothing half-done left behind.
  // (A segment deleted twice under one base offset, e.g. recreated after a truncation, leaves one
  // set of `.deleted` names: the second rename replaces the first's files.)
  const expected = [...new Set([...m.segments.flatMap(liveFiles), ...m.pending.flatMap(deletedFiles)])].sort();
  expect(segmentFiles(r.dir), 'segment files').toEqual(expected);
  // Reads: everything from the start offset, and from a few offsets inside.
  const live = m.records.slice(m.start, m.end);
  expect(m.end === m.start ? [] : log.read(m.start, { maxBytes: 1 << 30 }).map(plain)).toEqual(live);
  for (const o of [m.start + 1, Math.floor((m.start + m.end) / 2), m.end - 1]) {
    if (o < m.start || o >= m.end) continue;
    expect(log.read(o, { maxRecords: 3 }).map(plain)).toEqual(m.records.slice(o, o + 3));
  }
  expect(log.read(m.end)).toEqual([]);
  if (m.start > 0) expect(() => log.read(m.start - 1)).toThrow(OffsetOutOfRangeError);
  expect(() => log.read(m.end + 1)).toThrow(OffsetOutOfRangeError);
  const stamps = live.map((x) => x.timestamp);
  for (const t of [0, r.clock.now, ...stamps.slice(0, 2), ...stamps.slice(-2), (stamps[Math.floor(stamps.length / 2)] ?? 0) + 1]) {
    expect(log.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(live.find((x) => x.timestamp >= t)?.offset ?? null);
  }
}

// ------------------------------------------------------------------------------------------------

const batchArb: fc.Arbitrary<BatchSpec> = fc.record({
  records: fc.array(
    fc.record({
      key: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
      value: fc.string({ minLength: 1, maxLength: 120 }),
      headers: fc.boolean(),
      // null: the clock's time; else an offset from it, sometimes in the future.
      dt: fc.option(fc.integer({ min: -3000, max: 3000 }), { nil: null, freq: 2 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
  compression: fc.constantFrom('none' as const, 'gzip' as const, 'lz4' as const),
});

const commands = [
  batchArb.map((b) => new AppendCommand(b)),
  batchArb.map((b) => new AppendCommand(b)),
  batchArb.map((b) => new AppendCommand(b)),
  batchArb.map((b) => new AppendCommand(b)),
  batchArb.map((b) => new AppendCommand(b)),
  fc.constant(new RollCommand()),
  fc.constant(new RollCommand()),
  fc.integer({ min: 1, max: 2000 }).map((ms) => new TimeStepCommand(ms)),
  fc.option(fc.integer({ min: -1000, max: 5000 }), { nil: null }).map((d) => new RetentionCommand(d)),
  fc.tuple(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.999, noNaN: true })), fc.constantFrom(0 as const, 1 as const)).map(
    ([p, e]) => new BoundaryRetentionCommand(p, e),
  ),
  fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(2)).map((w) => new DeleteRecordsCommand(w)),
  fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(-1)).map((w) => new TruncateCommand(w)),
  fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null, freq: 2 }).map((w) => new FloorCommand(w)),
  fc.constant(new WaitCommand()),
  fc.constant(new ReopenCommand()),
];

const configArb = fc.record({
  segmentBytes: fc.constantFrom(256, 1024, 4096),
  indexIntervalBytes: fc.constantFrom(0, 200, 4096),
  retentionMs: fc.constantFrom(-1, 200, 1000, 4000),
  retentionBytes: fc.constantFrom(-1, 800, 3000),
  fileDeleteDelayMs: fc.constantFrom(0, 3_600_000),
  timestampType: fc.constantFrom('CreateTime' as const, 'CreateTime' as const, 'LogAppendTime' as const),
});

describe('retention and truncation against a model', () => {
  it('agree after every step', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, fc.commands(commands, { maxCommands: 60, size: 'max' }), async (config, cmds) => {
        const dir = path.join(tmpDir('seglog-retention-model-'), 'events-0');
        const real: Real = {
          dir,
          config: { ...config, retentionCheckIntervalMs: 0 },
          clock: { now: 1_000_000 },
          floor: { value: null },
          log: null as unknown as Log,
        };
        real.log = open(real);
        const model: Model = { records: [], start: 0, end: 0, segments: [0], pending: [], floor: null, raises: 0 };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
        } finally {
          real.log.close();
          // Commands await only microtasks: give the event loop a turn so that the background
          // flushes' file handles (completed on the thread pool) get closed between runs.
          await sleep(0);
        }
      }),
      // A failure's shrinking replays many async runs; bound it so a broken build fails in minutes.
      { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: Math.max(180_000, RUNS * 5_000), markInterruptAsFailure: false },
    );
  });
});
