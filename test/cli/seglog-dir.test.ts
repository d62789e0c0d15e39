/**
 * The built `seglog` command on partition directories written by seglog's `Log`: listing,
 * dumping, verifying (clean, then with a corrupted batch and stale indexes), usage errors.
 * Expectations come from the writer's own results and from an independent reading of the bytes
 * (test/support/raw-log.ts), never from the code under test.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { Log, type RecordInput } from '../../src/index.js';
import { rawBatches, rawOffsetIndex, rawTimeIndex } from '../support/raw-log.js';
import { CLI, DIST, copyDir, suiteTmpDir, ensureBuilt, flipByte, patch, repoRoot, segmentFile, seglog, seglogJson, seglogLines, tmpDir } from './helpers.js';

const START = Date.parse('2026-11-24T08:00:00Z');
const BATCHES = 120;
const PER_BATCH = 5;

function input(i: number): RecordInput & { key: string; value: string; timestamp: number } {
  return {
    key: `sensor-${i % 7}`,
    value: JSON.stringify({ i, celsius: 20 + (i % 13) / 10 }),
    timestamp: START + i * 10,
    headers: { n: String(i) },
  };
}

/** A closed partition of several segments; returns the segments as the writer reported them. */
function writePartition(dir: string): ReturnType<Log['segments']> {
  const log = Log.open(dir, { segmentBytes: 8 * 1024, indexIntervalBytes: 256 });
  for (let b = 0; b < BATCHES; b++) {
    const records = Array.from({ length: PER_BATCH }, (_, j) => input(b * PER_BATCH + j));
    log.append(records, { compression: b % 3 === 2 ? 'gzip' : 'none' });
  }
  const segments = log.segments();
  log.close();
  return segments;
}

interface SegmentsDoc {
  startOffset: number;
  endOffset: number;
  bytes: number;
  records: number;
  batches: number;
  cleanShutdown: boolean;
  writerLive: boolean;
  writerPid: number | null;
  segments: {
    baseOffset: number;
    endOffset: number;
    records: number;
    batches: number;
    bytes: number;
    firstTimestamp: number;
    maxTimestamp: number;
    maxTime: string;
    indexEntries: number | null;
    timeIndexEntries: number | null;
    state: string;
    needsRecovery: boolean;
    damaged: boolean;
  }[];
}

interface VerifyDoc {
  ok: boolean;
  errors: number;
  warnings: number;
  problems: { severity: string; kind: string; file: string; position: number | null; message: string; entry?: number }[];
  totals: { segments: number; batches: number; records: number; bytes: number; indexEntries: number; timeIndexEntries: number };
}

beforeAll(() => ensureBuilt(), 300_000);

