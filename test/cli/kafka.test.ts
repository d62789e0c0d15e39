/**
 * The built `seglog` command on bytes seglog did not write: batches from kafkajs's own record-batch
 * encoder (an independent implementation of Kafka's format), and partition directories written by
 * real Apache Kafka brokers (../shared/kafka-fixtures, see its README).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { ensureBuilt, fixturesDir, fixturesExist, repoRoot, segmentFile, seglog, seglogJson, seglogLines, suiteTmpDir } from './helpers.js';

beforeAll(() => ensureBuilt(), 300_000);

// ---------------------------------------------------------------------------------------------
// kafkajs's encoder (CommonJS)

const require = createRequire(import.meta.url);
const kafkajs = path.join(repoRoot, 'node_modules/kafkajs/src/protocol');
const { RecordBatch } = require(path.join(kafkajs, 'recordBatch/v0/index.js')) as {
  RecordBatch: (options: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = require(path.join(kafkajs, 'recordBatch/record/v0/index.js')) as (options: Record<string, unknown>) => unknown;
const Long = require(path.join(repoRoot, 'node_modules/kafkajs/src/utils/long.js')) as { fromValue(v: number): unknown };

interface Input {
  key: string | null;
  value: string | null;
  timestamp: number;
  headers: Record<string, string>;
}

const T0 = Date.parse('2025-03-01T12:00:00Z');

function inputsOf(batch: number, count: number): Input[] {
  return Array.from({ length: count }, (_, j): Input => ({
    key: j % 4 === 3 ? null : `user-${batch}-${j}`,
    value: j % 5 === 4 ? null : `{"batch":${batch},"n":${j},"text":"héllo ✓"}`,
    timestamp: T0 + batch * 1000 + j * 7,
    headers: j % 2 === 0 ? { source: 'kafkajs', seq: String(j) } : ({} as Record<string, string>),
  }));
}

/** One batch as kafkajs encodes it, with `baseOffset` assigned as a broker would. */
async function kafkajsBatch(baseOffset: number, inputs: Input[], gzip: boolean): Promise<Buffer> {
  const first = inputs[0]!.timestamp;
  const records = inputs.map((r, i) =>
    Record({ offsetDelta: i, timestampDelta: r.timestamp - first, key: r.key, value: r.value, headers: r.headers }),
  );
  const encoded = await RecordBatch({
    compression: gzip ? 1 : 0,
    firstOffset: Long.fromValue(baseOffset),
    firstTimestamp: first,
    maxTimestamp: Math.max(...inputs.map((r) => r.timestamp)),
    partitionLeaderEpoch: 3,
    lastOffsetDelta: inputs.length - 1,
    records,
  });
  return encoded.buffer;
}

describe('a partition whose batches come from kafkajs', () => {
  let dir: string;
  const expected: (Input & { offset: number })[] = [];
  const batchPositions: { file: string; position: number; baseOffset: number }[] = [];
  const SEGMENT_BASES = [0, 40];

  beforeAll(async () => {
    dir = path.join(suiteTmpDir(), 'kafkajs-0');
    fs.mkdirSync(dir);
    let offset = 0;
    let batch = 0;
    for (const [s, base] of SEGMENT_BASES.entries()) {
      const end = SEGMENT_BASES[s + 1] ?? 80;
      const parts: Buffer[] = [];
      let position = 0;
      while (offset < end) {
        const count = Math.min(end - offset, 3 + (batch % 5));
        const inputs = inputsOf(batch, count);
        const bytes = await kafkajsBatch(offset, inputs, batch % 2 === 1);
        batchPositions.push({ file: segmentFile(dir, base, '.log'), position, baseOffset: offset });
        inputs.forEach((r, i) => expected.push({ ...r, offset: offset + i }));
        parts.push(bytes);
        position += bytes.length;
        offset += count;
        batch++;
      }
      fs.writeFileSync(segmentFile(dir, base, '.log'), Buffer.concat(parts));
    }
  });

  it('verify accepts every batch (CRC, framing, offsets across segments) and every record', () => {
    const { status, doc } = seglogJson<{ ok: boolean; problems: { kind: string; severity: string }[]; totals: { batches: number; records: number; segments: number } }>(['verify', dir, '--deep']);
    expect(doc.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(status).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.totals).toMatchObject({ segments: 2, batches: batchPositions.length, records: 80 });
    // The sealed segment has no index files: a warning (Kafka rebuilds them), not an error.
    expect(doc.problems.map((p) => p.kind).sort()).toEqual(['index-missing', 'timeindex-missing']);
  });

  it('dump --records shows exactly what kafkajs encoded', () => {
    const { status, lines } = seglogLines(['dump', dir, '--records', '--value-format', 'utf8', '--key-format', 'utf8']);
    expect(status).toBe(0);
    const batches = lines.filter((l) => l['type'] === 'batch');
    expect(batches.map((b) => [b['file'], b['position'], b['baseOffset']])).toEqual(batchPositions.map((b) => [b.file, b.position, b.baseOffset]));
    expect(batches.every((b) => b['crcValid'] === true && b['partitionLeaderEpoch'] === 3)).toBe(true);
    expect(new Set(batches.map((b) => b['compression']))).toEqual(new Set(['none', 'gzip']));
    const records = lines.filter((l) => l['type'] === 'record');
    expect(
      records.map((r) => ({
        offset: r['offset'],
        key: r['key'],
        value: r['value'],
        timestamp: r['timestamp'],
        headers: Object.fromEntries((r['headers'] as { key: string; value: string }[]).map((h) => [h.key, h.value])),
      })),
    ).toEqual(expected.map((e) => ({ offset: e.offset, key: e.key, value: e.value, timestamp: e.timestamp, headers: e.headers })));
  });

  it('segments counts the records and batches of each segment', () => {
    const { status, doc } = seglogJson<{ endOffset: number; records: number; segments: { baseOffset: number; endOffset: number; records: number; indexEntries: number | null }[] }>(['segments', dir]);
    expect(status).toBe(0);
    expect(doc.endOffset).toBe(80);
    expect(doc.records).toBe(80);
    expect(doc.segments.map((s) => [s.baseOffset, s.endOffset, s.records, s.indexEntries])).toEqual([
      [0, 40, 40, null],
      [40, 80, 40, null],
    ]);
  });

  it('tail reads it through the Log API', () => {
    const { status, lines } = seglogLines(['tail', dir, '-n', '2', '--value-format', 'utf8']);
    expect(status).toBe(0);
    expect(lines.map((l) => [l['offset'], l['value']])).toEqual(expected.slice(-2).map((e) => [e.offset, e.value]));
  });
});

