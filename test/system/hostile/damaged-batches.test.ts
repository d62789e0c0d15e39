import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, Log, isSeglogError, type LogRecord } from '../../../src/index.js';
import { seglog, seglogLines } from '../../cli/helpers.js';
import { batchPositions, closedLog, logFiles, partitionDir, rewriteBatch, runChild, setOffsetDeltas } from './helpers.js';

/**
 * Batches whose CRC is valid but whose offsets are not consistent (a writer bug, a hostile file, a
 * replayed batch). Readers return what comes before the damage and then a typed error, never
 * loop, never return an offset twice or backwards; a writer cuts the log at the damage.
 */

/** Every record a stream yields (at most `limit`), and how it ended. */
async function drain(log: Log, limit = 10_000): Promise<{ offsets: number[]; error: unknown }> {
  const offsets: number[] = [];
  try {
    for await (const r of log.stream({ maxBytes: 4096 })) {
      offsets.push(r.offset);
      if (offsets.length >= limit) break;
    }
    return { offsets, error: undefined };
  } catch (error) {
    return { offsets, error };
  }
}

function expectIncreasing(offsets: number[]): void {
  for (let i = 1; i < offsets.length; i++) expect(offsets[i]!, `offset after ${offsets[i - 1]}`).toBeGreaterThan(offsets[i - 1]!);
}

/**
 * What a crash before the first flush leaves: no clean-shutdown mark and no recovery point, so
 * the writer checks every batch (after a clean shutdown it checks only the active segment's tail,
 * as Kafka does; damage elsewhere is then found by the reads, as a bad CRC would be).
 */
