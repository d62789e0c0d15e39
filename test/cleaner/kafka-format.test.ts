import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, type CompressionType, type TimestampType } from '../../src/index.js';
import { decodeWithKafkaJs, kafkajs } from '../record/helpers.js';
import { rawBatches, rawOffsetIndex, rawTimeIndex, type RawBatch } from '../support/raw-log.js';
import { ClockedLog, partitionDir, readAll, segmentFiles } from './helpers.js';

/**
 * Every file the cleaner writes, read by code nobody here wrote (kafkajs's batch decoder and its
 * CRC-32C) and by this test's own reading of Kafka's rules: base and last offsets of each kept
 * batch as they were, the delete horizon where a tombstone was kept, the empty batch at the end of
 * a pass, and index entries exactly where Kafka's append path puts them.
 */

const DELETE_RETENTION_MS = 60_000;
const INDEX_INTERVAL = 200;

/** Batch base -> last offset of every batch of every `.log` in `dir`. */
function batchRanges(dir: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of segmentFiles(dir).filter((n) => n.endsWith('.log'))) {
    for (const b of rawBatches(path.join(dir, name))) out.set(b.baseOffset, b.lastOffset);
  }
  return out;
}

/** The index entries Kafka's LogSegment.append writes for these batches, then the closing time entry of a roll. */
function expectedIndexes(batches: RawBatch[], base: number) {
  const offsets: { offset: number; position: number }[] = [];
  const times: { timestamp: number; offset: number }[] = [];
  let since = 0;
  let max = -1;
  let offsetOfMax = -1;
  for (const b of batches) {
    if (b.maxTimestamp > max) {
      max = b.maxTimestamp;
      offsetOfMax = b.lastOffset;
    }
    if (since > INDEX_INTERVAL) {
      offsets.push({ offset: b.lastOffset, position: b.position });
      if (times.length === 0 || max > times[times.length - 1]!.timestamp) times.push({ timestamp: max, offset: offsetOfMax });
      since = 0;
    }
    since += b.size;
  }
  if (max >= 0 && (times.length === 0 || max > times[times.length - 1]!.timestamp)) times.push({ timestamp: max, offset: offsetOfMax });
  void base;
  return { offsets, times };
}

async function cleanedLog(codec: CompressionType, timestampType: TimestampType) {
  const c = new ClockedLog(partitionDir(), { segmentBytes: 64 * 1024, indexIntervalBytes: INDEX_INTERVAL, deleteRetentionMs: DELETE_RETENTION_MS, timestampType });
  let n = 0;
  for (let s = 0; s < 3; s++) {
    for (let b = 0; b < 25; b++) {
      const records = [0, 1, 2].map(() => {
        n++;
        return { key: `key-${n % 13}`, value: n % 7 === 0 ? null : `value-${n}`.repeat(1 + (n % 3)), timestamp: c.now - 50_000 + ((n * 7919) % 100_000), headers: [{ key: 'n', value: String(n) }] };
      });
      c.log.append(records, { compression: codec });
    }
    c.log.roll();
  }
  c.log.append({ key: 'key-0', value: 'active' });
  const before = batchRanges(c.dir);
  const expected = readAll(c.log);
  await c.log.compact();
  return { c, before, expected };
}

