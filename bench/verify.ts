/**
 * Throughput of `seglog verify` (CRC and framing of every batch, every index entry checked) on a
 * large partition directory, run as a user runs it: the built command in a child process.
 *
 *   npm run build && npx tsc -p tsconfig.json --outDir dist-bench && node dist-bench/bench/verify.js
 *
 * Environment:
 *   SEGLOG_BENCH_BYTES   size of the directory's log in bytes (default 256 MiB; the target is
 *                        >= 1 GB/s on 1 GiB: SEGLOG_BENCH_BYTES=1073741824)
 *   SEGLOG_BENCH_DIR     where to write it (default .bench-tmp-verify in the current directory);
 *                        kept between runs when its size matches, so a rerun only measures
 *   SEGLOG_BENCH_RUNS    measured runs after one warm-up (default 3)
 *
 * Reports the command's own time for the scan (`elapsedMs` of `--json`) and the wall time of the
 * whole process (Node start-up included), both as GB/s of `.log` bytes (10^9 bytes per second).
 * The files are in the page cache after the warm-up run: this measures the checks, not the disk.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Log } from '../src/log/log.js';
import { machineLine } from './common.js';

const TARGET = Number(process.env['SEGLOG_BENCH_BYTES'] ?? 256 * 1024 * 1024);
const DIR = path.resolve(process.env['SEGLOG_BENCH_DIR'] ?? '.bench-tmp-verify', 'bench-0');
const RUNS = Number(process.env['SEGLOG_BENCH_RUNS'] ?? 3);
const CLI = path.resolve(process.env['SEGLOG_CLI'] ?? 'dist/cli/main.js');

function logBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0);
}

/** Sensor-like JSON records, 100 per batch, a quarter of the batches lz4-compressed. */
function write(dir: string, target: number): void {
  fs.rmSync(dir, { recursive: true, force: true });
  const started = performance.now();
  const log = Log.open(dir, { segmentBytes: 128 * 1024 * 1024 });
  const start = Date.parse('2026-11-24T08:00:00Z');
  let i = 0;
  let batches = 0;
  while (log.size < target) {
    const batch = [];
    for (let r = 0; r < 100; r++, i++) {
      const value = JSON.stringify({ sensor_id: `sensor-${i % 64}`, timestamp: start + i, temperature_c: 20 + (i % 97) / 10, humidity_pct: 40 + (i % 31), seq: i });
      batch.push({ key: `sensor-${i % 64}`, value, timestamp: start + i, headers: { unit: 'celsius' } });
    }
    log.append(batch, { compression: batches++ % 4 === 3 ? 'lz4' : 'none' });
  }
  const size = log.size;
  log.close();
  const ms = performance.now() - started;
  console.log(`wrote ${(size / 1e6).toFixed(0)} MB in ${batches} batches to ${dir} (${(ms / 1000).toFixed(1)} s)`);
}

interface VerifyJson {
  ok: boolean;
  elapsedMs: number;
  totals: { bytes: number; batches: number; records: number; segments: number; indexEntries: number; timeIndexEntries: number };
}

function verifyOnce(extra: string[]): { report: VerifyJson; wallMs: number } {
  const started = performance.now();
  const stdout = execFileSync(process.execPath, [CLI, 'verify', DIR, '--json', ...extra], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wallMs = performance.now() - started;
  return { report: JSON.parse(stdout) as VerifyJson, wallMs };
}

function main(): void {
  const have = logBytes(DIR);
  if (have < TARGET || have > TARGET * 1.2) write(DIR, TARGET);
  else console.log(`reusing ${DIR} (${(have / 1e6).toFixed(0)} MB of log)`);
  console.log(machineLine());
  for (const [label, extra] of [
    ['verify', []],
    ['verify --index-only', ['--index-only']],
  ] as const) {
    verifyOnce([...extra]); // warm-up: page cache, code caches
    const scans: number[] = [];
    const walls: number[] = [];
    let last: VerifyJson | undefined;
    for (let r = 0; r < RUNS; r++) {
      const { report, wallMs } = verifyOnce([...extra]);
      if (!report.ok) throw new Error('verify found problems in the bench directory');
      scans.push(report.elapsedMs);
      walls.push(wallMs);
      last = report;
    }
    const t = last!.totals;
    const gbs = (ms: number): string => (t.bytes / 1e9 / (ms / 1000)).toFixed(2);
    const best = Math.min(...scans);
    const median = [...scans].sort((a, b) => a - b)[Math.floor(scans.length / 2)]!;
    const wall = Math.min(...walls);
    console.log(
      `${label.padEnd(20)} ${(t.bytes / 1e6).toFixed(0)} MB, ${t.segments} segments, ${t.batches} batches, ` +
        `${t.indexEntries + t.timeIndexEntries} index entries: scan best ${best.toFixed(0)} ms = ${gbs(best)} GB/s ` +
        `(median ${gbs(median)} GB/s); whole process ${wall.toFixed(0)} ms = ${gbs(wall)} GB/s`,
    );
  }
}

main();
