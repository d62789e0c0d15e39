import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, type CompressionType } from '../../src/index.js';
import { decodeWithKafkaJs, kafkajs, registerKafkaJsCodecs } from '../record/helpers.js';
import { rawBatches, rawOffsetIndex, rawTimeIndex } from '../support/raw-log.js';
import { fixturesDir, fixturesExist, tmpDir } from '../support/tmp.js';

/**
 * Byte compatibility at the level of whole partition directories, checked by code nobody here
 * wrote: kafkajs's record-batch decoder and encoder, and directories written by Kafka brokers.
 */

function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

describe('directories seglog writes, read by kafkajs', () => {
  it('decodes every batch of every segment, with valid CRCs, for none, gzip, lz4 and snappy', async () => {
    const dir = path.join(tmpDir(), 'compat-0');
    const log = Log.open(dir, { segmentBytes: 2048 });
    const codecs: CompressionType[] = ['none', 'gzip', 'lz4', 'snappy'];
    const written: { offset: number; key: string | null; value: string; timestamp: number; headers: Record<string, string> }[] = [];
    for (let i = 0; i < 60; i++) {
      const batch = Array.from({ length: 1 + (i % 5) }, (_, j) => ({
        key: j % 3 === 0 ? null : `key-${i}-${j}`,
        value: `value ${i}/${j} `.repeat(1 + ((i * j) % 20)),
        timestamp: 1_700_000_000_000 + i * 1000 - j,
        headers: { source: `s${j}`, n: String(i) },
      }));
      const { baseOffset } = log.append(batch, { compression: codecs[i % codecs.length] });
      batch.forEach((r, j) => written.push({ ...r, offset: baseOffset + j }));
    }
    log.close();
    registerKafkaJsCodecs();
    const files = logFiles(dir);
    expect(files.length).toBeGreaterThan(3);
    const decoded: typeof written = [];
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      for (const b of rawBatches(file)) {
        const batch = bytes.subarray(b.position, b.position + b.size);
        expect(batch.readUInt32BE(17)).toBe(kafkajs.crc32C(batch.subarray(21)) >>> 0);
        const theirs = await decodeWithKafkaJs(batch);
        expect(Number(theirs.firstOffset)).toBe(b.baseOffset);
        for (const r of theirs.records) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(r.headers)) headers[k] = String(v);
          decoded.push({ offset: Number(r.offset), key: r.key === null ? null : r.key.toString(), value: r.value!.toString(), timestamp: Number(r.timestamp), headers });
        }
      }
    }
    expect(decoded).toEqual(written);
  });
});

