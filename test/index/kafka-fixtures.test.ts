/**
 * Index files written by real Apache Kafka 3.8 brokers (clean shutdown, so trimmed), from
 * `../shared/kafka-fixtures` (see its README and PROVENANCE.tsv). Opened read-only in place.
 */
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { OffsetIndex } from '../../src/index/offset-index.js';
import { TimeIndex } from '../../src/index/time-index.js';
import { repoRoot } from './helpers.js';

const fixtures = path.resolve(repoRoot, '../shared/kafka-fixtures');
const present = fs.existsSync(fixtures);
if (!present) console.warn(`Kafka fixtures not found at ${fixtures}: the fixture tests do not run`);

const NAME = '00000000000000000000';

function partition(commit: string, dir: string): string {
  return path.join(fixtures, 'kafka-tester', commit, 'kraft-combined-logs', dir);
}

interface Expected {
  dir: string;
  offsets: [number, number][];
  times: [number, number][];
}

/** Entries as decoded independently with Buffer#readInt32BE / readBigInt64BE. */
function decodeOffsetIndex(file: string): [number, number][] {
  const b = fs.readFileSync(file);
  const out: [number, number][] = [];
  for (let p = 0; p + 8 <= b.length; p += 8) out.push([b.readInt32BE(p), b.readInt32BE(p + 4)]);
  return out;
}

function decodeTimeIndex(file: string): [number, number][] {
  const b = fs.readFileSync(file);
  const out: [number, number][] = [];
  for (let p = 0; p + 12 <= b.length; p += 12) out.push([Number(b.readBigInt64BE(p)), b.readInt32BE(p + 8)]);
  return out;
}

const cases: Expected[] = [
  {
    dir: partition('510714e', '__cluster_metadata-0'),
    offsets: [
      [57, 4154],
      [114, 8258],
    ],
    times: [
      [1726045967500, 57],
      [1726045996206, 114],
      [1726046001742, 128],
    ],
  },
  {
    dir: partition('e856b9a', '__cluster_metadata-0'),
    offsets: [[56, 4123]],
    times: [
      [1725272038072, 56],
      [1725272048281, 80],
      [1725272098040, 115],
    ],
  },
  { dir: partition('510714e', 'foo-0'), offsets: [], times: [[1726045973899, 0]] },
  { dir: partition('e856b9a', 'foo-0'), offsets: [], times: [[1725272041932, 2]] },
];

describe.runIf(present)('index files written by Kafka', () => {
  for (const c of cases) {
    const label = path.relative(fixtures, c.dir);

    it(`${label}: the offset index decodes, with entries = length / 8`, () => {
      const file = path.join(c.dir, `${NAME}.index`);
      const logSize = fs.statSync(path.join(c.dir, `${NAME}.log`)).size;
      expect(decodeOffsetIndex(file)).toEqual(c.offsets);
      for (const detectZeroTail of [false, true]) {
        const idx = new OffsetIndex(file, 0, { mode: 'read', detectZeroTail });
        expect(idx.entries).toBe(fs.statSync(file).size / 8);
        expect(idx.entries).toBe(c.offsets.length);
        c.offsets.forEach(([offset, position], n) => {
          expect(idx.entry(n)).toEqual({ offset, position });
          expect(idx.lookup(offset)).toEqual({ offset, position });
          expect(idx.lookup(offset + 1)).toEqual({ offset, position });
        });
        expect(idx.lookup(0)).toEqual({ offset: 0, position: 0 });
        idx.sanityCheck({ fullScan: true, logSize });
        idx.close();
      }
      expect(fs.statSync(file).size).toBe(c.offsets.length * 8); // untouched
    });

    it(`${label}: the time index decodes, with entries = length / 12`, () => {
      const file = path.join(c.dir, `${NAME}.timeindex`);
      expect(decodeTimeIndex(file)).toEqual(c.times);
      for (const detectZeroTail of [false, true]) {
        const idx = new TimeIndex(file, 0, { mode: 'read', detectZeroTail });
        expect(idx.entries).toBe(fs.statSync(file).size / 12);
        expect(idx.entries).toBe(c.times.length);
        c.times.forEach(([timestamp, offset], n) => {
          expect(idx.entry(n)).toEqual({ timestamp, offset });
          expect(idx.lookup(timestamp)).toEqual({ timestamp, offset });
          expect(idx.lookup(timestamp + 1)).toEqual({ timestamp, offset });
        });
        const [firstTs] = c.times[0]!;
        expect(idx.lookup(firstTs - 1)).toEqual({ timestamp: -1, offset: 0 });
        const [lastTs, lastOffset] = c.times[c.times.length - 1]!;
        expect(idx.lastEntry).toEqual({ timestamp: lastTs, offset: lastOffset });
        idx.sanityCheck({ fullScan: true });
        idx.close();
      }
    });
  }
});

describe('Kafka fixtures', () => {
  it('are present (required under CI, so CI cannot silently skip the tests above)', () => {
    if (present) return;
    console.warn(`Kafka fixture tests not run: ${fixtures} does not exist`);
    if (process.env['CI']) throw new Error(`Kafka fixtures missing at ${fixtures}; CI must not skip them`);
  });
});