describe('cleaned segments, read by kafkajs', () => {
  for (const codec of ['none', 'gzip', 'lz4', 'snappy'] as const) {
    for (const timestampType of ['CreateTime', 'LogAppendTime'] as const) {
      it(`decode with valid CRCs, keep each batch's offsets and codec, carry the delete horizon (${codec}, ${timestampType})`, async () => {
        const { c, before } = await cleanedLog(codec, timestampType);
        const ours = readAll(c.log);
        const active = c.log.segments().at(-1)!.baseOffset;
        const seen: typeof ours = [];
        let horizons = 0;
        for (const name of segmentFiles(c.dir).filter((n) => n.endsWith('.log'))) {
          const file = fs.readFileSync(path.join(c.dir, name));
          for (const b of rawBatches(path.join(c.dir, name))) {
            const bytes = file.subarray(b.position, b.position + b.size);
            expect(kafkajs.crc32C(bytes.subarray(21)), `${name} @${b.position}`).toBe(bytes.readUInt32BE(17));
            expect(before.get(b.baseOffset), 'a cleaned batch keeps its base and last offsets').toBe(b.lastOffset);
            if (b.baseOffset < active) expect(bytes[22]! & 0x07, 'the codec of the input batch').toBe({ none: 0, gzip: 1, snappy: 2, lz4: 3 }[codec]);
            const batch = await decodeWithKafkaJs(bytes);
            const hasHorizon = (bytes[22]! & 0x40) !== 0;
            const tombstones = batch.records.filter((r) => r.value === null).length;
            if (b.baseOffset < active) {
              // The pass kept these tombstones for the first time: the horizon is clean time + deleteRetentionMs.
              expect(hasHorizon, `horizon bit of the batch at ${b.baseOffset}`).toBe(tombstones > 0);
              if (hasHorizon) {
                horizons++;
                expect(Number(batch.firstTimestamp)).toBe(c.now + DELETE_RETENTION_MS);
              }
            }
            for (const r of batch.records) {
              seen.push({
                offset: Number(r.offset),
                timestamp: Number(r.timestamp),
                key: r.key === null ? null : r.key.toString(),
                value: r.value === null ? null : r.value.toString(),
                headers: Object.entries(r.headers).map(([k, v]) => [k, v === null ? null : (v as Buffer).toString()]),
              });
            }
          }
        }
        expect(horizons).toBeGreaterThan(0);
        expect(seen).toEqual(ours);
        c.log.close();
      });
    }
  }

  it('index entries of every cleaned segment are exactly where Kafka puts them', async () => {
    const { c } = await cleanedLog('none', 'CreateTime');
    const segments = c.log.segments();
    for (const s of segments.slice(0, -1)) {
      const batches = rawBatches(s.path);
      const want = expectedIndexes(batches, s.baseOffset);
      expect(rawOffsetIndex(s.path.replace(/\.log$/, '.index'), s.baseOffset)).toEqual(want.offsets);
      expect(rawTimeIndex(s.path.replace(/\.log$/, '.timeindex'), s.baseOffset)).toEqual(want.times);
      // Index files are trimmed to their entries, as a rolled segment's are.
      expect(fs.statSync(s.path.replace(/\.log$/, '.index')).size).toBe(want.offsets.length * 8);
      expect(fs.statSync(s.path.replace(/\.log$/, '.timeindex')).size).toBe(want.times.length * 12);
    }
    c.log.close();
  });

  it('keeps the emptied last batch of a pass as a 61-byte empty header, as Kafka does', async () => {
    const dir = partitionDir();
    // Keyless records written while the log did not compact; the cleaner drops them.
    const plain = Log.open(dir, { retentionCheckIntervalMs: 0 });
    plain.append([{ key: 'a', value: '1' }, { key: 'b', value: '2' }]);
    plain.append([{ value: 'keyless-1' }, { value: 'keyless-2' }, { value: 'keyless-3' }], { compression: 'gzip' });
    plain.roll();
    plain.append({ key: 'a', value: 'active' });
    plain.close();
    const c = new ClockedLog(dir);
    const result = await c.log.compact();
    expect(result.recordsRemoved).toBe(3);
    const first = c.log.segments()[0]!;
    const batches = rawBatches(first.path);
    expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.size])).toEqual([
      [0, 1, expect.any(Number)],
      [2, 4, 61],
    ]);
    const empty = fs.readFileSync(first.path).subarray(batches[1]!.position);
    const decoded = await decodeWithKafkaJs(Buffer.from(empty));
    expect(decoded.records).toEqual([]);
    expect(empty[22]! & 0x07).toBe(0);
    expect(empty.readBigInt64BE(27)).toBe(-1n);
    expect(kafkajs.crc32C(empty.subarray(21))).toBe(empty.readUInt32BE(17));
    expect(readAll(c.log).map((r) => r.offset)).toEqual([0, 1, 5]);
    expect(c.log.read(2, { maxRecords: 1 })[0]!.offset).toBe(5);
    c.log.close();
  });
});
