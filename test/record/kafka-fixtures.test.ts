/**
 * Every `.log` under `../shared/kafka-fixtures` (see its README and PROVENANCE.tsv): partitions
 * written by real Apache Kafka 3.8 brokers, plus two files from a third-party generator. Every
 * batch must pass the CRC check and decode, with offsets increasing.
 */
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseBatchHeader, readBatchSize, type BatchHeader } from '../../src/record/batch-layout.js';
import { decodeRecords, validateBatch } from '../../src/record/batch-reader.js';
import type { LogRecord } from '../../src/record/types.js';
import { repoRoot } from './helpers.js';

const fixtures = path.resolve(repoRoot, '../shared/kafka-fixtures');
const present = fs.existsSync(fixtures);
if (!present) console.warn(`Kafka fixtures not found at ${fixtures}: the fixture tests do not run`);

it('has the Kafka fixtures available (required in CI)', () => {
  expect(present || !process.env.CI).toBe(true);
});

function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) return logFiles(full);
      return e.isFile() && e.name.endsWith('.log') ? [full] : [];
    })
    .sort();
}

interface DecodedFile {
  batches: BatchHeader[];
  records: LogRecord[];
}

function decodeFile(file: string): DecodedFile {
  const buf = fs.readFileSync(file);
  const batches: BatchHeader[] = [];
  const records: LogRecord[] = [];
  for (let pos = 0; pos < buf.length; pos += readBatchSize(buf, pos)) {
    validateBatch(buf, pos, { file, position: pos });
    const header = parseBatchHeader(buf, pos);
    const before = records.length;
    decodeRecords(buf, pos, records, 0, Number.MAX_SAFE_INTEGER, { file, position: pos });
    expect(records.length - before).toBe(header.recordCount);
    batches.push(header);
  }
  return { batches, records };
}

const tester = (commit: string, partition: string): string =>
  path.join(fixtures, 'kafka-tester', commit, 'kraft-combined-logs', partition, '00000000000000000000.log');

if (present) {
  describe('Kafka-written log files', () => {
    const files = logFiles(fixtures);

    it('include the broker-written partitions and the third-party samples', () => {
      expect(files.length).toBeGreaterThanOrEqual(8);
      expect(files.some((f) => f.includes('kafka-gleam'))).toBe(true);
      expect(files.some((f) => f.includes('codecrafters-kafka-go'))).toBe(true);
    });

    it.each(files.map((f) => [path.relative(fixtures, f)]))('%s: every batch is valid and offsets increase', (relative) => {
      const { batches, records } = decodeFile(path.join(fixtures, relative));
      expect(batches.length).toBeGreaterThan(0);
      for (let i = 0; i < batches.length; i++) {
        const batch = batches[i]!;
        expect(batch.magic).toBe(2);
        expect(batch.lastOffset).toBeGreaterThanOrEqual(batch.baseOffset);
        if (i > 0) expect(batch.baseOffset).toBeGreaterThan(batches[i - 1]!.lastOffset);
      }
      for (let i = 1; i < records.length; i++) expect(records[i]!.offset).toBeGreaterThan(records[i - 1]!.offset);
    });

    it('kafka-tester/510714e foo-0 holds the one record "Hello World!"', () => {
      const { batches, records } = decodeFile(tester('510714e', 'foo-0'));
      expect(batches).toHaveLength(1);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ offset: 0, key: null, headers: [] });
      expect(records[0]!.value!.toString()).toBe('Hello World!');
      expect(records[0]!.timestamp).toBe(batches[0]!.maxTimestamp);
    });

    it('kafka-tester/e856b9a foo-0 holds m1, m2, m3 from idempotent producer 0', () => {
      const { batches, records } = decodeFile(tester('e856b9a', 'foo-0'));
      expect(records.map((r) => [r.offset, r.value!.toString()])).toEqual([
        [0, 'm1'],
        [1, 'm2'],
        [2, 'm3'],
      ]);
      expect(batches.map((b) => [b.producerId, b.baseSequence])).toEqual([
        [0, 0],
        [0, 2],
      ]);
      const fromOne: LogRecord[] = [];
      const buf = fs.readFileSync(tester('e856b9a', 'foo-0'));
      expect(decodeRecords(buf, 0, fromOne, 1, 10)).toBe(1);
      expect(fromOne[0]!.value!.toString()).toBe('m2');
    });

    it('the __cluster_metadata logs have the batch and record counts the README states', () => {
      const counts = (commit: string): [number, number] => {
        const { batches, records } = decodeFile(tester(commit, '__cluster_metadata-0'));
        return [batches.length, records.length];
      };
      expect(counts('e856b9a')).toEqual([109, 116]);
      expect(counts('510714e')).toEqual([123, 129]);
      const kept = decodeFile(tester('5d71ee8', '__cluster_metadata-0'));
      // Two batches kept from 510714e, with the offset gap 4 -> 34.
      expect(kept.batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual([
        [1, 4],
        [34, 35],
      ]);
    });

    it('control batches decode, with control-record keys (version 0, known type)', () => {
      const { batches } = decodeFile(tester('e856b9a', '__cluster_metadata-0'));
      const buf = fs.readFileSync(tester('e856b9a', '__cluster_metadata-0'));
      let pos = 0;
      let controls = 0;
      for (const batch of batches) {
        if (batch.isControl) {
          const out: LogRecord[] = [];
          decodeRecords(buf, pos, out, 0, 100);
          for (const record of out) {
            expect(record.key!.readInt16BE(0)).toBe(0);
            expect([2, 3, 4, 5, 6]).toContain(record.key!.readInt16BE(2));
          }
          controls++;
        }
        pos += batch.sizeInBytes;
      }
      expect(controls).toBeGreaterThan(0);
    });
  });
}
