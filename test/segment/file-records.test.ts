import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogIOError } from '../../src/errors.js';
import { FileRecords } from '../../src/segment/file-records.js';
import { tmpDir } from '../support/tmp.js';

function file(): string {
  return path.join(tmpDir(), '00000000000000000000.log');
}

describe('FileRecords', () => {
  it('appends at the end, returns each position, and reads back what it wrote', () => {
    const f = file();
    const records = FileRecords.open(f, true);
    expect(records.size).toBe(0);
    expect(records.append(Buffer.from('hello'))).toBe(0);
    expect(records.append(Buffer.from('world!!'), 5)).toBe(5);
    expect(records.size).toBe(10);
    const into = Buffer.alloc(10);
    expect(records.readInto(into, 0, 10, 0)).toBe(10);
    expect(into.toString()).toBe('helloworld');
    expect(records.readInto(into, 0, 10, 8)).toBe(2);
    records.close();
    expect(fs.readFileSync(f).toString()).toBe('helloworld');
  });

  it('opens an existing file at its length; a reader opens it read-only and follows its growth on refresh', () => {
    const f = file();
    fs.writeFileSync(f, Buffer.alloc(100, 1));
    const writer = FileRecords.open(f, true);
    const reader = FileRecords.open(f, false);
    expect(writer.size).toBe(100);
    expect(reader.size).toBe(100);
    writer.append(Buffer.alloc(20, 2));
    expect(reader.size).toBe(100);
    expect(reader.refreshSize()).toBe(120);
    writer.close();
    reader.close();
  });

  it('truncates to a smaller size and returns the bytes cut; the file length follows', () => {
    const f = file();
    const records = FileRecords.open(f, true);
    records.append(Buffer.alloc(64, 7));
    expect(records.truncateTo(40)).toBe(24);
    expect(records.size).toBe(40);
    expect(records.truncateTo(40)).toBe(0);
    records.flush();
    records.close();
    expect(fs.statSync(f).size).toBe(40);
  });

  it('renames the open file and deletes it', () => {
    const f = file();
    const records = FileRecords.open(f, true);
    records.append(Buffer.from('x'));
    const renamed = `${f}.deleted`;
    records.renameTo(renamed);
    expect(records.file).toBe(renamed);
    expect(fs.existsSync(f)).toBe(false);
    records.append(Buffer.from('y'));
    records.deleteIfExists();
    expect(fs.existsSync(renamed)).toBe(false);
  });

  it('throws LogIOError naming the file when it cannot be opened', () => {
    const missing = path.join(tmpDir(), 'nothing-here', '00000000000000000000.log');
    expect(() => FileRecords.open(missing, false)).toThrow(LogIOError);
    expect(() => FileRecords.open(missing, false)).toThrow(/nothing-here/);
  });

  it('syncs off the main thread', async () => {
    const records = FileRecords.open(file(), true);
    records.append(Buffer.alloc(4096, 3));
    await expect(records.flushAsync()).resolves.toBeUndefined();
    records.close();
  });

  it('keeps the descriptor open for a sync still running when the file is closed or suspended', async () => {
    for (const giveUp of ['close', 'suspend'] as const) {
      const records = FileRecords.open(file(), true);
      records.append(Buffer.alloc(4096, 3));
      const syncs = [records.flushAsync(), records.flushAsync()];
      records[giveUp]();
      // A descriptor closed under the syncs fails them (EBADF), or, reused by this open, syncs another file.
      const other = fs.openSync(path.join(tmpDir(), 'other'), 'w');
      await expect(Promise.all(syncs)).resolves.toEqual([undefined, undefined]);
      fs.closeSync(other);
      records.close();
    }
  });
});
