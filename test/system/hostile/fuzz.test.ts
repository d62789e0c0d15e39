import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../../src/index.js';
import { crc32c } from '../../../src/record/crc32c.js';
import { CLI, DIST, ensureBuilt } from '../../cli/helpers.js';
import { prng } from '../../support/prng.js';
import { tmpDir } from '../../support/tmp.js';
import { batchPositions } from './helpers.js';

/**
 * Mutates partition directories at random and checks, for every input, both openers (read-only
 * and writer) and the CLI: every failure is a seglog error, every call ends within a deadline,
 * offsets come back strictly increasing, an append after recovery gets a fresh offset, memory
 * stays bounded. The openers run in a child process (a call that never returns must not hang
 * the test run); the CLI runs as the `seglog` command.
 *
 * Short by default; SEGLOG_FUZZ_ITERATIONS sets the number of directories (e.g. 2000), and
 * SEGLOG_FUZZ_SEED another seed (`random` for a fresh one; the seed is printed).
 */

const ITERATIONS = Number(process.env['SEGLOG_FUZZ_ITERATIONS'] ?? 30);
/**
 * The default run is the same every time (a default suite must not be flaky); SEGLOG_FUZZ_SEED
 * picks another, `random` a fresh one.
 */
const SEED_SETTING = process.env['SEGLOG_FUZZ_SEED'] ?? '20261207';
const SEED = SEED_SETTING === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(SEED_SETTING);
/** A generous bound for one call on a loaded 2-core machine; a loop or a bomb takes far longer. */
const CALL_DEADLINE_MS = 15_000;
/** One directory: about a dozen calls. */
const CASE_DEADLINE_MS = 4 * CALL_DEADLINE_MS;
/** Peak RSS of the child that opens every directory: the 16 MiB decompression cap, node itself, slack. */
const MAX_RSS_KB = 400 * 1024;
/** Every this many cases, the CLI runs on the directory too: every case by default (a long run may thin it out). */
const CLI_EVERY = Number(process.env['SEGLOG_FUZZ_CLI_EVERY'] ?? 1);
const CHUNK = 50;

type Random = () => number;
const int = (rand: Random, n: number): number => Math.floor(rand() * n);
const pick = <T>(rand: Random, list: readonly T[]): T => list[int(rand, list.length)]!;

/** The template: several segments of batches in every codec, some with headers, closed cleanly. */
function template(): string {
  const dir = path.join(tmpDir('seglog-fuzz-template-'), 'orders-0');
  const log = Log.open(dir, { segmentBytes: 6000, indexIntervalBytes: 200 });
  const codecs = ['none', 'gzip', 'lz4', 'snappy', 'none'] as const;
  for (let b = 0; b < 60; b++) {
    const records = [];
    for (let i = 0; i < 1 + (b % 5); i++) {
      records.push({ key: `k${b}`, value: `value ${b}/${i} ${'x'.repeat(b % 40)}`, timestamp: 1_700_000_000_000 + b * 1000 + i, headers: b % 3 === 0 ? { h: `${i}` } : undefined });
    }
    log.append(records, { compression: codecs[b % codecs.length] });
  }
  log.close();
  return dir;
}

function files(dir: string, pattern: RegExp): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => pattern.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

function fixCrcIfWhole(buf: Buffer, at: number): void {
  const size = 12 + buf.readInt32BE(at + 8);
  if (size >= 61 && at + size <= buf.length) buf.writeUInt32BE(crc32c(buf, at + 21, at + size), at + 17);
}

/** Field changes to one batch, CRC fixed afterwards: what a buggy writer or a hostile file has. */
const BATCH_EDITS: ((buf: Buffer, at: number, rand: Random) => void)[] = [
  (buf, at, rand) => buf.writeInt32BE(pick(rand, [0, -1, 1, 2, 7, 1000, 2 ** 31 - 1, -(2 ** 31)]), at + 57), // record count
  (buf, at, rand) => buf.writeInt32BE(pick(rand, [0, -1, 1, 5, 99, 2 ** 31 - 1]), at + 23), // lastOffsetDelta
  (buf, at, rand) => buf.writeBigInt64BE(BigInt(pick(rand, [0, -1, 3, 40, 2 ** 40, Number.MAX_SAFE_INTEGER])), at), // baseOffset
  (buf, at, rand) => buf.writeInt32BE(buf.readInt32BE(at + 8) + pick(rand, [-7, -1, 1, 9, 4096]), at + 8), // batch length
  (buf, at, rand) => (buf[at + 22] = int(rand, 8) | (buf[at + 22]! & 0xf8)), // codec id
  (buf, at, rand) => {
    // a byte of the records section (varints, lengths)
    const size = 12 + buf.readInt32BE(at + 8);
    if (size > 61) buf[at + 61 + int(rand, Math.min(size - 61, 64))] = int(rand, 256);
  },
  (buf, at, rand) => buf.writeBigInt64BE(BigInt(1_700_000_000_000 + int(rand, 10) * 1000), at + 35), // maxTimestamp
];