function uncleanFromScratch(dir: string): void {
  fs.rmSync(path.join(dir, '.kafka_cleanshutdown'));
  fs.rmSync(path.join(dir, 'recovery-point-offset-checkpoint'));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe('records with duplicate or decreasing offset deltas', () => {
  it.each([
    ['duplicate', [0, 1, 1]],
    ['decreasing', [0, 2, 1]],
    ['past lastOffsetDelta', [0, 1, 3]],
  ])('are never returned (%s deltas): the records before come back, then CorruptRecordError', (_what, deltas) => {
    const dir = closedLog(partitionDir(), 4);
    rewriteBatch(logFiles(dir)[0]!, 1, (buf, at) => setOffsetDeltas(buf, at, deltas));
    for (const readOnly of [true, false]) {
      const log = Log.open(dir, { readOnly });
      expect(log.read(0, { maxBytes: 1 << 20 }).map((r) => r.offset)).toEqual([0, 1, 2]);
      expect(() => log.read(3)).toThrow(CorruptRecordError);
      // One record at a time: offsets only go up, and the walk ends with the typed error, or (when
      // the damage lies after the record each read asked for) skips what it never decoded.
      const seen: number[] = [];
      let thrown: unknown;
      try {
        for (let next = 0; next < log.endOffset; next = seen.at(-1)! + 1) seen.push(log.read(next, { maxRecords: 1 })[0]!.offset);
      } catch (err) {
        thrown = err;
      }
      expectIncreasing(seen);
      expect(thrown === undefined || thrown instanceof CorruptRecordError).toBe(true);
      log.close();
    }
  });
});

describe('a recovering writer and records whose offset deltas break the rules', () => {
  it.each([
    ['duplicate', [0, 1, 1]],
    ['decreasing', [0, 2, 1]],
    ['past lastOffsetDelta', [0, 1, 3]],
  ])('cuts the log at the batch (%s deltas), as at a bad CRC, and appends a fresh offset', (_what, deltas) => {
    const dir = closedLog(partitionDir(), 4);
    rewriteBatch(logFiles(dir)[0]!, 1, (buf, at) => setOffsetDeltas(buf, at, deltas));
    uncleanFromScratch(dir);
    const log = Log.open(dir);
    expect(log.recovery.actions.find((a) => a.action === 'truncated')?.detail).toMatch(/offset delta/);
    expect(log.endOffset).toBe(3);
    expect(log.append({ value: 'fresh' }).baseOffset).toBe(3);
    expect(log.read(0).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
    log.close();
  });
});

describe('a batch whose lastOffsetDelta is 0 with several records', () => {
  it('ends a stream with CorruptRecordError after the batches before it, without repeating any', async () => {
    const dir = closedLog(partitionDir(), 60);
    const file = logFiles(dir)[0]!;
    rewriteBatch(file, 20, (buf, at) => buf.writeInt32BE(0, at + 23));
    const log = Log.open(dir, { readOnly: true });
    const { offsets, error } = await drain(log);
    log.close();
    expectIncreasing(offsets);
    expect(offsets).toEqual(range(0, 60));
    expect(error).toBeInstanceOf(CorruptRecordError);
  });

  it('is cut off by a writer, which appends after the batches before it', () => {
    const dir = closedLog(partitionDir(), 60);
    rewriteBatch(logFiles(dir)[0]!, 20, (buf, at) => buf.writeInt32BE(0, at + 23));
    uncleanFromScratch(dir);
    const log = Log.open(dir);
    expect(log.endOffset).toBe(60);
    expect(log.recovery.truncatedBytes).toBeGreaterThan(0);
    expect(log.append({ value: 'fresh' }).baseOffset).toBe(60);
    expect(log.read(59, { maxRecords: 2 }).map((r) => r.offset)).toEqual([59, 60]);
    log.close();
  });
});

describe('offset index entries that do not point at the batch they name', () => {
  /** A closed log of several segments with dense indexes; `mutate` damages an inactive segment's .index. */
  function damagedIndex(mutate: (index: Buffer) => void): string {
    const dir = closedLog(partitionDir(), 200, 3, { segmentBytes: 8192, indexIntervalBytes: 100 });
    const file = logFiles(dir)[0]!.replace(/\.log$/, '.index');
    const index = fs.readFileSync(file);
    expect(index.length).toBeGreaterThanOrEqual(8 * 6);
    mutate(index);
    fs.writeFileSync(file, index);
    return dir;
  }

  it.each([
    ['an entry pointing inside a batch', (index: Buffer) => index.writeInt32BE(index.readInt32BE(4 + 8 * 2) + 5, 4 + 8 * 2)],
    ['an entry pointing at a later batch', (index: Buffer) => index.writeInt32BE(index.readInt32BE(4 + 8 * 4), 4 + 8 * 2)],
    ['a flipped position byte', (index: Buffer) => (index[4 + 8 * 3 + 2] ^= 0x01)],
    ['a flipped offset byte', (index: Buffer) => (index[8 * 3 + 3] ^= 0x02)],
  ])('%s: streams and reads see every record exactly once', async (_what, mutate) => {
    const dir = damagedIndex(mutate);
    for (const readOnly of [true, false]) {
      const log = Log.open(dir, { readOnly });
      const { offsets, error } = await drain(log);
      expect(error).toBeUndefined();
      expect(offsets).toEqual(range(0, 600));
      // A read from every offset starts exactly there (a lookup through the damaged entry included).
      const firsts = range(0, 600).map((at) => log.read(at, { maxRecords: 1 })[0]!.offset);
      expect(firsts).toEqual(range(0, 600));
      const streamed = [];
      for await (const r of log.stream({ from: 250, maxBytes: 200 })) streamed.push(r.offset);
      expect(streamed).toEqual(range(250, 600));
      log.close();
    }
  });
});

describe('a batch whose baseOffset was rewritten to 0', () => {
  it('makes read(0, { maxBytes: Infinity }) return the records before it, at once, and the next read throw', () => {
    const dir = closedLog(partitionDir(), 30);
    rewriteBatch(logFiles(dir)[0]!, 10, (buf, at) => buf.writeBigInt64BE(0n, at));
    const r = runChild(
      `const log = seglog.Log.open(process.argv[1], { readOnly: true });
       const out = log.read(0, { maxBytes: Infinity }).map((r) => r.offset);
       let code = null;
       try { log.read(out.at(-1) + 1, { maxBytes: Infinity }); } catch (err) { code = seglog.isSeglogError(err) ? err.code : 'RAW ' + err; }
       console.log(JSON.stringify({ out, code }));`,
      30_000,
      [dir],
    );
    expect(r.timedOut).toBe(false);
    expect(JSON.parse(r.stdout)).toEqual({ out: range(0, 30), code: 'SEGLOG_CORRUPT_RECORD' });
  });
});

describe('a batch replayed at the end of the active segment', () => {
  it('is cut by the writer: endOffset stays, and the next append gets a fresh offset', () => {
    const dir = closedLog(partitionDir(), 30);
    const file = logFiles(dir).at(-1)!;
    const buf = fs.readFileSync(file);
    const positions = batchPositions(buf);
    const replayed = buf.subarray(positions.at(-3)!, positions.at(-2)!);
    fs.appendFileSync(file, replayed);
    for (const readOnly of [true, false]) {
      const log = Log.open(dir, { readOnly });
      expect(log.endOffset).toBe(90);
      const all: LogRecord[] = [];
      for (let next = 0; next < log.endOffset; ) {
        const got = log.read(next, { maxBytes: 1 << 20 });
        all.push(...got);
        next = got.at(-1)!.offset + 1;
      }
      expect(all.map((r) => r.offset)).toEqual(range(0, 90));
      if (!readOnly) {
        expect(log.recovery.truncatedBytes).toBe(replayed.length);
        expect(log.append({ value: 'fresh' }).baseOffset).toBe(90);
      }
      log.close();
    }
  });
});

describe('a log-start checkpoint past the end of the log', () => {
  it('gives a read-only opener a start offset no greater than its end offset, as the writer will see it', () => {
    const dir = closedLog(partitionDir(), 30);
    const tp = path.basename(dir).replace(/-0$/, '');
    fs.writeFileSync(path.join(dir, 'log-start-offset-checkpoint'), `0\n1\n${tp} 0 2436\n`);
    const reader = Log.open(dir, { readOnly: true });
    expect(reader.startOffset).toBeLessThanOrEqual(reader.endOffset);
    expect([reader.startOffset, reader.endOffset]).toEqual([2436, 2436]);
    expect(reader.read(2436)).toEqual([]);
    reader.close();
    const writer = Log.open(dir);
    expect([writer.startOffset, writer.endOffset]).toEqual([2436, 2436]);
    writer.close();
  });
});

describe('batch header fields out of range (valid CRC)', () => {
  it.each([
    ['a negative lastOffsetDelta', (buf: Buffer, at: number) => buf.writeInt32BE(-5, at + 23)],
    ['a negative record count', (buf: Buffer, at: number) => buf.writeInt32BE(-1, at + 57)],
    ['a record count past lastOffsetDelta + 1', (buf: Buffer, at: number) => buf.writeInt32BE(4, at + 57)],
    ['a negative base offset', (buf: Buffer, at: number) => buf.writeBigInt64BE(-3n, at)],
  ])('%s: readers stop before it with a seglog error, the writer cuts it', (_what, mutate) => {
    const dir = closedLog(partitionDir(), 10);
    rewriteBatch(logFiles(dir)[0]!, 4, mutate);
    const reader = Log.open(dir, { readOnly: true });
    let got: number[] = [];
    let thrown: unknown;
    try {
      for (let next = 0; next < reader.endOffset; ) {
        const records = reader.read(next);
        got = got.concat(records.map((r) => r.offset));
        next = records.at(-1)!.offset + 1;
      }
    } catch (err) {
      thrown = err;
    }
    reader.close();
    expect(got).toEqual(range(0, 12));
    expect(isSeglogError(thrown)).toBe(true);
    uncleanFromScratch(dir);
    const writer = Log.open(dir);
    expect(writer.endOffset).toBe(12);
    expect(writer.append({ value: 'x' }).baseOffset).toBe(12);
    writer.close();
  });
});


describe('a batch in the middle of a cleanly closed segment whose baseOffset was rewritten forward', () => {
  /**
   * Batch 5 (offsets 15..17) claims 24..26, the offsets of batch 8, with its CRC fixed: the
   * segment holds two batches for those offsets, and batch 6 (18..20) goes backwards after it.
   * The segment's valid part is what comes before batch 6 (what a recovering writer keeps).
   */
  function forwardRewritten(): string {
    const dir = closedLog(partitionDir(), 60);
    rewriteBatch(logFiles(dir)[0]!, 5, (buf, at) => buf.writeBigInt64BE(24n, at));
    return dir;
  }
  const before = [...range(0, 15), 24, 25, 26];

  it('gives every reader the records before the damage, then CorruptRecordError, never an offset twice', async () => {
    const dir = forwardRewritten();
    for (const readOnly of [true, false]) {
      const log = Log.open(dir, { readOnly });
      const firstSegmentEnd = log.segments()[1]!.baseOffset;
      expect(log.read(0, { maxBytes: Infinity }).map((r) => r.offset)).toEqual(before);
      // Every read that starts past the damage, through whatever index entry, throws.
      for (let at = 27; at < firstSegmentEnd; at++) expect(() => log.read(at, { maxRecords: 1 }), `read(${at})`).toThrow(CorruptRecordError);
      for (let at = 27; at < firstSegmentEnd; at++) expect(() => log.readBatches(at), `readBatches(${at})`).toThrow(CorruptRecordError);
      // One record at a time, and the stream (which re-reads the record before its position).
      const seen: number[] = [];
      let thrown: unknown;
      try {
        for (let next = 0; next < log.endOffset; next = seen.at(-1)! + 1) seen.push(log.read(next, { maxRecords: 1 })[0]!.offset);
      } catch (err) {
        thrown = err;
      }
      expect(seen).toEqual(before);
      expect(thrown).toBeInstanceOf(CorruptRecordError);
      // Without maxBytes too. A stream that loops is stopped (its microtasks would starve the
      // test's timeout) and fails on what it yielded.
      for (const maxBytes of [undefined, 150, 4096, 1 << 20]) {
        const streamed: number[] = [];
        await expect(
          (async () => {
            for await (const r of log.stream(maxBytes === undefined ? {} : { maxBytes })) {
              streamed.push(r.offset);
              if (streamed.length > 1000) break;
            }
          })(),
        ).rejects.toBeInstanceOf(CorruptRecordError);
        expect(streamed, `stream maxBytes ${maxBytes}`).toEqual(before);
      }
      const consumed: number[] = [];
      await expect(
        (async () => {
          for await (const r of log.consumer('c').stream({ maxBytes: 4096 })) {
            consumed.push(r.offset);
            if (consumed.length > 1000) break;
          }
        })(),
      ).rejects.toBeInstanceOf(CorruptRecordError);
      expect(consumed).toEqual(before);
      // The next segment is not behind the damage: it reads as before.
      expect(log.read(firstSegmentEnd, { maxRecords: 1 })[0]!.offset).toBe(firstSegmentEnd);
      log.close();
    }
  });

  it('is reported by seglog verify and dump, and cut by a recovering writer', () => {
    const dir = forwardRewritten();
    const verify = seglog(['verify', dir]);
    expect(verify.status).toBe(1);
    expect(verify.stdout).toMatch(/backwards/);
    const dump = seglogLines(['dump', dir, '--records']);
    expect(dump.status).toBe(1);
    expect(dump.lines.find((l) => l['type'] === 'problem')?.['message']).toMatch(/backwards/);
    uncleanFromScratch(dir);
    const log = Log.open(dir);
    expect(log.recovery.actions.find((a) => a.action === 'truncated')?.detail).toMatch(/backwards/);
    expect(log.endOffset).toBe(27);
    expect(log.append({ value: 'fresh' }).baseOffset).toBe(27);
    log.close();
  });
});

describe('a damaged batch in the active segment after a clean shutdown', () => {
  // Batch 1 of the active segment (its offsets 3..5) is damaged; `kept` is what of it stays (a
  // forward rewrite to 9..11 keeps the rules by itself: the batch after it breaks them).
  it.each([
    ['a negative record count', (buf: Buffer, at: number) => buf.writeInt32BE(-1, at + 57), [] as number[]],
    ['a longer length field', (buf: Buffer, at: number) => buf.writeInt32BE(buf.readInt32BE(at + 8) + 9, at + 8), []],
    ['a base offset rewritten forward', (buf: Buffer, at: number) => buf.writeBigInt64BE(buf.readBigInt64BE(at) + 6n, at), [9, 10, 11]],
  ])('%s: the writer cuts the segment there at open, and what it appends next reads back', (_what, mutate, kept) => {
    const dir = closedLog(partitionDir(), 60);
    const active = logFiles(dir).at(-1)!;
    const base = Number(path.basename(active, '.log'));
    rewriteBatch(active, 1, mutate);
    const log = Log.open(dir);
    expect(log.recovery.cleanShutdown).toBe(true);
    expect(log.recovery.actions.some((a) => a.action === 'truncated')).toBe(true);
    const end = base + (kept.at(-1) ?? 2) + 1;
    expect(log.endOffset).toBe(end);
    expect(log.append({ value: 'fresh' }).baseOffset).toBe(end);
    expect(log.read(end)[0]!.value!.toString()).toBe('fresh');
    expect(log.read(0, { maxBytes: Infinity }).map((r) => r.offset)).toEqual([...range(0, base + 3), ...kept.map((k) => base + k), end]);
    log.close();
  });
});

describe("the active segment's record of a clean close (.seglog-active-segment)", () => {
  /** Sleeps past the kernel's coarse timestamp clock, so the next change gets a later ctime. */
  function nextTick(): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);
  }

  it('is written by a clean close, names the active segment, and a clean open then keeps every record and appends after them', () => {
    const dir = closedLog(partitionDir(), 60);
    const active = logFiles(dir).at(-1)!;
    const record = JSON.parse(fs.readFileSync(path.join(dir, '.seglog-active-segment'), 'utf8')) as { baseOffset: number; end: number; lastOffset: number };
    expect(record.baseOffset).toBe(Number(path.basename(active, '.log')));
    expect(record.end).toBe(fs.statSync(active).size);
    const log = Log.open(dir);
    expect(log.recovery.cleanShutdown).toBe(true);
    expect(log.recovery.actions).toEqual([]);
    expect(log.endOffset).toBe(record.lastOffset + 1);
    expect(log.append({ value: 'fresh' }).baseOffset).toBe(180);
    expect(log.read(0, { maxBytes: Infinity }).map((r) => r.offset)).toEqual(range(0, 181));
    log.close();
  });

  it('is believed by every open right after a close, whatever the size of the active segment: none walks its headers', () => {
    // A close's last change and its record often share the coarse clock's tick (the record's
    // stamp then equals the change's, and is not believed): about one open in ten walked here.
    const dir = partitionDir();
    let log = Log.open(dir);
    const walked: string[] = [];
    for (let i = 0; i < 100; i++) {
      log.append([{ value: Buffer.alloc(512, i) }, { value: 'x' }]);
      log.close();
      log = Log.open(dir);
      expect(log.recovery.cleanShutdown).toBe(true);
      if (log.recovery.activeSegmentCheck !== 'record') walked.push(`open ${i}: ${log.recovery.activeSegmentWalkReason}`);
    }
    expect(log.endOffset).toBe(200);
    log.close();
    expect(walked).toEqual([]);
  });

  it('is not believed when missing: the open says it walked, and why', () => {
    const dir = closedLog(partitionDir(), 60);
    fs.rmSync(path.join(dir, '.seglog-active-segment'));
    const log = Log.open(dir);
    expect(log.recovery).toMatchObject({ activeSegmentCheck: 'walk', activeSegmentWalkReason: 'no record: ENOENT', actions: [] });
    log.close();
  });

  it('does not spare the walk when the .log was changed in place, its mtime set back: the ctime tells, and the writer cuts it', () => {
    const dir = closedLog(partitionDir(), 60);
    const active = logFiles(dir).at(-1)!;
    const base = Number(path.basename(active, '.log'));
    const { atime, mtime } = fs.statSync(active);
    rewriteBatch(active, 1, (buf, at) => buf.writeBigInt64BE(buf.readBigInt64BE(at) + 6n, at));
    fs.utimesSync(active, atime, mtime);
    const log = Log.open(dir);
    expect(log.recovery.actions.some((a) => a.action === 'truncated')).toBe(true);
    expect(log.endOffset).toBe(base + 12);
    log.close();
  });

  it('spares the walk only when the files are the ones it describes: a record made to match damaged files is believed', () => {
    // What the record is worth: like the clean-shutdown mark, it is believed when it matches.
    // This shows the walk is skipped then; a record left by a close before the damage is not.
    const dir = closedLog(partitionDir(), 60);
    const active = logFiles(dir).at(-1)!;
    const recordFile = path.join(dir, '.seglog-active-segment');
    const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as Record<string, unknown>;
    rewriteBatch(active, 1, (buf, at) => buf.writeBigInt64BE(buf.readBigInt64BE(at) + 6n, at));
    nextTick();
    const state = (file: string) => {
      const s = fs.statSync(file, { bigint: true });
      return { ino: String(s.ino), size: String(s.size), ctimeNs: String(s.ctimeNs), mtimeNs: String(s.mtimeNs) };
    };
    fs.writeFileSync(recordFile, JSON.stringify({ ...record, log: state(active), index: state(active.replace(/\.log$/, '.index')) }));
    const log = Log.open(dir);
    expect(log.recovery.actions).toEqual([]);
    expect(log.endOffset).toBe(180);
    log.close();
  });
});