describe('seglog on a directory written by seglog', () => {
  let dir: string;
  let written: ReturnType<Log['segments']>;

  beforeAll(() => {
    dir = path.join(suiteTmpDir(), 'sensors-0');
    written = writePartition(dir);
    expect(written.length).toBeGreaterThanOrEqual(4);
  });

  it('segments --json lists every segment with offsets, sizes, counts and states', () => {
    const { status, doc } = seglogJson<SegmentsDoc>(['segments', dir]);
    expect(status).toBe(0);
    expect(doc.segments.map((s) => [s.baseOffset, s.endOffset, s.bytes])).toEqual(written.map((s) => [s.baseOffset, s.endOffset, s.sizeBytes]));
    expect(doc.segments.map((s) => s.maxTimestamp)).toEqual(written.map((s) => s.maxTimestamp));
    expect(doc.segments.map((s) => s.state)).toEqual([...written.slice(1).map(() => 'sealed'), 'active']);
    expect(doc.segments.every((s) => !s.needsRecovery && !s.damaged)).toBe(true);
    expect(doc.startOffset).toBe(0);
    expect(doc.endOffset).toBe(BATCHES * PER_BATCH);
    expect(doc.records).toBe(BATCHES * PER_BATCH);
    expect(doc.batches).toBe(BATCHES);
    expect(doc.bytes).toBe(written.reduce((n, s) => n + s.sizeBytes, 0));
    expect(doc.cleanShutdown).toBe(true);
    expect(doc.writerLive).toBe(false);
    for (const s of doc.segments) {
      const log = segmentFile(dir, s.baseOffset, '.log');
      expect(s.batches).toBe(rawBatches(log).length);
      expect(s.indexEntries).toBe(rawOffsetIndex(segmentFile(dir, s.baseOffset, '.index'), s.baseOffset).length);
      expect(s.timeIndexEntries).toBe(rawTimeIndex(segmentFile(dir, s.baseOffset, '.timeindex'), s.baseOffset).length);
      expect(s.maxTime).toBe(new Date(s.maxTimestamp).toISOString());
      expect(s.firstTimestamp).toBe(input(s.baseOffset).timestamp);
    }
  });

  it('segments prints a table, totals and a picture', () => {
    const r = seglog(['segments', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/BASE\s+END\s+RECORDS\s+BATCHES\s+SIZE\s+FIRST TIMESTAMP\s+MAX TIMESTAMP/);
    expect(r.stdout).toContain(`Total: start offset 0, end offset ${BATCHES * PER_BATCH}`);
    expect(r.stdout).toContain('2026-11-24T08:00:00.000Z');
    expect(r.stdout).toContain('█');
    expect(r.stdout).not.toContain('\u001b['); // NO_COLOR and not a terminal
  });

  it('verify --json passes and counts every batch and index entry', () => {
    const { status, doc } = seglogJson<VerifyDoc>(['verify', dir, '--deep']);
    expect(doc.problems).toEqual([]);
    expect(status).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.totals.batches).toBe(BATCHES);
    expect(doc.totals.records).toBe(BATCHES * PER_BATCH);
    expect(doc.totals.segments).toBe(written.length);
    const indexEntries = written.reduce((n, s) => n + rawOffsetIndex(segmentFile(dir, s.baseOffset, '.index'), s.baseOffset).length, 0);
    expect(doc.totals.indexEntries).toBe(indexEntries);
    expect(indexEntries).toBeGreaterThan(written.length);
  });

  it('verify prints a one-line verdict', () => {
    const r = seglog(['verify', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('✓ OK: no problems');
  });

  it('dump --records --from --limit prints the records from that offset', () => {
    const from = 123;
    const { status, lines } = seglogLines(['dump', dir, '--records', '--from', String(from), '--limit', '4']);
    expect(status).toBe(0);
    const records = lines.filter((l) => l['type'] === 'record');
    expect(records.map((r) => r['offset'])).toEqual([123, 124, 125, 126]);
    for (const r of records) {
      const expected = input(r['offset'] as number);
      expect(r['key']).toBe(expected.key);
      expect(r['value']).toBe(expected.value);
      expect(r['timestamp']).toBe(expected.timestamp);
      expect(r['headers']).toEqual([{ key: 'n', value: String(r['offset']) }]);
    }
    const batches = lines.filter((l) => l['type'] === 'batch');
    expect(batches[0]).toMatchObject({ baseOffset: 120, lastOffset: 124, count: 5, crcValid: true });
  });

  it('dump --value-format json embeds parsed values; hex and base64 encode them', () => {
    const json = seglogLines(['dump', dir, '--records', '--from', '7', '-n', '1', '--value-format', 'json']).lines.find((l) => l['type'] === 'record')!;
    expect(json['value']).toEqual(JSON.parse(input(7).value));
    const hex = seglogLines(['dump', dir, '--records', '--from', '7', '-n', '1', '--value-format', 'hex']).lines.find((l) => l['type'] === 'record')!;
    expect(hex['value']).toBe(Buffer.from(input(7).value).toString('hex'));
    const b64 = seglogLines(['dump', dir, '--records', '--from', '7', '-n', '1', '--value-format', 'base64']).lines.find((l) => l['type'] === 'record')!;
    expect(b64['value']).toBe(Buffer.from(input(7).value).toString('base64'));
  });

  it('dump --from-time seeks as offsetForTimestamp does', () => {
    const when = START + 3337;
    const log = Log.open(dir, { readOnly: true });
    const expected = log.offsetForTimestamp(when);
    log.close();
    const { lines } = seglogLines(['dump', dir, '--records', '--from-time', new Date(when).toISOString(), '-n', '1']);
    expect(lines.filter((l) => l['type'] === 'record').map((r) => r['offset'])).toEqual([expected]);
  });

  it('dump of a partition lists every batch at its byte position', () => {
    const { status, lines } = seglogLines(['dump', dir]);
    expect(status).toBe(0);
    const batches = lines.filter((l) => l['type'] === 'batch');
    const raw = written.flatMap((s) => rawBatches(segmentFile(dir, s.baseOffset, '.log')).map((b) => ({ ...b, file: segmentFile(dir, s.baseOffset, '.log') })));
    expect(batches.map((b) => [b['file'], b['position'], b['size'], b['baseOffset'], b['lastOffset'], b['maxTimestamp']])).toEqual(
      raw.map((b) => [b.file, b.position, b.size, b.baseOffset, b.lastOffset, b.maxTimestamp]),
    );
    expect(new Set(batches.map((b) => b['compression']))).toEqual(new Set(['none', 'gzip']));
    expect(batches.every((b) => b['crcValid'] === true)).toBe(true);
  });

  it('dump of an .index and a .timeindex prints their entries, each checked', () => {
    const base = written[1]!.baseOffset;
    const index = seglogLines(['dump', segmentFile(dir, base, '.index')]);
    expect(index.status).toBe(0);
    const entries = index.lines.filter((l) => l['type'] === 'indexEntry');
    expect(entries.map((e) => [e['offset'], e['position']])).toEqual(rawOffsetIndex(segmentFile(dir, base, '.index'), base).map((e) => [e.offset, e.position]));
    expect(entries.every((e) => e['ok'] === true)).toBe(true);
    const time = seglogLines(['dump', segmentFile(dir, base, '.timeindex')]);
    expect(time.status).toBe(0);
    const timeEntries = time.lines.filter((l) => l['type'] === 'timeIndexEntry');
    expect(timeEntries.map((e) => [e['timestamp'], e['offset']])).toEqual(rawTimeIndex(segmentFile(dir, base, '.timeindex'), base).map((e) => [e.timestamp, e.offset]));
  });

  it('tail -n prints the last records, oldest first', () => {
    const { status, lines } = seglogLines(['tail', dir, '-n', '3']);
    expect(status).toBe(0);
    const end = BATCHES * PER_BATCH;
    expect(lines.map((l) => l['offset'])).toEqual([end - 3, end - 2, end - 1]);
    expect(lines.map((l) => l['value'])).toEqual([end - 3, end - 2, end - 1].map((i) => input(i).value));
    const text = seglog(['tail', dir, '-n', '1']);
    expect(text.stdout).toContain(`offset ${end - 1}`);
    expect(text.stdout).toContain(input(end - 1).value);
  });

  it('never changes the directory', () => {
    const before = snapshot(dir);
    seglog(['segments', dir]);
    seglog(['verify', dir]);
    seglog(['dump', dir, '--records']);
    seglog(['tail', dir]);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('verify finds damage and names the file and byte position', () => {
  let pristine: string;
  let written: ReturnType<Log['segments']>;

  beforeAll(() => {
    pristine = path.join(suiteTmpDir(), 'pristine-0');
    written = writePartition(pristine);
  });

  function damagedCopy(): string {
    return copyDir(pristine, path.join(tmpDir(), 'damaged-0'));
  }

  it('a flipped byte inside a batch: crc-mismatch at that batch, exit 1; dump shows it invalid', () => {
    const dir = damagedCopy();
    const base = written[1]!.baseOffset;
    const log = segmentFile(dir, base, '.log');
    const victim = rawBatches(log)[2]!;
    flipByte(log, victim.position + victim.size - 3);
    const { status, doc } = seglogJson<VerifyDoc>(['verify', dir]);
    expect(status).toBe(1);
    expect(doc.ok).toBe(false);
    expect(doc.problems).toEqual([expect.objectContaining({ severity: 'error', kind: 'crc-mismatch', file: log, position: victim.position })]);
    // Human output: the same, in one line naming the file and the position.
    const text = seglog(['verify', dir]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`${log} at byte ${victim.position}: CRC mismatch`);
    // dump goes on past the bad batch and flags it.
    const dump = seglogLines(['dump', log]);
    expect(dump.status).toBe(1);
    const batches = dump.lines.filter((l) => l['type'] === 'batch');
    expect(batches).toHaveLength(rawBatches(log).length);
    expect(batches.filter((b) => b['crcValid'] === false).map((b) => b['position'])).toEqual([victim.position]);
  });

  it('a stale offset-index entry (pointing at another batch) is caught', () => {
    const dir = damagedCopy();
    const base = written[0]!.baseOffset;
    const index = segmentFile(dir, base, '.index');
    const entries = rawOffsetIndex(index, base);
    expect(entries.length).toBeGreaterThanOrEqual(2);
    const batches = rawBatches(segmentFile(dir, base, '.log'));
    // Entry 1 now points at the batch before the one it names.
    const wrong = batches.findIndex((b) => b.position === entries[1]!.position) - 1;
    patch(index, 8 + 4, int32(batches[wrong]!.position));
    const { status, doc } = seglogJson<VerifyDoc>(['verify', dir]);
    expect(status).toBe(1);
    expect(doc.problems).toContainEqual(expect.objectContaining({ kind: 'index-mismatch', file: index, position: 8, entry: 1 }));
    // dump of the index marks that entry.
    const dump = seglogLines(['dump', index]);
    expect(dump.status).toBe(1);
    const marked = dump.lines.filter((l) => l['type'] === 'indexEntry' && l['ok'] === false);
    expect(marked.map((l) => l['entry'])).toEqual([1]);
  });

  it('an index entry in the middle of a batch, one past the log, and an untrimmed index', () => {
    const dir = damagedCopy();
    const base = written[0]!.baseOffset;
    const index = segmentFile(dir, base, '.index');
    const entries = rawOffsetIndex(index, base);
    const last = entries.length - 1;
    patch(index, 4, int32(entries[0]!.position + 1));
    patch(index, last * 8 + 4, int32(written[0]!.sizeBytes + 100));
    fs.appendFileSync(index, Buffer.alloc(8 * 5));
    const { status, doc } = seglogJson<VerifyDoc>(['verify', dir]);
    expect(status).toBe(1);
    const kinds = doc.problems.map((p) => [p.kind, p.file, p.position]);
    expect(kinds).toContainEqual(['index-not-batch-start', index, 0]);
    expect(kinds).toContainEqual(['index-past-log', index, last * 8]);
    expect(kinds).toContainEqual(['index-untrimmed', index, entries.length * 8]);
  });

  it('a stale time-index entry (wrong timestamp, or an offset that ends no batch)', () => {
    const dir = damagedCopy();
    const base = written[2]!.baseOffset;
    const timeindex = segmentFile(dir, base, '.timeindex');
    const entries = rawTimeIndex(timeindex, base);
    expect(entries.length).toBeGreaterThanOrEqual(3);
    // Entry 0: a timestamp one ms later than the batch's max (still increasing).
    patch(timeindex, 0, int64(entries[0]!.timestamp + 1));
    // Entry 1: an offset inside a batch rather than its last.
    patch(timeindex, 12 + 8, int32(entries[1]!.offset - 1 - base));
    const { status, doc } = seglogJson<VerifyDoc>(['verify', dir]);
    expect(status).toBe(1);
    const kinds = doc.problems.map((p) => [p.kind, p.file, p.position]);
    expect(kinds).toContainEqual(['timeindex-mismatch', timeindex, 0]);
    expect(kinds).toContainEqual(['timeindex-not-batch-end', timeindex, 12]);
  });

  it('broken framing: reported at its position, the scan resumes at the next batch', () => {
    const dir = damagedCopy();
    const base = written[1]!.baseOffset;
    const log = segmentFile(dir, base, '.log');
    const batches = rawBatches(log);
    patch(log, batches[1]!.position + 8, int32(3)); // size field of the second batch
    const { status, doc } = seglogJson<VerifyDoc>(['verify', dir]);
    expect(status).toBe(1);
    expect(doc.problems).toContainEqual(expect.objectContaining({ kind: 'bad-framing', file: log, position: batches[1]!.position }));
    expect(doc.totals.batches).toBe(BATCHES - 1);
    const { doc: segs, status: segStatus } = seglogJson<SegmentsDoc>(['segments', dir]);
    expect(segStatus).toBe(1);
    expect(segs.segments.find((s) => s.baseOffset === base)!.damaged).toBe(true);
  });

  it('offsets that go backwards across segments', () => {
    const dir = damagedCopy();
    const base = written[2]!.baseOffset;
    const log = segmentFile(dir, base, '.log');
    // The first batch of segment 2 claims the base offset of segment 1's last batch (outside the CRC).
    const previousLast = rawBatches(segmentFile(dir, written[1]!.baseOffset, '.log')).at(-1)!;
    patch(log, 0, int64(previousLast.baseOffset));
    const { doc } = seglogJson<VerifyDoc>(['verify', dir]);
    expect(doc.problems).toContainEqual(expect.objectContaining({ kind: 'offset-order', file: log, position: 0 }));
  });

  it('a torn last batch of the active segment', () => {
    const dir = damagedCopy();
    const active = written.at(-1)!;
    const log = segmentFile(dir, active.baseOffset, '.log');
    const last = rawBatches(log).at(-1)!;
    fs.truncateSync(log, last.position + 30);
    const { status, doc } = seglogJson<VerifyDoc>(['verify', dir]);
    expect(status).toBe(1);
    expect(doc.problems).toContainEqual(expect.objectContaining({ kind: 'torn-tail', file: log, position: last.position }));
  });
});

describe('the state of a directory', () => {
  it('shows a live writer (by its lock) and, after a crash, the segments that need recovery', () => {
    const dir = path.join(tmpDir(), 'live-0');
    const log = Log.open(dir, { segmentBytes: 4096 });
    for (let i = 0; i < 40; i++) log.append([input(i)]);
    const live = seglogJson<SegmentsDoc>(['segments', dir]).doc;
    if (fs.existsSync('/proc/locks')) expect(live.writerLive).toBe(true);
    expect(live.segments.some((s) => s.needsRecovery)).toBe(false);
    // The active segment's indexes are preallocated while a writer has them: not a problem.
    const verifyLive = seglogJson<VerifyDoc>(['verify', dir]);
    expect(verifyLive.doc.problems.filter((p) => p.severity === 'error')).toEqual([]);
    log.close();

    // A writer that dies without closing: no clean-shutdown mark.
    const crashDir = path.join(tmpDir(), 'crashed-0');
    const script = `import { Log } from ${JSON.stringify(path.join(DIST, 'index.js'))};
      const log = Log.open(${JSON.stringify(crashDir)}, { segmentBytes: 4096 });
      for (let i = 0; i < 40; i++) log.append({ value: 'v' + i, timestamp: ${START} + i });
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const crashed = seglogJson<SegmentsDoc>(['segments', crashDir]).doc;
    expect(crashed.cleanShutdown).toBe(false);
    expect(crashed.writerLive).toBe(false);
    expect(crashed.segments.at(-1)!.needsRecovery).toBe(true);
    const text = seglog(['segments', crashDir]).stdout;
    expect(text).toContain('needs recovery');
  });
});

describe('errors are one line, with exit code 2, never a stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    ['a missing directory', ['verify', '/nonexistent/seglog-test-0'], /seglog verify: \/nonexistent\/seglog-test-0: no such file or directory/],
    ['a missing file', ['dump', '/nonexistent/00000000000000000000.log'], /no such file or directory/],
    ['a file that is not a segment', ['dump', path.join(repoRoot, 'package.json')], /is not a segment file/],
    ['a directory with no segments', ['segments', path.join(repoRoot, 'src')], /is not a partition directory/],
    ['an unknown option', ['dump', '.', '--bogus'], /unknown option --bogus/],
    ['a bad number', ['dump', '.', '--limit', 'ten'], /--limit must be an integer/],
    ['a bad time', ['dump', '.', '--from-time', 'noon'], /--from-time must be an ISO 8601 time/],
    ['a bad value format', ['dump', '.', '--value-format', 'yaml'], /--value-format must be one of auto, utf8, json, hex, base64/],
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['a missing argument', ['verify'], /missing partition directory/],
  ];
  for (const [what, args, message] of cases) {
    it(what, () => {
      const r = seglog(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    });
  }

  it('a partition directory given as its parent names the partitions inside', () => {
    const parent = tmpDir();
    writePartition(path.join(parent, 'orders-0'));
    const r = seglog(['segments', parent]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('orders-0');
  });

  it('--help of every command shows usage and examples, exit 0', () => {
    for (const command of ['segments', 'dump', 'verify', 'tail']) {
      const r = seglog([command, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: seglog ${command}`);
      expect(r.stdout).toContain('Examples:');
      expect(r.stdout).toContain('--json');
    }
    const top = seglog(['--help']);
    expect(top.status).toBe(0);
    for (const command of ['segments', 'dump', 'verify', 'tail']) expect(top.stdout).toContain(command);
  });

  it('the built file is an executable script', () => {
    expect(fs.readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

function snapshot(dir: string): [string, number, number][] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((n) => {
      const s = fs.statSync(path.join(dir, n));
      return [n, s.size, s.mtimeMs];
    });
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

function int64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(v));
  return b;
}
