import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, Log } from '../../src/index.js';
import { canReserveSpace } from '../../src/files/preallocate.js';
import { nativeAddon, nativeDisabled } from '../../src/files/native.js';
import { FileRecords } from '../../src/segment/file-records.js';
import { tmpDir } from '../support/tmp.js';

const MiB = 1024 * 1024;
const segmentLog = (dir: string, base: number): string => path.join(dir, `${String(base).padStart(20, '0')}.log`);

/** Bytes of disk the file holds (allocated blocks), as opposed to its length. */
function allocated(file: string): number {
  return fs.statSync(file).blocks * 512;
}

/** With the addon: at least `bytes` are reserved; without it (the fallback): only what was written. */
function expectReserved(file: string, bytes: number): void {
  if (nativeDisabled()) expect(allocated(file)).toBeLessThan(fs.statSync(file).size + 64 * 1024);
  else expect(allocated(file)).toBeGreaterThanOrEqual(bytes);
}

describe('space reserved ahead of the active segment', () => {
  it('is available on this platform (Linux, seglog\'s addon), and off with SEGLOG_NO_NATIVE', () => {
    // The speed of appends in the README depends on it; an addon missing from prebuilds/ must show here.
    expect(process.platform).toBe('linux');
    expect(canReserveSpace()).toBe(!nativeDisabled());
  });

  it('reserves blocks past the data without changing the file length, and gives them back at close', () => {
    const file = path.join(tmpDir(), 'a.log');
    const records = FileRecords.open(file, true, 64 * MiB);
    records.append(Buffer.alloc(5000, 1));
    expect(fs.statSync(file).size).toBe(5000);
    expectReserved(file, 4 * MiB);
    records.append(Buffer.alloc(3000, 2));
    expect(fs.statSync(file).size).toBe(8000);
    records.close();
    expect(fs.statSync(file).size).toBe(8000);
    expect(allocated(file)).toBeLessThan(64 * 1024);
    const back = fs.readFileSync(file);
    expect(back.subarray(0, 5000).every((b) => b === 1)).toBe(true);
    expect(back.subarray(5000).every((b) => b === 2)).toBe(true);
  });

  it('never reserves past the limit, and a reader opener reserves nothing', () => {
    const file = path.join(tmpDir(), 'b.log');
    const writer = FileRecords.open(file, true, 20_000);
    writer.append(Buffer.alloc(1000, 1));
    expect(allocated(file)).toBeLessThanOrEqual(20_000 + 4096);
    expectReserved(file, 16_384);
    const reader = FileRecords.open(file, false, 20_000);
    expect(reader.size).toBe(1000);
    reader.close();
    writer.close();
    expect(allocated(file)).toBeLessThanOrEqual(4096);
  });

  it('stops the largest append short of the limit, so a segment full enough to roll has nothing reserved past its end', () => {
    const file = path.join(tmpDir(), 'd.log');
    const batch = 100 * 1024;
    const limit = 2 * MiB;
    const records = FileRecords.open(file, true, limit);
    // Appends until the next batch would pass the limit: where a segment rolls for size.
    while (records.size + batch <= limit) records.append(Buffer.alloc(batch, 5));
    expectReserved(file, records.size - batch);
    // No block past the one holding the end: the roll's releaseReserved has nothing to free.
    expect(allocated(file)).toBeLessThanOrEqual(Math.ceil(records.size / 4096) * 4096);
    records.close();
    expect(fs.statSync(file).size).toBe(20 * batch);
  });

  it('frees what a truncation cuts, reserved blocks included, and reserves again on the next append', () => {
    const file = path.join(tmpDir(), 'c.log');
    const records = FileRecords.open(file, true, 64 * MiB);
    records.append(Buffer.alloc(10_000, 1));
    records.truncateTo(4000);
    expect(fs.statSync(file).size).toBe(4000);
    expect(allocated(file)).toBeLessThanOrEqual(8192);
    records.append(Buffer.alloc(100, 3));
    expectReserved(file, 4 * MiB);
    records.close();
    expect(fs.statSync(file).size).toBe(4100);
  });

  it('in a Log: the rolled segment gives its blocks back, the active one keeps a reservation', () => {
    const dir = path.join(tmpDir(), 'events-0');
    const log = Log.open(dir, { segmentBytes: 16 * MiB });
    const value = Buffer.alloc(1024, 7);
    for (let i = 0; i < 10; i++) log.append(Array.from({ length: 10 }, () => ({ value })));
    const first = segmentLog(dir, 0);
    expectReserved(first, 4 * MiB);
    const sizeBefore = fs.statSync(first).size;
    expect(sizeBefore).toBe(log.segments()[0]!.sizeBytes);
    log.roll();
    expect(allocated(first)).toBeLessThan(sizeBefore + 64 * 1024);
    log.append({ value });
    expectReserved(segmentLog(dir, 100), 4 * MiB);
    log.close();
    expect(allocated(segmentLog(dir, 100))).toBeLessThan(64 * 1024);
    const reopened = Log.open(dir, { readOnly: true });
    expect(reopened.read(0, { maxRecords: 1000 }).length).toBe(101);
    reopened.close();
  });

  it('in a Log: a segment whose files were made ahead has its blocks reserved by then, and its appends reserve no more', async () => {
    const dir = path.join(tmpDir(), 'events-0');
    const segmentBytes = 16 * MiB;
    const log = Log.open(dir, { segmentBytes });
    const value = Buffer.alloc(1024, 7);
    const batch = Array.from({ length: 100 }, () => ({ value }));
    const nextFiles = (): { state(): string } | null => (log as unknown as { local: { nextFiles: { state(): string } | null } }).local.nextFiles;
    while (log.segments()[0]!.sizeBytes < 0.6 * segmentBytes) log.append(batch);
    for (let i = 0; i < 5000 && nextFiles()?.state() === 'making'; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    while (log.segments().length === 1) log.append(batch);
    const second = segmentLog(dir, log.segments()[1]!.baseOffset);
    const largest = fs.statSync(second).size; // one call's batch: the largest append
    const prepared = nativeAddon()?.prepareFiles !== undefined;
    // Made ahead where the addon can (Linux): reserved up to twice the largest append short of the segment's size.
    if (prepared) expect(allocated(second)).toBeGreaterThanOrEqual(segmentBytes - 2 * largest - 4096);
    const reserved = allocated(second);
    for (let i = 0; i < 40; i++) log.append(batch);
    expect(log.segments()).toHaveLength(2);
    if (prepared) expect(allocated(second)).toBe(reserved);
    else expectReserved(second, 4 * MiB);
    log.close();
    expect(allocated(second)).toBeLessThan(fs.statSync(second).size + 64 * 1024);
  });

  it('gives back at the next close the blocks a crash left reserved past the active segment\'s data', () => {
    const addon = nativeAddon();
    if (addon === null) {
      expect(nativeDisabled()).toBe(true); // no addon: nothing is ever reserved, so a crash leaves nothing
      return;
    }
    const dir = tmpDir();
    let log = Log.open(dir);
    log.append({ value: Buffer.alloc(5000, 1) });
    log.close();
    // What a crash leaves of a segment made ahead of its roll: its whole expected length reserved.
    const file = segmentLog(dir, 0);
    const fd = fs.openSync(file, 'r+');
    expect(addon.fallocate!(fd, 0, 16 * MiB)).toBe(0);
    fs.closeSync(fd);
    expect(allocated(file)).toBeGreaterThanOrEqual(16 * MiB);
    log = Log.open(dir);
    expect(log.read(0, { maxRecords: 10 }).length).toBe(1);
    log.close();
    expect(fs.statSync(file).size).toBeLessThan(64 * 1024);
    expect(allocated(file)).toBeLessThan(64 * 1024);
  });

  it('is off with preallocate: false, and the option is type-checked', () => {
    const dir = path.join(tmpDir(), 'events-0');
    const log = Log.open(dir, { preallocate: false });
    log.append({ value: Buffer.alloc(1024) });
    expect(allocated(segmentLog(dir, 0))).toBeLessThan(64 * 1024);
    log.close();
    expect(() => Log.open(path.join(tmpDir(), 'x-0'), { preallocate: 'yes' as unknown as boolean })).toThrow(InvalidConfigError);
  });
});
