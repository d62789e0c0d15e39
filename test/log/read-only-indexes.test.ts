/**
 * A read-only opener of a directory whose index files are missing or unusable builds what it
 * needs in memory and answers `read` and `offsetForTimestamp` exactly as a writer does (the writer
 * rebuilds the files on open, as Kafka's loader does). It writes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { fixturesDir, fixturesExist, tmpDir } from '../support/tmp.js';

const T0 = 1_700_000_000_000;

function listing(dir: string): string[] {
  return fs.readdirSync(dir).sort().map((name) => `${name}:${fs.statSync(path.join(dir, name)).size}`);
}

function copyDir(from: string): string {
  const to = path.join(tmpDir(), path.basename(from));
  fs.cpSync(from, to, { recursive: true });
  for (const name of fs.readdirSync(to)) fs.chmodSync(path.join(to, name), 0o644);
  fs.chmodSync(to, 0o755);
  return to;
}

/** Every record and the answer to `offsetForTimestamp` around every record timestamp, from both openers. */
function compareWithWriter(dir: string, withoutIndexes = false): { records: number } {
  const before = listing(dir);
  const reader = Log.open(dir, { readOnly: true });
  const copy = copyDir(dir);
  if (withoutIndexes) for (const name of fs.readdirSync(copy)) if (/\.(time)?index$/.test(name)) fs.rmSync(path.join(copy, name));
  const writer = Log.open(copy);
  try {
    expect(reader.startOffset).toBe(writer.startOffset);
    expect(reader.endOffset).toBe(writer.endOffset);
    const all = writer.read(writer.startOffset, { maxBytes: 1 << 30 });
    expect(reader.read(reader.startOffset, { maxBytes: 1 << 30 })).toEqual(all);
    const stamps = new Set<number>([0, Number.MAX_SAFE_INTEGER]);
    // Every record of a small log; a sample of a larger one (each lookup runs on both openers).
    const step = all.length > 300 ? 7 : 1;
    for (let i = 0; i < all.length; i += step) for (const d of [-1, 0, 1]) stamps.add(all[i]!.timestamp + d);
    for (const t of stamps) expect([t, reader.offsetForTimestamp(t)]).toEqual([t, writer.offsetForTimestamp(t)]);
    for (let i = 0; i < all.length; i += step) {
      const offset = all[i]!.offset;
      expect(reader.read(offset, { maxRecords: 1 })).toEqual(writer.read(offset, { maxRecords: 1 }));
    }
    return { records: all.length };
  } finally {
    reader.close();
    writer.close();
    // The read-only opener wrote nothing.
    expect(listing(dir)).toEqual(before);
  }
}

/** A log of several segments with timestamps that go up and down, written and closed by seglog. */
function writtenLog(): string {
  const dir = path.join(tmpDir(), 'events-0');
  const log = Log.open(dir, { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 });
  let state = 7;
  for (let i = 0; i < 3000; i += 10) {
    const batch = [];
    for (let j = 0; j < 10; j++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      batch.push({ key: `k${i + j}`, value: `value ${i + j} `.repeat(5), timestamp: T0 + (i + j) * 100 + (state % 5000) - 2500 });
    }
    log.append(batch);
  }
  expect(log.segments().length).toBeGreaterThan(3);
  log.close();
  return dir;
}

describe('read-only open of a directory without usable indexes', () => {
  it.runIf(fixturesExist)("answers like a writer on Kafka's kafka-tester 5d71ee8 directories (no index files)", () => {
    for (const name of ['foo-0', '__cluster_metadata-0']) {
      const dir = path.join(fixturesDir, 'kafka-tester', '5d71ee8', 'kraft-combined-logs', name);
      expect(fs.readdirSync(dir).some((n) => n.endsWith('.index'))).toBe(false);
      expect(compareWithWriter(dir).records).toBeGreaterThan(0);
    }
  });

  it('answers like a writer when every index file is missing', () => {
    const dir = writtenLog();
    for (const name of fs.readdirSync(dir)) if (name.endsWith('.index') || name.endsWith('.timeindex')) fs.rmSync(path.join(dir, name));
    expect(compareWithWriter(dir).records).toBe(3000);
  });

  it('answers like a writer when only the time indexes are missing', () => {
    const dir = writtenLog();
    for (const name of fs.readdirSync(dir)) if (name.endsWith('.timeindex')) fs.rmSync(path.join(dir, name));
    expect(compareWithWriter(dir).records).toBe(3000);
  });

  it('answers like a writer that rebuilt them when the offset indexes point at the wrong bytes', () => {
    const dir = writtenLog();
    for (const name of fs.readdirSync(dir)) {
      if (!name.endsWith('.index')) continue;
      const file = path.join(dir, name);
      const bytes = fs.readFileSync(file);
      // Every position moved by 3 bytes: no entry names the start of a batch any more.
      for (let at = 4; at < bytes.length; at += 8) bytes.writeInt32BE(bytes.readInt32BE(at) + 3, at);
      fs.writeFileSync(file, bytes);
    }
    // The reference is a writer that rebuilt the indexes (a writer's cheap check at a clean open
    // looks at the last entry's range only, and would trust these).
    expect(compareWithWriter(dir, true).records).toBe(3000);
  });

  it('answers like a writer with intact indexes (the in-memory entries are the files\')', () => {
    expect(compareWithWriter(writtenLog()).records).toBe(3000);
  });
});

describe('a read-only opener next to a writer storing a time index entry', () => {
  // The writer stores a time index slot's value, then the two halves of its key (a timestamp). The
  // stress test's reader copied the first slot of the active segment's index between two of those
  // stores (key 0, or the high half only: 395 * 2^32 for T0 + offset) and took it as an entry
  // saying no record before that offset reaches any later timestamp: offsetForTimestamp answered
  // past records the log held.
  it('never answers past a record the log holds on a first slot the writer is still writing', () => {
    const dir = path.join(tmpDir(), 'torn-0');
    // One-record batches of about 70 bytes: one offset index entry, near offset 15.
    const writer = Log.open(dir, { indexIntervalBytes: 1000 });
    for (let o = 0; o < 20; o++) writer.append({ value: `v${o}`, timestamp: T0 + o });
    const timeIndex = path.join(dir, '00000000000000000000.timeindex');
    const fd = fs.openSync(timeIndex, 'r+');
    const high = Math.floor((T0 + 19) / 2 ** 32);
    for (const [keyHigh, keyLow] of [[0, 0], [high, 0]] as const) {
      const slot = Buffer.alloc(12);
      slot.writeInt32BE(keyHigh, 0);
      slot.writeUInt32BE(keyLow, 4);
      slot.writeInt32BE(19, 8);
      fs.writeSync(fd, slot, 0, 12, 0);
      const reader = Log.open(dir, { readOnly: true });
      // Taken, the slot sent every lookup to the offset index's entry at or below 19 (about 15).
      for (const o of [0, 5, 10, 19]) expect(reader.offsetForTimestamp(T0 + o)).toBe(o);
      reader.close();
    }
    fs.writeSync(fd, Buffer.alloc(12), 0, 12, 0);
    fs.closeSync(fd);
    writer.close();
  });
});
