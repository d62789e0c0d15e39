import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompressionType, RecordInput } from '../../src/index.js';
import { ClockedLog, partitionDir, readAll, type PlainRecord } from './helpers.js';

/**
 * Model-based test of key compaction: random keyed appends (tombstones among them, explicit and
 * out-of-order timestamps, headers, every codec), clock steps, rolls, compaction passes and
 * reopens, against a model that applies Kafka's cleaner rules on its own. After every step the
 * whole log reads back exactly as the model says (offsets, timestamps, keys, values, headers),
 * reads from any offset (gaps included) start at the next kept record, and offsetForTimestamp
 * agrees with the model. Runs and seed: SEGLOG_PROPERTY_RUNS / SEGLOG_PROPERTY_SEED.
 */

const RUNS = Number(process.env.SEGLOG_PROPERTY_RUNS ?? 12);
const SEED = process.env.SEGLOG_PROPERTY_SEED === undefined ? undefined : Number(process.env.SEGLOG_PROPERTY_SEED);
const DELETE_RETENTION_MS = 10_000;

interface ModelRecord extends PlainRecord {
  present: boolean;
  /** The delete horizon of its batch, once a pass kept it as a tombstone. */
  horizon: number | null;
}

type Op =
  | { kind: 'append'; records: { key: number; tombstone: boolean; skew: number; header: boolean }[]; codec: CompressionType }
  | { kind: 'tick'; ms: number }
  | { kind: 'roll' }
  | { kind: 'compact' }
  | { kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      records: fc.array(
        fc.record({ key: fc.integer({ min: 0, max: 12 }), tombstone: fc.integer({ min: 0, max: 3 }).map((n) => n === 0), skew: fc.integer({ min: -5000, max: 5000 }), header: fc.boolean() }),
        { minLength: 1, maxLength: 6 },
      ),
      codec: fc.constantFrom<CompressionType>('none', 'none', 'gzip', 'lz4', 'snappy'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 8000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'roll' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** Kafka's pass over [0, end) with the map built over [firstDirty, end), at `now`. */
function modelPass(model: ModelRecord[], firstDirty: number, end: number, now: number): void {
  const latest = new Map<string, number>();
  for (const r of model) if (r.present && r.offset >= firstDirty && r.offset < end) latest.set(r.key!, r.offset);
  for (const r of model) {
    if (!r.present || r.offset >= end) continue;
    const isLatest = r.offset >= (latest.get(r.key!) ?? -1);
    const keepDelete = r.horizon === null || now < r.horizon;
    if (!isLatest || (r.value === null && !keepDelete)) r.present = false;
    else if (r.value === null && r.horizon === null) r.horizon = now + DELETE_RETENTION_MS;
  }
}

function check(c: ClockedLog, model: ModelRecord[]): void {
  const { log } = c;
  const expected = model.filter((r) => r.present && r.offset >= log.startOffset).map(({ present: _present, horizon: _horizon, ...r }) => r);
  expect(readAll(log)).toEqual(expected);
  expect(log.endOffset).toBe(model.length);
  // A read from any offset, inside a gap or not, starts at the next kept record.
  for (let o = log.startOffset; o < log.endOffset; o += 3) {
    const first = log.read(o, { maxRecords: 1 })[0];
    expect(first?.offset, `read(${o})`).toBe(expected.find((r) => r.offset >= o)?.offset);
  }
  for (const t of [c.now - 20_000, c.now - 4000, c.now, c.now + 4000]) {
    expect(log.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(expected.find((r) => r.timestamp >= t)?.offset ?? null);
  }
}

describe('compaction against a model', () => {
  it('keeps every key latest record, drops tombstones after deleteRetentionMs, leaves the dirty tail alone', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), fc.integer({ min: 300, max: 1500 }), async (ops, segmentBytes) => {
        const c = new ClockedLog(partitionDir(), { segmentBytes, deleteRetentionMs: DELETE_RETENTION_MS, indexIntervalBytes: 100 });
        const model: ModelRecord[] = [];
        try {
          for (const op of ops) {
            if (op.kind === 'append') {
              const records: RecordInput[] = op.records.map((r, i) => ({
                key: `key-${r.key}`,
                value: r.tombstone ? null : `value-${model.length + i}`,
                timestamp: Math.max(0, c.now + r.skew),
                headers: r.header ? [{ key: 'h', value: `hv${model.length + i}` }] : [],
              }));
              const { baseOffset } = c.log.append(records, { compression: op.codec });
              records.forEach((r, i) =>
                model.push({
                  offset: baseOffset + i,
                  timestamp: r.timestamp!,
                  key: r.key as string,
                  value: (r.value as string | null) ?? null,
                  headers: (r.headers as { key: string; value: string }[]).map((h) => [h.key, h.value]),
                  present: true,
                  horizon: null,
                }),
              );
            } else if (op.kind === 'tick') c.now += op.ms;
            else if (op.kind === 'roll') c.log.roll();
            else if (op.kind === 'reopen') c.reopen();
            else {
              const firstDirty = c.log.cleaner.firstDirtyOffset() ?? c.log.startOffset;
              const segments = c.log.segments();
              const end = segments[segments.length - 1]!.baseOffset;
              const result = await c.log.compact();
              if (firstDirty < end) {
                modelPass(model, firstDirty, end, c.now);
                expect(c.log.cleaner.firstDirtyOffset()).toBe(end);
              } else expect(result.segmentsCleaned).toBe(0);
            }
            check(c, model);
          }
        } finally {
          c.log.close();
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 600_000);
});