/** One random mutation of the directory; returns what it did, for the failure message. */
function mutate(dir: string, rand: Random): string {
  const logs = files(dir, /^\d{20}\.log$/);
  const log = pick(rand, logs);
  const kind = int(rand, 9);
  if (kind === 0 || kind === 1) {
    const buf = fs.readFileSync(log);
    const positions = batchPositions(buf);
    if (positions.length === 0) return 'nothing (empty log)';
    const at = pick(rand, positions);
    const edit = int(rand, BATCH_EDITS.length);
    BATCH_EDITS[edit]!(buf, at, rand);
    fixCrcIfWhole(buf, at);
    fs.writeFileSync(log, buf);
    return `batch edit ${edit} at ${path.basename(log)}:${at}`;
  }
  if (kind === 2) {
    const file = pick(rand, files(dir, /^\d{20}\.(log|index|timeindex)$|checkpoint$/));
    const buf = fs.readFileSync(file);
    if (buf.length === 0) return 'nothing (empty file)';
    const n = 1 + int(rand, 4);
    for (let i = 0; i < n; i++) buf[int(rand, buf.length)] = int(rand, 256);
    fs.writeFileSync(file, buf);
    return `${n} random bytes in ${path.basename(file)}`;
  }
  if (kind === 3) {
    const file = pick(rand, files(dir, /^\d{20}\.index$/));
    const buf = fs.readFileSync(file);
    if (buf.length < 8) return 'nothing (empty index)';
    // Whole entries only: an earlier mutation may have cut or lengthened the file.
    const slot = int(rand, Math.floor(buf.length / 8)) * 8;
    buf.writeInt32BE(pick(rand, [0, -1, buf.readInt32BE(slot) + 1, int(rand, 1000)]), slot);
    buf.writeInt32BE(pick(rand, [0, -5, buf.readInt32BE(slot + 4) + int(rand, 80) - 40, 2 ** 31 - 1]), slot + 4);
    fs.writeFileSync(file, buf);
    return `index entry ${slot / 8} of ${path.basename(file)}`;
  }
  if (kind === 4) {
    const name = pick(rand, ['recovery-point-offset-checkpoint', 'log-start-offset-checkpoint']);
    const value = pick(rand, ['0', '17', '150', '2436', '-4', '9007199254740993', 'x']);
    const body = pick(rand, [`0\n1\norders 0 ${value}\n`, `0\n2\norders 0 ${value}\n`, 'garbage', '']);
    fs.writeFileSync(path.join(dir, name), body);
    return `${name} = ${JSON.stringify(body)}`;
  }
  if (kind === 5) {
    const file = pick(rand, files(dir, /^\d{20}\.(log|index|timeindex)$/));
    const size = fs.statSync(file).size;
    const length = int(rand, size + 1);
    fs.truncateSync(file, length);
    return `truncated ${path.basename(file)} to ${length} of ${size}`;
  }
  if (kind === 6) {
    const garbage = Buffer.alloc(1 + int(rand, 200));
    for (let i = 0; i < garbage.length; i++) garbage[i] = rand() < 0.5 ? 0 : int(rand, 256);
    fs.appendFileSync(log, garbage);
    return `${garbage.length} bytes of garbage after ${path.basename(log)}`;
  }
  if (kind === 7) {
    // A batch replayed (copied whole, CRC valid) at the end of a segment.
    const from = fs.readFileSync(pick(rand, logs));
    const positions = batchPositions(from);
    if (positions.length === 0) return 'nothing (empty log)';
    const i = int(rand, positions.length);
    const end = i + 1 < positions.length ? positions[i + 1]! : from.length;
    fs.appendFileSync(log, from.subarray(positions[i]!, end));
    return `batch ${i} replayed at the end of ${path.basename(log)}`;
  }
  fs.rmSync(path.join(dir, '.kafka_cleanshutdown'), { force: true });
  return 'clean-shutdown mark removed';
}

interface CaseResult {
  case: number;
  phase: 'start' | 'done';
  problems?: string[];
  maxCallMs?: number;
  slowest?: string;
  maxRssKb?: number;
  writerOpened?: boolean;
}

/**
 * Runs the child on `dirs`. A watchdog kills it when one case takes longer than CASE_DEADLINE_MS
 * (a call that never returns), and the failure names that case.
 */
