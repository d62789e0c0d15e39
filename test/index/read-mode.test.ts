import fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import { ReadOnlyLogError } from '../../src/errors.js';
import { OffsetIndex } from '../../src/index/offset-index.js';
import { TimeIndex } from '../../src/index/time-index.js';
import { indexPath, isMapped, tempDir } from './helpers.js';
import { nativeDisabled } from '../../src/files/native.js';

const BASE = 45;
const T0 = 1_700_000_000_000;

describe("'read' mode next to a live writer", () => {
  it('sees the entries a writer appended, after refresh', () => {
    const dir = tempDir();
    const writer = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 1000 * 8 });
    writer.append(BASE + 1, 10);
    const reader = new OffsetIndex(writer.file, BASE, { mode: 'read', detectZeroTail: true });
    expect(reader.entries).toBe(1);
    writer.append(BASE + 2, 20);
    writer.append(BASE + 3, 30);
    expect(reader.entries).toBe(1); // a snapshot until refresh
    expect(reader.lookup(BASE + 3)).toEqual({ offset: BASE + 1, position: 10 });
    reader.refresh();
    expect(reader.entries).toBe(3);
    expect(reader.lastOffset).toBe(BASE + 3);
    expect(reader.lookup(BASE + 3)).toEqual({ offset: BASE + 3, position: 30 });
    // The writer rolls: the file is trimmed under the reader.
    writer.close();
    reader.refresh();
    expect(reader.fileLength).toBe(24);
    expect(reader.entries).toBe(3);
    reader.close();
  });

  it('keeps working, without crashing, when the writer shrinks the file under it', () => {
    const dir = tempDir();
    const writer = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE); // 10 MiB preallocated
    for (let i = 1; i <= 5000; i++) writer.append(BASE + i, i * 10);
    const reader = new OffsetIndex(writer.file, BASE, { mode: 'read', detectZeroTail: true });
    const timeWriter = new TimeIndex(indexPath(dir, BASE, '.timeindex'), BASE);
    for (let i = 1; i <= 5000; i++) timeWriter.maybeAppend(T0 + i, BASE + i);
    const timeReader = new TimeIndex(timeWriter.file, BASE, { mode: 'read', detectZeroTail: true });
    expect(reader.entries).toBe(5000);
    // The last entry of a time index that goes on past it waits for the next one (or the trim).
    expect(timeReader.entries).toBe(4999);

    // The writer truncates to 10 entries and trims: the file is now 80 bytes, the reader still
    // believes in 5000 entries. A mapping would take SIGBUS here; positional reads come back short.
    writer.truncateTo(BASE + 11);
    writer.trimToValidSize();
    timeWriter.truncateTo(BASE + 11);
    timeWriter.trimToValidSize();
    expect(fs.statSync(writer.file).size).toBe(80);
    for (let target = BASE; target <= BASE + 6000; target += 7) {
      const found = reader.lookup(target);
      // Stale, but safe: either a real entry below the cut or a conservative (base, 0).
      expect(found.offset <= target || found.offset === BASE).toBe(true);
      timeReader.lookup(T0 + target - BASE);
    }
    expect([BASE, BASE + 5]).toContain(reader.lookup(BASE + 5).offset);

    reader.refresh();
    timeReader.refresh();
    expect(reader.entries).toBe(10);
    expect(reader.lookup(BASE + 6000)).toEqual({ offset: BASE + 10, position: 100 });
    expect(timeReader.entries).toBe(10);
    expect(timeReader.lastEntry).toEqual({ timestamp: T0 + 10, offset: BASE + 10 });

    // Truncated to nothing and the file emptied.
    writer.truncateTo(BASE);
    writer.trimToValidSize();
    // Before refresh: a stale answer (a block read earlier) or zeros read back; no crash.
    expect([BASE, BASE + 3]).toContain(reader.lookup(BASE + 3).offset);
    reader.refresh();
    expect(reader.entries).toBe(0);
    for (const idx of [writer, reader, timeWriter, timeReader]) idx.close();
  });

  it('never maps the file', () => {
    const dir = tempDir();
    const source = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 800 });
    for (let i = 1; i <= 50; i++) source.append(BASE + i, i);
    source.closeWithoutTrim();
    // A copy this process never opened in write mode (the writer's mapping may linger until GC).
    const copy = indexPath(dir, BASE + 1, '.index');
    fs.copyFileSync(source.file, copy);
    const reader = new OffsetIndex(copy, BASE, { mode: 'read', detectZeroTail: true });
    expect(reader.entries).toBe(50);
    expect(reader.lookup(BASE + 20)).toEqual({ offset: BASE + 20, position: 20 });
    reader.sanityCheck({ fullScan: true });
    reader.refresh();
    const mapped = isMapped(copy);
    if (mapped !== null) expect(mapped).toBe(false);
    // Reading never writes: the untrimmed length survives close.
    reader.close();
    expect(fs.statSync(copy).size).toBe(800);
    // ...while the write mode does map it (this is how the check above could fail), unless the
    // addon is disabled: then the writer uses positional writes and maps nothing either.
    const writer = new OffsetIndex(copy, BASE, { maxIndexSize: 800 });
    if (mapped !== null) expect(isMapped(copy)).toBe(!nativeDisabled());
    writer.closeWithoutTrim();
  });

  it('never takes a time index slot the writer is still writing: its value stored, its key not, or half of it', () => {
    const dir = tempDir();
    const file = indexPath(dir, BASE, '.timeindex');
    const writer = new TimeIndex(file, BASE, { maxIndexSize: 120 });
    // The writer stores a slot's value, then the key's high half, then its low half; a reader in
    // another process may copy the first slot between two of those stores.
    const key = T0 + 20;
    const high = Math.floor(key / 2 ** 32) * 2 ** 32;
    const fd = fs.openSync(file, 'r+');
    for (const seen of [0, high]) {
      const slot = Buffer.alloc(12);
      slot.writeInt32BE(Math.floor(seen / 2 ** 32), 0);
      slot.writeUInt32BE(seen % 2 ** 32, 4);
      slot.writeInt32BE(20, 8);
      fs.writeSync(fd, slot, 0, 12, 0);
      const reader = new TimeIndex(file, BASE, { mode: 'read', detectZeroTail: true });
      // Taken, it said no record below BASE + 20 reaches T0 + 5: a lookup then skipped them.
      expect(reader.lookup(T0 + 5)).toEqual({ timestamp: -1, offset: BASE });
      reader.close();
    }
    fs.closeSync(fd);
    writer.closeWithoutTrim();
  });

  it('reads a missing file as empty until it appears', () => {
    const dir = tempDir();
    const file = indexPath(dir, BASE, '.timeindex');
    const reader = new TimeIndex(file, BASE, { mode: 'read', detectZeroTail: true });
    expect(reader.entries).toBe(0);
    expect(reader.lookup(T0)).toEqual({ timestamp: -1, offset: BASE });
    expect(fs.existsSync(file)).toBe(false);
    const writer = new TimeIndex(file, BASE, { maxIndexSize: 120 });
    writer.maybeAppend(T0, BASE + 2);
    reader.refresh();
    // The writer's last entry, in a file that goes on past it, waits for the next one.
    expect(reader.entries).toBe(0);
    writer.maybeAppend(T0 + 3, BASE + 4);
    reader.refresh();
    expect(reader.entries).toBe(1);
    expect(reader.lookup(T0 + 5)).toEqual({ timestamp: T0, offset: BASE + 2 });
    writer.close();
    reader.refresh();
    expect(reader.entries).toBe(2);
    expect(reader.lookup(T0 + 5)).toEqual({ timestamp: T0 + 3, offset: BASE + 4 });
    reader.close();
  });

  it('follows the path when the file is replaced, and keeps a renamed-away file readable', () => {
    const dir = tempDir();
    const file = indexPath(dir, BASE, '.index');
    const first = new OffsetIndex(file, BASE, { maxIndexSize: 80 });
    first.append(BASE + 1, 1);
    first.close();
    const reader = new OffsetIndex(file, BASE, { mode: 'read' });
    expect(reader.entries).toBe(1);

    // Renamed away (the `.deleted` step): the reader's descriptor still reads it.
    fs.renameSync(file, file + '.deleted');
    reader.refresh();
    expect(reader.lookup(BASE + 1)).toEqual({ offset: BASE + 1, position: 1 });

    // A new file at the path: refresh switches to it.
    const second = new OffsetIndex(file, BASE, { maxIndexSize: 80 });
    second.append(BASE + 7, 70);
    second.append(BASE + 8, 80);
    second.close();
    reader.refresh();
    expect(reader.entries).toBe(2);
    expect(reader.lookup(BASE + 100)).toEqual({ offset: BASE + 8, position: 80 });
    reader.close();
  });

  it('refresh is a no-op in write mode', () => {
    const dir = tempDir();
    const writer = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 80 });
    writer.append(BASE + 1, 1);
    writer.refresh();
    expect(writer.entries).toBe(1);
    writer.close();
  });
});

describe("'read' mode never changes the directory", () => {
  it('refuses to rename or delete', () => {
    const dir = tempDir();
    const writer = new OffsetIndex(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 80 });
    writer.append(BASE + 1, 1);
    writer.close();
    const reader = new OffsetIndex(writer.file, BASE, { mode: 'read' });
    expect(() => reader.renameTo(writer.file + '.deleted')).toThrow(ReadOnlyLogError);
    expect(() => reader.deleteIfExists()).toThrow(ReadOnlyLogError);
    reader.close();
    expect(fs.statSync(writer.file).size).toBe(8);
  });
});
