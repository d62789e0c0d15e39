/**
 * A log of many segments opens, reads, appends and closes under a low descriptor limit: the pool
 * of open files (`maxOpenSegments`) closes the least recently used inactive segments and reopens
 * them on demand. The child process runs under `ulimit -n 256`, as a writer and as a read-only
 * opener. SEGLOG_MANY_SEGMENTS sets the number of segments (default 3,000).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { ensureDist } from '../support/dist.js';
import { tmpDir } from '../support/tmp.js';

const T0 = 1_700_000_000_000;
// 3,000 by default (over ten times the descriptor limit) to keep the default suite quick on a busy
// 2-core machine; the 20,000 with SEGLOG_MANY_SEGMENTS=20000.
const SEGMENTS = Number(process.env.SEGLOG_MANY_SEGMENTS ?? 3000);

/** `count` segments of one record each (offset i, value `v<i>`, timestamp T0 + i), cleanly shut down. */
function manySegments(count: number): string {
  const dir = path.join(tmpDir(), 'many-0');
  fs.mkdirSync(dir);
  const empty = Buffer.alloc(0);
  // The time index a writer leaves at roll: the segment's largest timestamp, at its last offset.
  const timeEntry = Buffer.alloc(12);
  timeEntry.writeUInt32BE(Math.floor(T0 / 2 ** 32), 0);
  for (let i = 0; i < count; i++) {
    const name = path.join(dir, String(i).padStart(20, '0'));
    const batch = encodeBatch([{ value: `v${i}`, timestamp: T0 + i }], i, { compression: 'none', timestampType: 'CreateTime', now: T0 });
    fs.writeFileSync(`${name}.log`, batch.buffer.subarray(0, batch.buffer.length));
    fs.writeFileSync(`${name}.index`, empty);
    timeEntry.writeUInt32BE((T0 + i) % 2 ** 32, 4);
    fs.writeFileSync(`${name}.timeindex`, timeEntry);
  }
  fs.writeFileSync(path.join(dir, '.kafka_cleanshutdown'), '{"version":0,"brokerEpoch":0}');
  return dir;
}

function runLimited(dir: string, mode: 'write' | 'read'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = path.join(import.meta.dirname, 'many-segments.child.mjs');
  const child = spawn('/bin/sh', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, script, dir, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('a log of many segments under ulimit -n 256', () => {
  it(`opens, reads across all ${SEGMENTS} segments, appends and closes, as a writer and as a read-only opener`, async () => {
    ensureDist();
    const dir = manySegments(SEGMENTS);
    for (const mode of ['write', 'read'] as const) {
      const result = await runLimited(dir, mode);
      expect(result.stderr, mode).toBe('');
      expect(result.code, mode).toBe(0);
      const summary = JSON.parse(result.stdout) as { records: number; segments: number; end: number; maxFds: number };
      expect(summary.records).toBe(mode === 'write' ? SEGMENTS : SEGMENTS + 50);
      expect(summary.segments).toBeGreaterThanOrEqual(SEGMENTS);
      expect(summary.end).toBe(SEGMENTS + 50);
      expect(summary.maxFds).toBeLessThan(256);
    }
  }, 300_000);
});