async function runCases(first: number, dirs: string[], descriptions: string[]): Promise<{ writerOpened: number }> {
  const casesFile = path.join(tmpDir('seglog-fuzz-cases-'), 'cases.json');
  fs.writeFileSync(casesFile, JSON.stringify(dirs));
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'fuzz.child.mjs'), path.join(DIST, 'index.js'), casesFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: CaseResult[] = [];
  let stderr = '';
  let pending = '';
  let lastProgress = Date.now();
  let killed = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const line of parts) if (line.length > 0) lines.push(JSON.parse(line) as CaseResult);
    lastProgress = Date.now();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress > CASE_DEADLINE_MS) {
      killed = true;
      child.kill('SIGKILL');
    }
  }, 500);
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  clearInterval(watchdog);
  const started = lines.filter((l) => l.phase === 'start').at(-1)?.case ?? -1;
  const done = lines.filter((l) => l.phase === 'done');
  // The child numbers the directories it was given from 0; the run numbers them from `first`.
  const where = (i: number): string => `case ${first + i} (seed ${SEED}): ${descriptions[i]}`;
  expect(killed, `no result within ${CASE_DEADLINE_MS} ms: ${where(started)}`).toBe(false);
  expect(status, `child ended early in ${where(started)}\n${stderr.slice(0, 4000)}`).toBe(0);
  expect(done.length).toBe(dirs.length);
  let writerOpened = 0;
  for (const d of done) {
    expect(d.problems, where(d.case)).toEqual([]);
    expect(d.maxCallMs!, `${where(d.case)}: ${d.slowest}`).toBeLessThan(CALL_DEADLINE_MS);
    expect(d.maxRssKb!, where(d.case)).toBeLessThan(MAX_RSS_KB);
    if (d.writerOpened === true) writerOpened++;
  }
  return { writerOpened };
}

/**
 * `seglog verify --deep`, `seglog dump --records` and `seglog segments`: they finish, exit 0 or 1
 * (problems found), never with an internal error, and their peak RSS stays bounded.
 */
function checkCli(dir: string, description: string): void {
  for (const args of [['verify', dir, '--deep'], ['dump', dir, '--records'], ['segments', dir]]) {
    const r = spawnSync(process.execPath, ['-r', path.join(import.meta.dirname, 'max-rss.cjs'), CLI, ...args], {
      encoding: 'utf8',
      timeout: 4 * CALL_DEADLINE_MS,
      maxBuffer: 1 << 28,
      env: { ...process.env, NO_COLOR: '1' },
    });
    const what = `seglog ${args[0]} on ${description} (seed ${SEED})`;
    expect(r.error, what).toBeUndefined();
    expect([0, 1], `${what}: exit ${r.status}\n${r.stderr.slice(0, 2000)}`).toContain(r.status);
    expect(r.stderr, what).not.toMatch(/internal error|\n\s+at /);
    expect(Number(/MAX_RSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? Infinity), what).toBeLessThan(MAX_RSS_KB);
  }
}

describe('fuzz: mutated partition directories', () => {
  it(`keeps every promise for ${ITERATIONS} directories (SEGLOG_FUZZ_ITERATIONS)`, { timeout: 600_000 + ITERATIONS * 60_000 }, async () => {
    console.log(`fuzz: ${ITERATIONS} directories, seed ${SEED} (SEGLOG_FUZZ_SEED replays it)`);
    ensureBuilt();
    const base = template();
    const root = tmpDir('seglog-fuzz-');
    let writerOpened = 0;
    for (let start = 0; start < ITERATIONS; start += CHUNK) {
      const dirs: string[] = [];
      const descriptions: string[] = [];
      for (let i = start; i < Math.min(ITERATIONS, start + CHUNK); i++) {
        const rand = prng(SEED + i * 7919);
        const dir = path.join(root, `case-${i}`, 'orders-0');
        fs.cpSync(base, dir, { recursive: true });
        fs.rmSync(path.join(dir, '.seglog.lock'), { force: true });
        const steps = 1 + int(rand, 3);
        const done: string[] = [];
        for (let s = 0; s < steps; s++) done.push(mutate(dir, rand));
        dirs.push(dir);
        descriptions.push(done.join('; '));
        if (i % CLI_EVERY === 0) checkCli(dir, `case ${i}: ${descriptions.at(-1)}`);
      }
      writerOpened += (await runCases(start, dirs, descriptions)).writerOpened;
      for (const dir of dirs) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
    // The writer recovers nearly every damaged directory; refusing them all would pass the rest vacuously.
    expect(writerOpened).toBeGreaterThan(ITERATIONS * 0.8);
  });
});
