import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../../src/index.js';
import {
  SMALL,
  actionsOf,
  appendBatches,
  crashImage,
  expectRecords,
  logFiles,
  markUnclean,
  partitionDir,
  segmentFile,
} from './helpers.js';

/**
 * Leftovers of interrupted operations, in the style of Kafka's LogLoaderTest: a crash is faked at
 * each step of an operation by leaving its files with the intermediate suffix, then the log is
 * reopened. Kafka's rules (LogLoader.removeTempFilesAndCollectSwapFiles and load): `.deleted` and
 * `.cleaned` files are removed; a `.swap` at or above the lowest `.cleaned` offset is an
 * unfinished split and removed; other `.swap` files replace the segments in their offset range;
 * index files without a `.log` are removed.
 */

const SUFFIXES = ['.log', '.index', '.timeindex'];

/** A cleanly closed log of 60 batches of 3 records in SMALL segments; returns its dir and segment base offsets. */
function closedLog(): { dir: string; bases: number[] } {
  const dir = partitionDir();
  const log = Log.open(dir, SMALL);
  appendBatches(log, 60);
  log.close();
  const bases = logFiles(dir).map((f) => Number(path.basename(f).slice(0, 20)));
  expect(bases.length).toBeGreaterThanOrEqual(3);
  return { dir, bases };
}

function renameSegment(dir: string, base: number, from: string, to: string): void {
  for (const suffix of SUFFIXES) fs.renameSync(segmentFile(dir, base, suffix + from), segmentFile(dir, base, suffix + to));
}

function writeStartOffset(dir: string, offset: number): void {
  fs.writeFileSync(path.join(dir, 'log-start-offset-checkpoint'), `0\n1\nevents 0 ${offset}\n`);
}

describe('.deleted files (a segment deletion interrupted after its rename)', () => {
  it.each([false, true])('removes them and keeps the log from the next segment (clean shutdown: %s)', (clean) => {
    const { dir, bases } = closedLog();
    // Retention renamed segment 0 to .deleted and moved the start offset, then the process died.
    renameSegment(dir, bases[0]!, '', '.deleted');
    writeStartOffset(dir, bases[1]!);
    if (!clean) markUnclean(dir);
    const log = Log.open(dir, SMALL);
    expect(log.recovery.cleanShutdown).toBe(clean);
    expect(log.startOffset).toBe(bases[1]);
    expectRecords(log, 180, bases[1]);
    const removed = actionsOf(log, 'deleted-leftover').map((a) => a.file).sort();
    expect(removed).toEqual(SUFFIXES.map((s) => segmentFile(dir, bases[0]!, s + '.deleted')).sort());
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.deleted'))).toEqual([]);
    log.close();
  });
});

describe('.cleaned files (a clean or split interrupted while writing its output)', () => {
  it('removes them and leaves the segments alone', () => {
    const { dir, bases } = closedLog();
    for (const suffix of SUFFIXES) fs.writeFileSync(segmentFile(dir, bases[1]!, suffix + '.cleaned'), 'half-written output');
    const log = Log.open(dir, SMALL);
    expect(actionsOf(log, 'deleted-leftover').map((a) => a.file).sort()).toEqual(SUFFIXES.map((s) => segmentFile(dir, bases[1]!, s + '.cleaned')).sort());
    expect(log.recovery.segmentsRecovered).toBe(0);
    expectRecords(log, 180);
    log.close();
  });
});

