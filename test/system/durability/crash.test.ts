import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log, type LogRecord } from '../../../src/index.js';
import { rawBatches } from '../../support/raw-log.js';
import { tmpDir } from '../../support/tmp.js';
import { dirState, ensureDist } from '../../support/dist.js';
import { batchSizeAt, checksum, recordAt } from './records.mjs';
import { prng } from '../../support/prng.js';

/**
 * A real writer process is killed with SIGKILL at random moments, over and over, and after each
 * kill the log is reopened and checked against what the writer acknowledged (after its flushes)
 * and against what it can only have written (the content is a function of the offset).
 *
 * SEGLOG_CRASH_ITERATIONS sets the number of kills (default 10); SEGLOG_CRASH_SEED replays a run.
 */

const ITERATIONS = Number(process.env.SEGLOG_CRASH_ITERATIONS ?? 10);
const SEED = Number(process.env.SEGLOG_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WRITER = path.join(import.meta.dirname, 'crash-writer.mjs');
/** The writer's config (crash-writer.mjs); reading does not depend on it, but rolling does. */
const CONFIG = { segmentBytes: 1024 * 1024, segmentIndexBytes: 64 * 1024, indexIntervalBytes: 4096, maxMessageBytes: 4 * 1024 * 1024 };

interface Ack {
  from: number;
  to: number;
  sum: string;
}

interface Run {
  readyEnd: number;
  readyClean: boolean;
  acks: Ack[];
  signal: NodeJS.Signals | null;
  stderr: string;
}


/** Acknowledged flushes to wait for before the kill timer starts (see `runAndKill`). */
const ACKS_BEFORE_KILL = 2;
/** A writer that acknowledges nothing for this long is stuck: the test fails rather than hang. */
const ACK_DEADLINE_MS = 60_000;

/**
 * Starts the writer and kills it with SIGKILL `killAfterMs` after its ACKS_BEFORE_KILL-th
 * acknowledged flush; collects its acknowledgements. The timer starts at an acknowledgement, not at
 * `ready`: on a loaded machine the first flush can take longer than any fixed delay after `ready`,
 * and a kill before it would check nothing acknowledged. The kill still lands at a random point of
 * the append and flush loop (inside an append, a flush, a roll).
 */
function runAndKill(dir: string, mode: string, killAfterMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { readyEnd: -1, readyClean: false, acks: [], signal: null, stderr: '' };
    let stuck: NodeJS.Timeout | null = setTimeout(() => {
      stuck = null;
      child.kill('SIGKILL');
    }, ACK_DEADLINE_MS);
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).split(' ');
        pending = pending.slice(nl + 1);
        if (line[0] === 'ready') {
          run.readyEnd = Number(line[1]);
          run.readyClean = line[2] === 'true';
        } else if (line[0] === 'ack') {
          run.acks.push({ from: Number(line[1]), to: Number(line[2]), sum: line[3]! });
          if (run.acks.length === ACKS_BEFORE_KILL && stuck !== null) {
            clearTimeout(stuck);
            stuck = null;
            setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          }
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (run.stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      run.signal = signal;
      if (stuck !== null) clearTimeout(stuck);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited by itself (code ${code}, signal ${signal}):\n${run.stderr}`));
      else if (run.acks.length < ACKS_BEFORE_KILL) reject(new Error(`writer acknowledged ${run.acks.length} flushes in ${ACK_DEADLINE_MS} ms:\n${run.stderr}`));
      else resolve(run);
    });
  });
}

/**
 * What a power cut may do to what no completed flush covered: the `.log` files keep every byte
 * of the acknowledged batches, and past them (in the segment holding the last acknowledged batch
 * and any later one) may be cut short, zero-filled (blocks allocated, data never written), or gone
 * (a new segment whose directory entry was never synced). Returns what it did.
 */
function simulatePowerLoss(dir: string, acked: number, random: () => number): string {
  const logs = fs.readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).sort();
  const bases = logs.map((n) => Number(n.slice(0, 20)));
  let i = bases.length - 1;
  while (i > 0 && bases[i]! >= acked) i--;
  const file = path.join(dir, logs[i]!);
  let keep = 0;
  for (const batch of rawBatches(file)) if (batch.lastOffset < acked) keep = batch.position + batch.size;
  const size = fs.statSync(file).size;
  const cutAt = keep + Math.floor(random() * (size - keep + 1));
  const what = random();
  let done: string;
  if (keep === size) {
    // A completed flush covered the whole file (its fdatasync made the length durable too): a
    // power cut can neither shorten it nor add zero-filled blocks past its end.
    done = `kept ${logs[i]} (covered by a flush)`;
  } else if (what < 0.45) {
    fs.truncateSync(file, cutAt);
    done = `cut ${logs[i]} at ${cutAt} of ${size}`;
  } else if (what < 0.9) {
    const zeros = Math.max(1, Math.floor(random() * 5000));
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(zeros), 0, zeros, cutAt);
    fs.closeSync(fd);
    done = `zeroed ${zeros} bytes of ${logs[i]} at ${cutAt} of ${size}`;
  } else {
    done = `kept ${logs[i]}`;
  }
  for (const later of logs.slice(i + 1)) {
    if (random() < 0.5) continue;
    for (const suffix of ['.log', '.index', '.timeindex']) fs.rmSync(path.join(dir, later.slice(0, 20) + suffix), { force: true });
    done += `, lost ${later}`;
    // Once one segment is lost, the later ones are unreachable as well.
    for (const rest of logs.slice(logs.indexOf(later) + 1)) {
      for (const suffix of ['.log', '.index', '.timeindex']) fs.rmSync(path.join(dir, rest.slice(0, 20) + suffix), { force: true });
    }
    break;
  }
  return done;
}

function checkpointedRecoveryPoint(dir: string): number {
  const file = path.join(dir, 'recovery-point-offset-checkpoint');
  if (!fs.existsSync(file)) return 0;
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  return lines.length === 3 ? Number(lines[2]!.split(' ')[2]) : 0;
}

function readAll(log: Log): LogRecord[] {
  const out: LogRecord[] = [];
  let next = log.startOffset;
  while (next < log.endOffset) {
    const records = log.read(next, { maxBytes: 8 * 1024 * 1024 });
    out.push(...records);
    next = records[records.length - 1]!.offset + 1;
  }
  return out;
}

/** Whether `record` is exactly the one the writer appends at its offset. */
function isTheOneWritten(record: LogRecord): boolean {
  const want = recordAt(record.offset);
  const key = want.key === null ? record.key === null : record.key !== null && record.key.equals(want.key);
  return (
    key &&
    record.timestamp === want.timestamp &&
    record.value !== null &&
    record.value.equals(want.value) &&
    record.headers.length === want.headers.length &&
    record.headers.every((h, i) => h.key === want.headers[i]!.key && h.value !== null && h.value.equals(want.headers[i]!.value))
  );
}

function expectRecordIsTheOneWritten(record: LogRecord): void {
  const want = recordAt(record.offset);
  const where = `record at offset ${record.offset}`;
  expect(record.timestamp, where).toBe(want.timestamp);
  expect(record.key === null ? null : record.key.toString('hex'), where).toBe(want.key === null ? null : want.key.toString('hex'));
  expect(record.value !== null && record.value.equals(want.value), where).toBe(true);
  expect(record.headers.map((h) => [h.key, h.value?.toString('hex')]), where).toEqual(want.headers.map((h) => [h.key, h.value.toString('hex')]));
}

describe('crash: a writer killed with SIGKILL at random moments', () => {
  beforeAll(() => {
    ensureDist();
  }, 120_000);

  it(`loses nothing acknowledged and keeps nothing half-written (${ITERATIONS} kills, seed ${SEED})`, async () => {
    const random = prng(SEED);
    const dir = path.join(tmpDir('seglog-crash-'), 'crash-0');
    let expectedEnd = 0;
    let prefixSum = checksum([]);
    let maxAcked = 0;
    let acksTotal = 0;
    let tornTails = 0;
    let powerLosses = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const mode = random() < 0.25 ? 'flushSync' : 'flush';
      const run = await runAndKill(dir, mode, Math.floor(random() * 250));
      let context = `iteration ${i} (seed ${SEED}, mode ${mode})`;
      // Appends continued exactly where the previous recovery ended.
      expect(run.readyEnd, context).toBe(expectedEnd);
      expect(run.readyClean, context).toBe(i === 0 ? false : true);
      for (const ack of run.acks) maxAcked = Math.max(maxAcked, ack.to);
      acksTotal += run.acks.length;
      // Durable: what a flush acknowledged, what the last reopen kept (its close flushed it), and
      // what the recovery-point checkpoint says a completed flush covered (the flushes at roll).
      const durable = Math.max(maxAcked, expectedEnd, checkpointedRecoveryPoint(dir));
      // Half the time, also lose what a power cut may lose: anything no completed flush covered.
      if (random() < 0.5) {
        context += `, power loss: ${simulatePowerLoss(dir, durable, random)}`;
        powerLosses++;
      }

      if (i % 2 === 1) {
        // A read-only opener of the crashed directory sees every acknowledged record and changes nothing.
        const before = dirState(dir);
        const reader = Log.open(dir, { readOnly: true });
        expect(reader.endOffset, context).toBeGreaterThanOrEqual(durable);
        if (durable > 0) expectRecordIsTheOneWritten(reader.read(durable - 1, { maxRecords: 1 })[0]!);
        reader.close();
        expect(dirState(dir), context).toEqual(before);
      }

      const log = Log.open(dir, CONFIG);
      const report = log.recovery;
      expect(report.cleanShutdown, context).toBe(false);
      expect(report.segmentsRecovered, context).toBeGreaterThanOrEqual(1);
      for (const action of report.actions) expect(action.file.startsWith(dir), context).toBe(true);
      const cut = report.actions.filter((a) => a.action === 'truncated');
      if (report.truncatedBytes > 0) {
        tornTails++;
        expect(cut.length, context).toBe(1);
        expect(cut[0]!.position, context).toBe(fs.statSync(cut[0]!.file).size);
      }

      // Every acknowledged offset is there; the end is a batch boundary of the writer's sequence.
      const end = log.endOffset;
      expect(end, context).toBeGreaterThanOrEqual(durable);
      let boundary = 0;
      while (boundary < end) boundary += batchSizeAt(boundary);
      expect(boundary, `${context}: end offset ${end} is inside a batch`).toBe(end);

      // On disk: exactly the writer's batches, whole, in order, across the segments.
      let next = 0;
      for (const segment of log.segments()) {
        expect(segment.baseOffset, context).toBe(next === 0 ? 0 : segment.baseOffset);
        for (const batch of rawBatches(segment.path)) {
          expect(batch.baseOffset, context).toBe(next);
          expect(batch.lastOffset - batch.baseOffset + 1, context).toBe(batchSizeAt(next));
          next = batch.lastOffset + 1;
        }
      }
      expect(next, context).toBe(end);

      // Every record present is the one the writer wrote at that offset (the ones kept before
      // unchanged, the new ones checked one by one); acknowledged ranges match their checksums.
      const records = readAll(log);
      expect(records.length, context).toBe(end);
      expect(records.filter((r, j) => r.offset !== j).length, context).toBe(0);
      expect(checksum(records.slice(0, expectedEnd)), `${context}: records below ${expectedEnd} changed`).toBe(prefixSum);
      const wrong = records.slice(expectedEnd).filter((r) => !isTheOneWritten(r));
      if (wrong.length > 0) expectRecordIsTheOneWritten(wrong[0]!);
      for (const ack of run.acks) expect(checksum(records.slice(ack.from, ack.to)), `${context}: ack ${ack.from}-${ack.to}`).toBe(ack.sum);

      expectedEnd = end;
      prefixSum = checksum(records);
      log.close();
    }
    // Every run was killed only after acknowledged flushes (runAndKill fails a run that had none).
    expect(acksTotal).toBeGreaterThanOrEqual(ITERATIONS * ACKS_BEFORE_KILL);
    console.log(`crash test: ${ITERATIONS} kills, ${acksTotal} acknowledged flushes, ${expectedEnd} records, ${powerLosses} simulated power losses, ${tornTails} torn tails cut (seed ${SEED})`);
  }, 300_000);
});