// ---------------------------------------------------------------------------------------------
// Real Kafka brokers

const CI = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';

/** The fixture partitions, or null (logged; a failure only in CI) when they are not on this machine. */
function fixture(commit: string, partition: string): string | null {
  if (!fixturesExist) {
    const message = `Kafka fixtures not found at ${fixturesDir}`;
    if (CI) throw new Error(`${message} (required in CI)`);
    console.warn(`${message}: the Kafka fixture checks have nothing to check here`);
    return null;
  }
  return path.join(fixturesDir, 'kafka-tester', commit, 'kraft-combined-logs', partition);
}

describe('partition directories written by Apache Kafka', () => {
  for (const commit of ['510714e', 'e856b9a', '5d71ee8']) {
    for (const partition of ['__cluster_metadata-0', 'foo-0']) {
      it(`verify passes on ${commit}/${partition}`, () => {
        const dir = fixture(commit, partition);
        if (dir === null) return;
        const { status, doc } = seglogJson<{ ok: boolean; problems: unknown[]; totals: { batches: number } }>(['verify', dir, '--deep']);
        expect(doc.problems).toEqual([]);
        expect(status).toBe(0);
        expect(doc.totals.batches).toBeGreaterThan(0);
      });
    }
  }

  it('dump of the metadata log shows its control batch and binary records', () => {
    const dir = fixture('510714e', '__cluster_metadata-0');
    if (dir === null) return;
    const { status, lines } = seglogLines(['dump', dir, '--records', '--limit', '2']);
    expect(status).toBe(0);
    const [segment, batch, record] = lines;
    expect(segment).toMatchObject({ type: 'segment', baseOffset: 0, bytes: 9333 });
    expect(batch).toMatchObject({ type: 'batch', baseOffset: 0, position: 0, isControl: true, crcValid: true, partitionLeaderEpoch: 1 });
    expect(record).toMatchObject({ type: 'record', offset: 0, controlType: 'LEADER_CHANGE' });
    const binary = lines.filter((l) => l['type'] === 'record')[1]!;
    expect(binary['valueEncoding']).toBe('base64');
  });

  it('dump of the broker-written indexes matches their bytes, every entry checked', () => {
    const dir = fixture('510714e', '__cluster_metadata-0');
    if (dir === null) return;
    const index = seglogLines(['dump', segmentFile(dir, 0, '.index')]);
    expect(index.status).toBe(0);
    expect(index.lines.filter((l) => l['type'] === 'indexEntry').map((e) => [e['offset'], e['position'], e['ok']])).toEqual([
      [57, 4154, true],
      [114, 8258, true],
    ]);
    const time = seglogLines(['dump', segmentFile(dir, 0, '.timeindex')]);
    expect(time.status).toBe(0);
    expect(time.lines.filter((l) => l['type'] === 'timeIndexEntry').map((e) => [e['timestamp'], e['offset'], e['ok']])).toEqual([
      [1726045967500, 57, true],
      [1726045996206, 114, true],
      [1726046001742, 128, true],
    ]);
  });

  it('segments reads the clean-shutdown mark and checkpoints from the broker log dir', () => {
    const dir = fixture('510714e', 'foo-0');
    if (dir === null) return;
    const { status, doc } = seglogJson<{ cleanShutdown: boolean; endOffset: number; segments: { records: number; state: string; timeIndexEntries: number }[] }>(['segments', dir]);
    expect(status).toBe(0);
    expect(doc.cleanShutdown).toBe(true);
    expect(doc.endOffset).toBe(1);
    expect(doc.segments).toEqual([expect.objectContaining({ records: 1, state: 'active', timeIndexEntries: 1 })]);
    const text = seglog(['dump', dir, '--records']);
    expect(text.stdout).toContain('Hello World!');
  });
});
