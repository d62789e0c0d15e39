import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { Log, type LogConfig, type LogRecord, type RecoveryAction } from '../../../src/index.js';
import { tmpDir } from '../../support/tmp.js';

/** Small segments and indexes, so a few hundred records make several of each. */
export const SMALL: LogConfig = { segmentBytes: 4096, segmentIndexBytes: 1200, indexIntervalBytes: 256 };

/** A fresh partition directory (named like Kafka's, `<topic>-<partition>`), not yet created. */
export function partitionDir(name = 'events-0'): string {
  return path.join(tmpDir('seglog-durability-'), name);
}

/** The record at offset `i` of every test log here: a function of the offset alone. */
export function recordFor(i: number): { key: string; value: string; timestamp: number } {
  return { key: `k${i}`, value: `value-${i}-${'x'.repeat(i % 50)}`, timestamp: 1_000_000 + i * 10 };
}

/** Appends `batches` batches of `perBatch` records (offsets from the log's end on). */
export function appendBatches(log: Log, batches: number, perBatch = 3): void {
  for (let b = 0; b < batches; b++) {
    const base = log.endOffset;
    const records = [];
    for (let i = 0; i < perBatch; i++) records.push(recordFor(base + i));
    log.append(records);
  }
}

/** Checks that `log` holds exactly the records [from, to) of `recordFor`. */
export function expectRecords(log: Log, to: number, from = 0): void {
  expect(log.endOffset).toBe(to);
  const got: LogRecord[] = [];
  let next = from;
  while (next < to) {
    const records = log.read(next, { maxBytes: 1 << 20 });
    got.push(...records);
    next = records[records.length - 1]!.offset + 1;
  }
  expect(got.map((r) => r.offset)).toEqual(Array.from({ length: to - from }, (_, i) => from + i));
  for (const r of got) {
    const want = recordFor(r.offset);
    expect([r.key?.toString(), r.value?.toString(), r.timestamp]).toEqual([want.key, want.value, want.timestamp]);
  }
}

/**
 * What a crash of the writer would leave on disk, taken from a live writer: a copy of its
 * directory (same name, in another temp dir) while it is open. The page cache is what survives
 * a process crash, and the copy reads exactly that: active indexes untrimmed, no clean-shutdown
 * mark, the checkpoints as they were. The copy's lock file is not locked.
 */
export function crashImage(dir: string): string {
  const copy = path.join(tmpDir('seglog-crash-image-'), path.basename(dir));
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

/** The `.log` files of `dir`, oldest first. */
export function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** `<dir>/<20-digit base><suffix>`. */
export function segmentFile(dir: string, baseOffset: number, suffix: string): string {
  return path.join(dir, String(baseOffset).padStart(20, '0') + suffix);
}

/** Writes Kafka's recovery-point checkpoint for the partition `dir` (topic and partition from its name). */
export function writeRecoveryPoint(dir: string, offset: number): void {
  const name = path.basename(dir);
  const dash = name.lastIndexOf('-');
  fs.writeFileSync(path.join(dir, 'recovery-point-offset-checkpoint'), `0\n1\n${name.slice(0, dash)} ${name.slice(dash + 1)} ${offset}\n`);
}

/** Removes the clean-shutdown mark: the next open treats the last shutdown as a crash. */
export function markUnclean(dir: string): void {
  fs.rmSync(path.join(dir, '.kafka_cleanshutdown'));
}

/** Flips bit `bit` of the byte at `position` in `file`. */
export function flipBit(file: string, position: number, bit = 0): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, position);
  b[0] = b[0]! ^ (1 << bit);
  fs.writeSync(fd, b, 0, 1, position);
  fs.closeSync(fd);
}

/** Overwrites `bytes` at `position` in `file`. */
export function overwrite(file: string, position: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, position);
  fs.closeSync(fd);
}

/** The report's actions of one kind. */
export function actionsOf(log: Log, action: RecoveryAction['action']): RecoveryAction[] {
  return log.recovery.actions.filter((a) => a.action === action);
}

/** Contents of every file in `dir` whose name matches `pattern`, by name. */
export function contents(dir: string, pattern: RegExp): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) if (pattern.test(name)) out[name] = fs.readFileSync(path.join(dir, name)).toString('hex');
  return out;
}
