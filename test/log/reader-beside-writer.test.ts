/**
 * A read-only opener next to a live writer in another process that appends, rolls, truncates,
 * deletes records and runs retention over tiny segments, in a loop. Every call of the reader must
 * either answer correctly (each record's value and timestamp name its offset) or, for an offset
 * the log no longer holds, throw `OffsetOutOfRangeError`: never another error, never a crash,
 * never a wrong record. Short by default; SEGLOG_STRESS_MS sets how long the writer runs.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, OffsetOutOfRangeError, type LogRecord } from '../../src/index.js';
import { ensureDist } from '../support/dist.js';
import { tmpDir } from '../support/tmp.js';

const T0 = 1_700_000_000_000;
const WRITER_MS = Number(process.env.SEGLOG_STRESS_MS ?? 4000);

interface Tally {
  calls: number;
  records: number;
  outOfRange: number;
}

function checkRecords(records: LogRecord[], from: number): void {
  if (records.length > 0) expect(records[0]!.offset).toBe(from);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (i > 0) expect(r.offset).toBe(records[i - 1]!.offset + 1);
    expect(r.value?.toString()).toBe(`v${r.offset}`);
    expect(r.timestamp).toBe(T0 + r.offset);
  }
}

/** One reader call at a random place of the view; returns false when the offset was out of range. */
function probe(reader: Log, tally: Tally): void {
  const start = reader.startOffset;
  const end = reader.endOffset;
  if (end <= start) return;
  const offset = start + Math.floor(Math.random() * (end - start));
  const kind = Math.random();
  tally.calls++;
  try {
    if (kind < 0.5) {
      const records = reader.read(offset, { maxRecords: 1 + Math.floor(Math.random() * 3) * 40 });
      checkRecords(records, offset);
      tally.records += records.length;
    } else if (kind < 0.7) {
      const bytes = reader.readBatches(offset, { maxBytes: 2048 });
      expect(bytes.length).toBeGreaterThanOrEqual(0);
    } else {
      const found = reader.offsetForTimestamp(T0 + offset);
      // The earliest offset with a timestamp >= T0 + offset is `offset` itself while it is held;
      // a later one only when the writer deleted `offset` meanwhile; none when it cut it off.
      if (found !== null && found !== offset) {
        expect(found).toBeGreaterThan(offset);
        expect(offset).toBeLessThan(reader.startOffset);
      }
    }
  } catch (err) {
    if (!(err instanceof OffsetOutOfRangeError)) throw err;
    tally.outOfRange++;
  }
}

describe('a read-only opener beside a live writer in another process', () => {
  it('never throws, never crashes and never returns a wrong record while the writer rolls, truncates and deletes', async () => {
    ensureDist();
    const dir = path.join(tmpDir(), 'churn-0');
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'churn-writer.child.mjs'), dir, String(WRITER_MS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let exited = false;
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => {
      exited = true;
      resolve(code);
    }));
    // Wait for the writer's first records.
    let reader: Log | null = null;
    while (reader === null && !exited) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        const log = Log.open(dir, { readOnly: true });
        if (log.endOffset > 0) reader = log;
        else log.close();
      } catch {
        // Not created yet.
      }
    }
    expect(reader).not.toBeNull();
    const tally: Tally = { calls: 0, records: 0, outOfRange: 0 };
    while (!exited) {
      for (let i = 0; i < 20; i++) probe(reader!, tally);
      await new Promise((r) => setImmediate(r));
    }
    const code = await done;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as { rolls: number; truncations: number; deletions: number; end: number };
    expect(summary.rolls).toBeGreaterThan(0);
    expect(summary.truncations).toBeGreaterThan(0);
    // After the writer stopped, the view agrees with what it left, record by record.
    expect(reader!.endOffset).toBe(summary.end);
    const start = reader!.startOffset;
    let at = start;
    while (at < summary.end) {
      const records = reader!.read(at, { maxRecords: 500 });
      checkRecords(records, at);
      at += records.length;
    }
    reader!.close();
    expect(tally.calls).toBeGreaterThan(50);
    expect(tally.records).toBeGreaterThan(0);
  }, 120_000);
});
