import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Topic, partitionForKey, type TopicRecordInput } from '../../src/index.js';
import { stickyRecordBytes } from '../../src/topic/partitioner.js';
import { tmpDir } from '../support/tmp.js';

/**
 * Random sequences of keyed and keyless appends, reopenings and addPartitions, checked against
 * what the partitioning contract promises: a key's records between two partition-count changes
 * are all in one partition, in append order; keyless records of a call share one partition,
 * which changes only (and always, when it can) once `stickyBatchBytes` went to it. Every
 * partition is read back at the end and must hold exactly the records the model expects.
 * Runs and seed from SEGLOG_PROPERTY_RUNS / SEGLOG_PROPERTY_SEED.
 */

const RUNS = Number(process.env.SEGLOG_PROPERTY_RUNS ?? 25);
const SEED = process.env.SEGLOG_PROPERTY_SEED === undefined ? undefined : Number(process.env.SEGLOG_PROPERTY_SEED);

const KEYS = ['sensor-A1', 'sensor-B2', '', 'température', '传感器-7', '🌡️'];

type Command =
  | { type: 'append'; records: { key: string | null; padding: number }[] }
  | { type: 'reopen' }
  | { type: 'add'; n: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .array(fc.record({ key: fc.option(fc.constantFrom(...KEYS), { nil: null, freq: 3 }), padding: fc.nat({ max: 120 }) }), { minLength: 1, maxLength: 8 })
      .map((records) => ({ type: 'append' as const, records })),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => ({ type: 'add' as const, n })) },
);

interface Placed {
  id: number;
  key: string | null;
  partition: number;
  offset: number;
  /** Number of partition-count changes before the append. */
  epoch: number;
}

/** The sticky rule as the model sees it, per open session. */
interface StickyModel {
  last: number | null;
  bytes: number;
  mustChange: boolean;
}

class Harness {
  topic: Topic;
  readonly placed: Placed[] = [];
  epoch = 0;
  sticky: StickyModel = { last: null, bytes: 0, mustChange: false };

  constructor(
    readonly dir: string,
    readonly threshold: number,
    partitions: number,
  ) {
    this.topic = Topic.open(dir, { name: 'prop', partitions, stickyBatchBytes: threshold });
  }

  run(command: Command): void {
    if (command.type === 'reopen') {
      this.topic.close();
      this.topic = Topic.open(this.dir, { stickyBatchBytes: this.threshold });
      this.sticky = { last: null, bytes: 0, mustChange: false };
    } else if (command.type === 'add') {
      this.topic.addPartitions(command.n);
      this.epoch++;
    } else {
      this.append(command.records);
    }
  }

  private append(specs: { key: string | null; padding: number }[]): void {
    const n = this.topic.partitions;
    const records: TopicRecordInput[] = specs.map((s, i) => ({
      key: s.key,
      value: `${this.placed.length + i}|${'.'.repeat(s.padding)}`,
    }));
    const result = this.topic.append(records);
    expect(result).toHaveLength(records.length);
    const keyless: number[] = [];
    let keylessBytes = 0;
    result.forEach((where, i) => {
      const key = specs[i]!.key;
      if (key !== null) expect(where.partition).toBe(partitionForKey(key, n));
      else {
        keyless.push(where.partition);
        keylessBytes += stickyRecordBytes(records[i]!);
      }
      this.placed.push({ id: this.placed.length, key, partition: where.partition, offset: where.offset, epoch: this.epoch });
    });
    if (keyless.length > 0) this.checkSticky(keyless, keylessBytes, n);
  }

  private checkSticky(keyless: number[], bytes: number, n: number): void {
    expect(new Set(keyless).size).toBe(1);
    const partition = keyless[0]!;
    const model = this.sticky;
    if (model.last !== null) {
      if (model.mustChange) expect(partition).not.toBe(model.last);
      else expect(partition).toBe(model.last);
    }
    model.last = partition;
    model.bytes += bytes;
    model.mustChange = false;
    if (model.bytes >= this.threshold) {
      model.bytes = 0;
      model.mustChange = n >= 2;
    }
  }

  /** Reads every partition back and checks it against `placed`, and the per-key ordering contract. */
  verify(): void {
    const n = this.topic.partitions;
    for (let p = 0; p < n; p++) {
      const expected = this.placed.filter((r) => r.partition === p);
      const stored = this.topic.partition(p).read(0, { maxBytes: 1 << 30 });
      expect(stored.map((r) => r.offset)).toEqual(expected.map((_, i) => i));
      expect(expected.map((r) => r.offset)).toEqual(expected.map((_, i) => i));
      expect(stored.map((r) => Number(r.value!.toString().split('|')[0]))).toEqual(expected.map((r) => r.id));
    }
    const byKeyAndEpoch = new Map<string, Placed[]>();
    for (const r of this.placed) {
      if (r.key === null) continue;
      const group = `${r.epoch}\u0000${r.key}`;
      byKeyAndEpoch.set(group, [...(byKeyAndEpoch.get(group) ?? []), r]);
    }
    for (const group of byKeyAndEpoch.values()) {
      expect(new Set(group.map((r) => r.partition)).size).toBe(1);
      const offsets = group.map((r) => r.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
  }
}

describe('topic partitioning (property)', () => {
  it('keeps each key in one partition in order between count changes, and keyless records sticky', () => {
    const root = tmpDir();
    let run = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 700 }),
        fc.array(commandArb, { minLength: 1, maxLength: 30 }),
        (partitions, threshold, commands) => {
          const dir = path.join(root, `run-${run++}`);
          const harness = new Harness(dir, threshold, partitions);
          try {
            for (const command of commands) harness.run(command);
            harness.verify();
            harness.topic.close();
            harness.topic = Topic.open(dir);
            harness.verify();
          } finally {
            harness.topic.close();
            fs.rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });
});