describe('directories whose batches kafkajs encoded, read by seglog', () => {
  it('reads the records, rebuilds the missing indexes and seeks by offset and time', async () => {
    const dir = path.join(tmpDir(), 'theirs-0');
    fs.mkdirSync(dir);
    const expected: { offset: number; value: string; timestamp: number }[] = [];
    const parts: Buffer[] = [];
    let offset = 0;
    for (let i = 0; i < 40; i++) {
      const count = 1 + (i % 4);
      const base = 1_800_000_000_000 + i * 10;
      const records = Array.from({ length: count }, (_, j) =>
        kafkajs.Record({ offsetDelta: j, timestampDelta: j, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}.${j}`), headers: {} }),
      );
      const { buffer } = await kafkajs.RecordBatch({
        firstOffset: kafkajs.Long.fromValue(offset),
        firstTimestamp: base,
        maxTimestamp: base + count - 1,
        lastOffsetDelta: count - 1,
        producerId: kafkajs.Long.fromValue(-1),
        producerEpoch: -1,
        firstSequence: -1,
        records,
        compression: i % 2 === 0 ? kafkajs.compression.Types.None : kafkajs.compression.Types.GZIP,
      });
      parts.push(buffer);
      for (let j = 0; j < count; j++) expected.push({ offset: offset + j, value: `v${i}.${j}`, timestamp: base + j });
      offset += count;
    }
    fs.writeFileSync(path.join(dir, '00000000000000000000.log'), Buffer.concat(parts));

    const reader = Log.open(dir, { readOnly: true });
    expect(reader.endOffset).toBe(offset);
    expect(reader.read(0, { maxBytes: 1 << 30 }).map((r) => ({ offset: r.offset, value: r.value!.toString(), timestamp: r.timestamp }))).toEqual(expected);
    reader.close();

    const log = Log.open(dir, { indexIntervalBytes: 100 });
    expect(log.recovery.actions.some((a) => a.action === 'rebuilt-indexes')).toBe(true);
    for (const e of expected) {
      expect(log.read(e.offset, { maxRecords: 1 })[0]!.value!.toString()).toBe(e.value);
      expect(log.offsetForTimestamp(e.timestamp)).toBe(expected.find((x) => x.timestamp >= e.timestamp)!.offset);
    }
    log.close();
    expect(rawOffsetIndex(path.join(dir, '00000000000000000000.index'), 0).length).toBeGreaterThan(3);
  });
});

const partitionDirs = fixturesExist
  ? fs
      .readdirSync(fixturesDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /^\d{20}\.log$/.test(e.name))
      .map((e) => e.parentPath)
  : [];

describe('directories written by Kafka brokers', () => {
  it('are present (they are in CI)', () => {
    if (!fixturesExist) console.warn(`Kafka fixtures not found at ${fixturesDir}; broker-written directories are not checked here`);
    expect(fixturesExist || process.env.CI === undefined).toBe(true);
  });

  describe.runIf(fixturesExist).each(partitionDirs.map((d) => [path.relative(fixturesDir, d), d]))('%s', (_name, dir) => {
    it('reads every batch with the offsets the files hold', () => {
      const log = Log.open(dir, { readOnly: true });
      const batches = logFiles(dir).flatMap((f) => rawBatches(f));
      expect(log.endOffset).toBe(batches.at(-1)!.lastOffset + 1);
      let bytes = 0;
      for (const b of batches) {
        const raw = log.readBatches(b.baseOffset, { maxBytes: 1 });
        expect(raw.readBigInt64BE(0)).toBe(BigInt(b.baseOffset));
        bytes += raw.length;
      }
      expect(bytes).toBe(batches.reduce((n, b) => n + b.size, 0));
      const records = log.read(log.startOffset, { maxBytes: 1 << 30 });
      for (let i = 1; i < records.length; i++) expect(records[i]!.offset).toBeGreaterThan(records[i - 1]!.offset);
      log.close();
    });

    it('seeks by offset and by time in agreement with the broker-written indexes', () => {
      const log = Log.open(dir, { readOnly: true });
      const batches = logFiles(dir).flatMap((f) => rawBatches(f));
      const stem = logFiles(dir)[0]!.slice(0, -4);
      const hasIndexes = fs.existsSync(`${stem}.index`);
      const offsetEntries = hasIndexes ? rawOffsetIndex(`${stem}.index`, 0) : [];
      const timeEntries = hasIndexes && fs.existsSync(`${stem}.timeindex`) ? rawTimeIndex(`${stem}.timeindex`, 0) : [];
      for (const e of offsetEntries) {
        const atPosition = batches.find((b) => b.position === e.position)!;
        expect(atPosition.lastOffset).toBe(e.offset);
        expect(log.readBatches(e.offset, { maxBytes: 1 }).readBigInt64BE(0)).toBe(BigInt(atPosition.baseOffset));
      }
      for (const e of timeEntries) {
        const found = log.offsetForTimestamp(e.timestamp)!;
        const holding = batches.find((b) => b.lastOffset === e.offset)!;
        // The first record at or after T lies in the batch that first reached T.
        expect(found).toBeGreaterThanOrEqual(holding.baseOffset);
        expect(found).toBeLessThanOrEqual(e.offset);
      }
      const foo = dir.endsWith('foo-0') ? log.read(log.startOffset) : [];
      if (dir.endsWith('510714e/kraft-combined-logs/foo-0')) expect(foo.map((r) => r.value!.toString())).toEqual(['Hello World!']);
      if (dir.endsWith('e856b9a/kraft-combined-logs/foo-0')) expect(foo.map((r) => r.value!.toString())).toEqual(['m1', 'm2', 'm3']);
      log.close();
    });
  });
});