describe('.swap files (a rewrite of segments interrupted before it replaced them)', () => {
  /** A "compaction" of segments 0 and 1 into one: their batches, concatenated, as `<base 0>.log.swap`. */
  function writeSwap(dir: string, bases: number[]): void {
    const merged = Buffer.concat([fs.readFileSync(segmentFile(dir, bases[0]!, '.log')), fs.readFileSync(segmentFile(dir, bases[1]!, '.log'))]);
    fs.writeFileSync(segmentFile(dir, bases[0]!, '.log.swap'), merged);
  }

  it('completes the swap when the old segments are still there', () => {
    const { dir, bases } = closedLog();
    writeSwap(dir, bases);
    markUnclean(dir);
    const log = Log.open(dir, SMALL);
    expect(log.segments().map((s) => s.baseOffset)).toEqual([bases[0], ...bases.slice(2)]);
    expect(actionsOf(log, 'completed-swap')).toEqual([expect.objectContaining({ file: segmentFile(dir, bases[0]!, '.log') })]);
    const replaced = actionsOf(log, 'deleted-leftover').map((a) => a.file).sort();
    expect(replaced).toEqual([...SUFFIXES.map((s) => segmentFile(dir, bases[0]!, s)), ...SUFFIXES.map((s) => segmentFile(dir, bases[1]!, s))].sort());
    // The swapped-in segment has no index files of its own: rebuilt from its log.
    expect(actionsOf(log, 'rebuilt-indexes').map((a) => a.file)).toContain(segmentFile(dir, bases[0]!, '.log'));
    expectRecords(log, 180);
    log.close();
    const again = Log.open(dir, SMALL);
    expect(again.recovery.actions).toEqual([]);
    expectRecords(again, 180);
    again.close();
  });

  it('completes the swap when the old segments were already renamed to .deleted', () => {
    const { dir, bases } = closedLog();
    writeSwap(dir, bases);
    renameSegment(dir, bases[0]!, '', '.deleted');
    renameSegment(dir, bases[1]!, '', '.deleted');
    const log = Log.open(dir, SMALL);
    expect(log.segments().map((s) => s.baseOffset)).toEqual([bases[0], ...bases.slice(2)]);
    expect(actionsOf(log, 'completed-swap').length).toBe(1);
    expect(actionsOf(log, 'deleted-leftover').length).toBe(6);
    expectRecords(log, 180);
    log.close();
  });

  it('renames index .swap files along with the log', () => {
    const { dir, bases } = closedLog();
    // A rewrite of segment 1 alone, identical to it, with its indexes: the swap replaces it as is.
    for (const suffix of SUFFIXES) fs.copyFileSync(segmentFile(dir, bases[1]!, suffix), segmentFile(dir, bases[1]!, suffix + '.swap'));
    const log = Log.open(dir, SMALL);
    expect(actionsOf(log, 'completed-swap').map((a) => a.file).sort()).toEqual(SUFFIXES.map((s) => segmentFile(dir, bases[1]!, s)).sort());
    expect(actionsOf(log, 'rebuilt-indexes')).toEqual([]);
    expectRecords(log, 180);
    log.close();
  });

  it('drops a .swap at or above a .cleaned file (an unfinished split) and keeps the originals', () => {
    const { dir, bases } = closedLog();
    fs.writeFileSync(segmentFile(dir, bases[1]!, '.log.cleaned'), 'split output, unfinished');
    fs.copyFileSync(segmentFile(dir, bases[1]!, '.log'), segmentFile(dir, bases[2]!, '.log.swap'));
    const log = Log.open(dir, SMALL);
    expect(actionsOf(log, 'completed-swap')).toEqual([]);
    expect(actionsOf(log, 'deleted-leftover').map((a) => path.basename(a.file)).sort()).toEqual(
      [path.basename(segmentFile(dir, bases[1]!, '.log.cleaned')), path.basename(segmentFile(dir, bases[2]!, '.log.swap'))].sort(),
    );
    expect(log.segments().map((s) => s.baseOffset)).toEqual(bases);
    expectRecords(log, 180);
    log.close();
  });
});

describe('temporary checkpoint files', () => {
  it('removes a half-written .tmp and keeps using the checkpoint it was to replace', () => {
    const { dir, bases } = closedLog();
    fs.rmSync(segmentFile(dir, bases[0]!, '.log'));
    fs.rmSync(segmentFile(dir, bases[0]!, '.index'));
    fs.rmSync(segmentFile(dir, bases[0]!, '.timeindex'));
    writeStartOffset(dir, bases[1]! + 2);
    fs.writeFileSync(path.join(dir, 'log-start-offset-checkpoint.tmp'), '0\n1\nevents 0 99');
    fs.writeFileSync(path.join(dir, 'recovery-point-offset-checkpoint.tmp'), '0\n');
    fs.writeFileSync(path.join(dir, '.kafka_cleanshutdown.tmp'), '');
    const log = Log.open(dir, SMALL);
    expect(actionsOf(log, 'deleted-leftover').map((a) => path.basename(a.file)).sort()).toEqual([
      '.kafka_cleanshutdown.tmp',
      'log-start-offset-checkpoint.tmp',
      'recovery-point-offset-checkpoint.tmp',
    ]);
    expect(log.startOffset).toBe(bases[1]! + 2);
    expectRecords(log, 180, bases[1]! + 2);
    log.close();
  });
});

describe('index files without a segment, and empty index files', () => {
  it('removes index files that have no .log (empty ones past the last segment, stale ones before the first)', () => {
    const { dir } = closedLog();
    const orphans = [segmentFile(dir, 5000, '.index'), segmentFile(dir, 5000, '.timeindex'), segmentFile(dir, 7, '.index'), segmentFile(dir, 7, '.txnindex')];
    for (const file of orphans) fs.writeFileSync(file, '');
    fs.writeFileSync(orphans[2]!, Buffer.alloc(80, 1));
    const log = Log.open(dir, SMALL);
    expect(actionsOf(log, 'deleted-orphan-index').map((a) => a.file).sort()).toEqual([...orphans].sort());
    for (const file of orphans) expect(fs.existsSync(file)).toBe(false);
    expectRecords(log, 180);
    log.close();
  });

  it('rebuilds the empty index files of an active segment created just before a crash', () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 60);
    const image = crashImage(dir);
    log.close();
    const active = logFiles(image).at(-1)!;
    // The crash came between creating the index files and preallocating them.
    for (const suffix of ['.index', '.timeindex']) fs.truncateSync(active.replace(/\.log$/, suffix), 0);
    const reopened = Log.open(image, SMALL);
    expect(actionsOf(reopened, 'rebuilt-indexes').map((a) => a.file)).toContain(active);
    expectRecords(reopened, 180);
    appendBatches(reopened, 1);
    expectRecords(reopened, 183);
    reopened.close();
  });

  it('opens a cleanly closed segment whose empty index files hold no entry, and appends on', () => {
    const dir = partitionDir();
    const log = Log.open(dir, SMALL);
    appendBatches(log, 1);
    log.close();
    expect(fs.statSync(segmentFile(dir, 0, '.index')).size).toBe(0);
    const reopened = Log.open(dir, SMALL);
    expect(reopened.recovery.actions).toEqual([]);
    appendBatches(reopened, 30);
    expectRecords(reopened, 93);
    reopened.close();
  });
});
