/**
 * `seglog verify`, `segments` and `dump` next to a live writer whose retention deletes segments
 * and whose cleaner swaps compacted ones in, over tiny segments, in this process while the command
 * runs in a child. A file listed a moment ago may be gone or replaced when the command reaches it:
 * that is the writer's normal work, never a problem, an error exit or a record dumped twice.
 * SEGLOG_STRESS_CLI_RUNS sets how many runs of each command (default 4).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { listingHooks, listPartition, VanishedFileError, visitLiveSegments, type SegmentFiles } from '../../src/cli/listing.js';
import { tmpDir } from '../support/tmp.js';
import { CLI, ensureBuilt } from './helpers.js';

const RUNS = Number(process.env.SEGLOG_STRESS_CLI_RUNS ?? 4);

afterEach(() => {
  listingHooks.beforeVisit = null;
});

/** Runs `seglog args` in a child while `work` runs between event-loop turns; resolves with its output. */
function runBeside(args: string[], work: () => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let done = false;
    const loop = (): void => {
      if (done) return;
      work();
      setImmediate(loop);
    };
    child.on('close', (code) => {
      done = true;
      resolve({ code, stdout, stderr });
    });
    loop();
  });
}

function writer(kind: 'retention' | 'compaction'): { log: Log; dir: string; work: () => void } {
  const dir = path.join(tmpDir(), `${kind}-0`);
  const log = Log.open(dir, {
    segmentBytes: 2048,
    indexIntervalBytes: 256,
    // Retention bounds both logs, so a long run (SEGLOG_STRESS_CLI_RUNS) does not slow down.
    retentionCheckIntervalMs: 1,
    retentionBytes: 48 * 1024,
    retentionMs: -1,
    fileDeleteDelayMs: 5,
    cleanupPolicy: kind === 'compaction' ? 'compact,delete' : 'delete',
    minCleanableDirtyRatio: 0.01,
    cleanerBackoffMs: 1,
  });
  let n = 0;
  const value = Buffer.alloc(100, 'v');
  const append = (): void => {
    log.append(Array.from({ length: 4 }, (_, i) => ({ key: `k${(n + i) % 7}`, value })));
    n += 4;
  };
  for (let i = 0; i < 300; i++) append();
  return { log, dir, work: append };
}

describe.each(['retention', 'compaction'] as const)('the CLI next to a writer doing %s', (kind) => {
  it('verify, segments and dump never report the writer’s deletions and swaps as problems', async () => {
    ensureBuilt();
    const { log, dir, work } = writer(kind);
    try {
      for (let run = 0; run < RUNS; run++) {
        const verify = await runBeside(['verify', dir, '--json'], work);
        expect(verify.stderr, `verify run ${run}`).toBe('');
        expect(JSON.parse(verify.stdout).problems).toEqual([]);
        expect(verify.code).toBe(0);

        const segments = await runBeside(['segments', dir, '--json'], work);
        expect(segments.stderr, `segments run ${run}`).toBe('');
        expect(JSON.parse(segments.stdout).problems).toEqual([]);
        expect(segments.code).toBe(0);

        const dump = await runBeside(['dump', dir, '--records', '--json'], work);
        expect(dump.stderr, `dump run ${run}`).toBe('');
        expect(dump.code).toBe(0);
        const offsets = dump.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { type: string; offset?: number })
          .filter((l) => l.type === 'record')
          .map((l) => l.offset!);
        expect(offsets.length).toBeGreaterThan(0);
        for (let i = 1; i < offsets.length; i++) expect(offsets[i], `dump run ${run}: record ${i}`).toBeGreaterThan(offsets[i - 1]!);
      }
    } finally {
      log.close();
    }
  }, 120_000);
});

describe('visitLiveSegments', () => {
  function smallLog(): string {
    const dir = path.join(tmpDir(), 'steady-0');
    const log = Log.open(dir, { segmentBytes: 1024 });
    for (let i = 0; i < 40; i++) log.append({ value: Buffer.alloc(100, i) });
    log.close();
    return dir;
  }

  /** Walks `dir` with `visit`; returns the base offsets accepted and the problems that reached the sink. */
  function walk(dir: string, visit: (seg: SegmentFiles, attempt: number, report: (p: string) => void) => void): { bases: number[]; problems: string[]; visits: number } {
    const bases: number[] = [];
    const problems: string[] = [];
    let attempt = 0;
    let visits = 0;
    listingHooks.beforeVisit = (_, n) => (attempt = n);
    visitLiveSegments(
      listPartition(dir),
      (seg, _active, report: (p: string) => void) => {
        visits++;
        if (!fs.existsSync(seg.log!)) throw new VanishedFileError(seg.log!);
        visit(seg, attempt, report);
      },
      (seg) => bases.push(seg.baseOffset),
      (p: string) => problems.push(p),
    );
    return { bases, problems, visits };
  }

  it('goes on past a segment deleted after the listing, and forwards nothing for it', () => {
    const dir = smallLog();
    const all = listPartition(dir).segments.map((s) => s.baseOffset);
    const gone = listPartition(dir).segments[2]!;
    const r = walk(dir, (seg) => {
      // Retention renames the third segment away just before its turn.
      if (seg.baseOffset === all[1]) for (const f of [gone.log!, gone.index!, gone.timeIndex!]) fs.renameSync(f, `${f}.deleted`);
    });
    expect(r.bases).toEqual(all.filter((b) => b !== gone.baseOffset));
    expect(r.problems).toEqual([]);
  });

  it('reads a segment again when it showed problems while a swap replaced its files, and keeps only the second read', () => {
    const dir = smallLog();
    const all = listPartition(dir).segments.map((s) => s.baseOffset);
    const r = walk(dir, (seg, attempt, report) => {
      if (seg.baseOffset === all[1] && attempt === 1) {
        report('index points into the middle of a batch (old index, new log)');
        fs.copyFileSync(seg.log!, `${seg.log}.swap`);
        fs.renameSync(`${seg.log}.swap`, seg.log!); // a new file under the name, as a swap leaves it
      }
    });
    expect(r.bases).toEqual(all);
    expect(r.problems).toEqual([]);
    expect(r.visits).toBe(all.length + 1);
  });

  it('reports damage that is really there once, without reading the segment again', () => {
    const dir = smallLog();
    const all = listPartition(dir).segments.map((s) => s.baseOffset);
    const r = walk(dir, (seg, _attempt, report) => {
      if (seg.baseOffset === all[1]) report('bad CRC');
    });
    expect(r.bases).toEqual(all);
    expect(r.problems).toEqual(['bad CRC']);
    expect(r.visits).toBe(all.length);
  });
});
