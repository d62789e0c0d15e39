import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { nativeAddon } from '../../src/files/native.js';
import { PREPARED_LOG, PREPARED_OFFSET_INDEX, PREPARED_TIME_INDEX, PreparedSegmentFiles, preparedDescriptorsOpen, preparedFilesNamed } from '../../src/files/prepared-files.js';
import { appendBatches, crashImage, expectRecords, partitionDir, segmentFile } from '../system/durability/helpers.js';
import { descriptorsInto } from '../support/descriptors.js';
import { ensureDist } from '../support/dist.js';
import { tmpDir } from '../support/tmp.js';

/**
 * A roll names files made ahead of it (src/files/prepared-files.ts): unnamed until then, so no
 * listing of the directory (Kafka's loader, ours, a read-only opener) ever sees them, and a crash
 * at any step of the roll leaves what a roll by create left.
 */

/** Where the addon can make them (Linux); elsewhere, and under SEGLOG_NO_NATIVE, rolls create their files. */
const canPrepare = nativeAddon()?.prepareFiles !== undefined;

const SEGMENT_BYTES = 64 * 1024;
const INDEX_BYTES = 4096;

/** Every name Kafka's loader keeps, or seglog's own files it ignores; nothing it would delete, complete or fail on. */
const KAFKA_NAMES = /^(\d{20}\.(log|index|timeindex)|recovery-point-offset-checkpoint|log-start-offset-checkpoint|\.kafka_cleanshutdown|\.seglog\.lock|\.seglog-active-segment)$/;

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** Appends batches until the active segment holds at least `bytes` (rolling as it goes). */
function fillActive(log: Log, bytes: number): void {
  while (log.segments().at(-1)!.sizeBytes < bytes) appendBatches(log, 1, 10);
}

/** The state of the next segment's files (null: none asked for). */
function nextFilesState(log: Log): string | null {
  return (log as unknown as { local: { nextFiles: { state(): string } | null } }).local.nextFiles?.state() ?? null;
}

/** Fills the active segment past the point where its successor's files are made, and waits for them. */
async function fillAndWait(log: Log): Promise<void> {
  fillActive(log, SEGMENT_BYTES * 0.6);
  expect(nextFilesState(log)).toEqual(canPrepare ? expect.stringMatching(/^(making|made)$/) : null);
  // Made meanwhile on a thread of their own.
  for (let i = 0; i < 5000 && nextFilesState(log) === 'making'; i++) await turns(1);
  expect(nextFilesState(log)).toBe(canPrepare ? 'made' : null);
}

/**
 * The descriptors still open on files of `dir` once thread-pool syncs that were running at
 * close have ended (a sync keeps the descriptor it uses until it ends; see FileRecords.closeWhenSynced).
 */
async function descriptorsLeft(dir: string): Promise<string[]> {
  for (let i = 0; i < 5000 && descriptorsInto(dir).length > 0; i++) await turns(1);
  return descriptorsInto(dir);
}

