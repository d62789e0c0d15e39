import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { LogLoader, type LoadParams } from '../../src/log/log-loader.js';
import type { SegmentOptions } from '../../src/segment/log-segment.js';
import { rawOffsetIndex } from '../support/raw-log.js';
import { tmpDir } from '../support/tmp.js';

/**
 * LogLoader on crafted directories: what it rebuilds, removes and reports, called directly (the
 * `Log.open` paths through it are in test/system/durability/).
 */

const CONFIG = { segmentBytes: 2048, segmentIndexBytes: 1200, indexIntervalBytes: 200 };

function segmentOptions(writable: boolean): (base: number) => SegmentOptions {
  return () => ({ indexIntervalBytes: 200, maxIndexSize: 1200, rollJitterMs: 0, writable, now: 0, reserveLimit: 0 });
}

/** A cleanly closed log of 3+ segments; returns its directory and the base offsets. */
function closedLog(): { dir: string; bases: number[] } {
  const dir = path.join(tmpDir(), 'crafted-0');
  const log = Log.open(dir, CONFIG);
  for (let i = 0; i < 60; i++) log.append([{ key: `k${i}`, value: 'x'.repeat(60), timestamp: 1_000 + i }]);
  const bases = log.segments().map((s) => s.baseOffset);
  log.close();
  expect(bases.length).toBeGreaterThanOrEqual(3);
  return { dir, bases };
}

function name(base: number, suffix: string): string {
  return String(base).padStart(20, '0') + suffix;
}

function load(dir: string, overrides: Partial<LoadParams> = {}) {
  return new LogLoader({ dir, writable: true, cleanShutdown: true, recoveryPoint: 0, logStartOffset: 0, segmentOptions: segmentOptions(overrides.writable ?? true), ...overrides }).load();
}

function closeAll(loaded: ReturnType<typeof load>): void {
  for (const s of loaded.segments.values()) s.close();
}

describe('LogLoader on crafted directories', () => {
  it('trusts sound indexes after a clean shutdown: nothing rebuilt, nothing removed', () => {
    const { dir, bases } = closedLog();
    const loaded = load(dir);
    expect(loaded.report.actions).toEqual([]);
    expect(loaded.segments.values().map((s) => s.baseOffset)).toEqual(bases);
    expect(loaded.recoveryPoint).toBe(60);
    closeAll(loaded);
  });

  it('rebuilds a missing, a short and a corrupt index, reporting why, equal to what the writer wrote', () => {
    const { dir, bases } = closedLog();
    const index = (b: number): string => path.join(dir, name(b, '.index'));
    const written = bases.map((b) => rawOffsetIndex(index(b), b));
    fs.rmSync(index(bases[0]!));
    fs.truncateSync(index(bases[1]!), fs.statSync(index(bases[1]!)).size - 3);
    const third = fs.readFileSync(index(bases[2]!));
    third.writeInt32BE(0, third.length - 8);
    fs.writeFileSync(index(bases[2]!), third);
    const loaded = load(dir);
    const rebuilt = loaded.report.actions.filter((a) => a.action === 'rebuilt-indexes');
    expect(rebuilt.map((a) => path.basename(a.file))).toEqual(bases.slice(0, 3).map((b) => name(b, '.log')));
    expect(rebuilt[0]!.detail).toMatch(/is missing/);
    expect(rebuilt[1]!.detail).toMatch(/not a multiple of 8/);
    expect(rebuilt[2]!.detail).toMatch(/not above its first offset/);
    closeAll(loaded);
    expect(bases.map((b) => rawOffsetIndex(index(b), b))).toEqual(written);
  });

  it('removes leftovers: .deleted, .cleaned, .tmp and index files without a .log, and leaves foreign files alone', () => {
    const { dir, bases } = closedLog();
    const leftovers = [name(7, '.log.deleted'), name(7, '.index.deleted'), name(bases[1]!, '.log.cleaned'), 'recovery-point-offset-checkpoint.tmp', name(999_999, '.index')];
    for (const f of leftovers) fs.writeFileSync(path.join(dir, f), 'x');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const loaded = load(dir);
    const removed = loaded.report.actions.filter((a) => a.action === 'deleted-leftover' || a.action === 'deleted-orphan-index').map((a) => path.basename(a.file));
    expect(removed.sort()).toEqual([...leftovers].sort());
    for (const f of leftovers) expect(fs.existsSync(path.join(dir, f))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    closeAll(loaded);
  });

  it('after a crash recovers from the segment holding the recovery point and cuts a torn tail', () => {
    const { dir, bases } = closedLog();
    const active = path.join(dir, name(bases.at(-1)!, '.log'));
    const size = fs.statSync(active).size;
    fs.appendFileSync(active, Buffer.alloc(25, 1));
    const loaded = load(dir, { cleanShutdown: false, recoveryPoint: bases[1]! });
    const recovered = loaded.report.actions.filter((a) => a.action === 'rebuilt-indexes').map((a) => path.basename(a.file));
    expect(recovered).toEqual(bases.slice(1).map((b) => name(b, '.log')));
    expect(loaded.report.truncatedBytes).toBe(25);
    expect(fs.statSync(active).size).toBe(size);
    expect(loaded.recoveryPoint).toBe(bases[1]!);
    closeAll(loaded);
  });

  it('a read-only load changes nothing on disk, leftovers and bad indexes included', () => {
    const { dir, bases } = closedLog();
    fs.writeFileSync(path.join(dir, name(7, '.log.deleted')), 'x');
    fs.rmSync(path.join(dir, name(bases[0]!, '.index')));
    const before = fs.readdirSync(dir).sort();
    const loaded = load(dir, { writable: false });
    expect(loaded.report.actions).toEqual([]);
    expect(loaded.segments.count).toBe(bases.length);
    for (const s of loaded.segments.values()) s.closeHandlers();
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  });
});