describe('rolls with the next segment prepared ahead', () => {
  it('name files made on another thread, which no listing sees before the roll and none stays open after close', async () => {
    const dir = partitionDir();
    const log = Log.open(dir, { segmentBytes: SEGMENT_BYTES, segmentIndexBytes: INDEX_BYTES });
    const namedBefore = preparedFilesNamed();
    for (let roll = 0; roll < 5; roll++) {
      await fillAndWait(log);
      const names = fs.readdirSync(dir);
      expect(names.filter((n) => !KAFKA_NAMES.test(n))).toEqual([]);
      expect(names.filter((n) => n.endsWith('.log'))).toHaveLength(roll + 1);
      const segments = log.segments().length;
      while (log.segments().length === segments) appendBatches(log, 1, 10);
    }
    // Every roll named its three files where they could be made; by create elsewhere.
    expect(preparedFilesNamed() - namedBefore).toBe(canPrepare ? 15 : 0);
    await fillAndWait(log); // the next segment's, made and never named
    const end = log.endOffset;
    log.close();
    expect(preparedDescriptorsOpen()).toBe(0);
    expect(await descriptorsLeft(dir)).toEqual([]);
    const reopened = Log.open(dir, { segmentBytes: SEGMENT_BYTES, segmentIndexBytes: INDEX_BYTES });
    expectRecords(reopened, end);
    reopened.close();
  });

  it('close() closes the next files while another thread is still making them', async () => {
    const dir = partitionDir();
    const log = Log.open(dir, { segmentBytes: SEGMENT_BYTES, segmentIndexBytes: INDEX_BYTES });
    fillActive(log, SEGMENT_BYTES * 0.6); // starts making them, no turn of the event loop after
    log.close();
    expect(preparedDescriptorsOpen()).toBe(0);
    expect(await descriptorsLeft(dir)).toEqual([]);
  });

  it('leaves, after a crash at each step of a roll, a directory of Kafka names that both openers load, with every record', async () => {
    for (let step = 0; step <= 3; step++) {
      const dir = partitionDir(`step${step}-0`);
      const log = Log.open(dir, { segmentBytes: SEGMENT_BYTES, segmentIndexBytes: INDEX_BYTES });
      appendBatches(log, 60, 10);
      await log.flush();
      const end = log.endOffset;
      // The roll at `end`, stopped after naming `step` of its files (in the roll's order).
      const files = [segmentFile(dir, end, '.log'), segmentFile(dir, end, '.index'), segmentFile(dir, end, '.timeindex')];
      const lengths = [0, INDEX_BYTES, INDEX_BYTES - (INDEX_BYTES % 12)];
      const prepared = canPrepare ? PreparedSegmentFiles.start(dir, lengths[1]!, lengths[2]!, 0) : null;
      while (prepared !== null && prepared.state() === 'making') await turns(1);
      for (const [i, which] of [PREPARED_LOG, PREPARED_OFFSET_INDEX, PREPARED_TIME_INDEX].slice(0, step).entries()) {
        const fd = prepared?.name(which, files[i]!) ?? fs.openSync(files[i]!, 'wx');
        fs.ftruncateSync(fd, lengths[i]!);
        fs.closeSync(fd);
      }
      const image = crashImage(dir);
      prepared?.drop();
      log.close();
      const names = fs.readdirSync(image);
      expect(names.filter((n) => !KAFKA_NAMES.test(n)), `step ${step}`).toEqual([]);
      expect(names.filter((n) => n.startsWith(path.basename(files[0]!, '.log'))).sort(), `step ${step}`).toEqual(
        ['.log', '.index', '.timeindex'].slice(0, step).map((s) => path.basename(files[0]!, '.log') + s).sort(),
      );
      const reader = Log.open(image, { readOnly: true });
      expect(reader.endOffset, `step ${step}`).toBe(end);
      reader.close();
      const writer = Log.open(image, { segmentBytes: SEGMENT_BYTES, segmentIndexBytes: INDEX_BYTES });
      expect(writer.recovery.cleanShutdown).toBe(false);
      expectRecords(writer, end);
      appendBatches(writer, 1, 10);
      expectRecords(writer, end + 10);
      writer.close();
      expect(fs.readdirSync(image).filter((n) => !KAFKA_NAMES.test(n))).toEqual([]);
    }
  });

  it('on a worker_thread, closes the files it was handed without Node warning about descriptors its fs did not open', () => {
    // Node's fs on a worker_thread warns on closing any descriptor it did not open there; the prepare thread opened these.
    const dist = ensureDist();
    const script = `
      import { Worker } from 'node:worker_threads';
      const code = \`(async () => {
        const { Log } = await import(${JSON.stringify(dist)});
        const { preparedFilesNamed } = await import(${JSON.stringify(path.join(path.dirname(dist), 'files', 'prepared-files.js'))});
        const { parentPort, workerData } = await import('node:worker_threads');
        const log = Log.open(workerData, { segmentBytes: ${SEGMENT_BYTES}, segmentIndexBytes: ${INDEX_BYTES} });
        const value = Buffer.alloc(1000, 1);
        for (let i = 0; i < 400; i++) {
          log.append([{ value }, { value }]);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const segments = log.segments().length;
        const records = log.read(0, { maxRecords: 10000 }).length;
        log.close();
        parentPort.postMessage({ named: preparedFilesNamed(), segments, records });
      })()\`;
      const worker = new Worker(code, { eval: true, workerData: process.argv[1] });
      worker.on('message', (m) => console.log(JSON.stringify(m)));
    `;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script, tmpDir()], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const seen = JSON.parse(out.stdout) as { named: number; segments: number; records: number };
    expect(seen.records).toBe(800);
    expect(seen.segments).toBeGreaterThan(10);
    // Three files per roll into prepared files; none where the addon cannot make them.
    if (canPrepare) expect(seen.named).toBeGreaterThanOrEqual(3 * 5);
    else expect(seen.named).toBe(0);
  });

  it('keeps the addon loaded when the worker_thread that alone loaded it ends while a prepare thread may still run', () => {
    if (!canPrepare) return; // no prepare thread here (not Linux, or SEGLOG_NO_NATIVE): nothing can run past the worker
    // Node unloads an addon that only a worker_thread loaded when that thread ends; a prepare
    // thread then running, or returning, faulted in the unmapped code (SIGSEGV in 1 of ~15 runs).
    // The main process here never touches the addon: it must still be mapped after the worker.
    const dist = ensureDist();
    const script = `
      import fs from 'node:fs';
      import { Worker } from 'node:worker_threads';
      const worker = new Worker(\`
        const { Log } = await import(${JSON.stringify(dist)});
        const { parentPort, workerData } = await import('node:worker_threads');
        const log = Log.open(workerData, { segmentBytes: ${SEGMENT_BYTES}, segmentIndexBytes: ${INDEX_BYTES} });
        for (let i = 0; i < 6; i++) log.append({ value: Buffer.alloc(40000, i) });
        parentPort.postMessage(log.segments().length);
        setInterval(() => {}, 1000);
      \`, { eval: true, type: 'module', workerData: process.argv[1] });
      const segments = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
      await worker.terminate();
      console.log(JSON.stringify({ segments, mapped: fs.readFileSync('/proc/self/maps', 'utf8').includes('seglog_native.node') }));
    `;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script, tmpDir()], { encoding: 'utf8', timeout: 60_000 });
    expect(out.signal).toBeNull();
    expect(out.status).toBe(0);
    const seen = JSON.parse(out.stdout) as { segments: number; mapped: boolean };
    // Each segment past 64 KiB asked the addon for its successor's files (named or not by the roll).
    expect(seen.segments).toBeGreaterThanOrEqual(3);
    expect(seen.mapped).toBe(true);
  });
});

