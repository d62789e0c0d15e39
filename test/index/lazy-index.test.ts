import fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import { LogClosedError } from '../../src/errors.js';
import { LazyIndex } from '../../src/index/lazy-index.js';
import { OffsetIndex } from '../../src/index/offset-index.js';
import { indexPath, tempDir } from './helpers.js';

const BASE = 45;

function openFds(): number | null {
  return process.platform === 'linux' ? fs.readdirSync('/proc/self/fd').length : null;
}

describe('LazyIndex', () => {
  it('opens nothing until get(), then creates the file in write mode', () => {
    const dir = tempDir();
    const lazy = LazyIndex.forOffset(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 80 });
    expect(lazy.isLoaded).toBe(false);
    expect(fs.existsSync(lazy.file)).toBe(false);
    const idx = lazy.get();
    expect(idx).toBeInstanceOf(OffsetIndex);
    expect(lazy.get()).toBe(idx);
    expect(lazy.isLoaded).toBe(true);
    expect(fs.statSync(lazy.file).size).toBe(80);
    idx.append(BASE + 3, 30);
    lazy.close();
    expect(fs.statSync(lazy.file).size).toBe(8);
    expect(() => lazy.get()).toThrow(LogClosedError);
  });

  it('renames and deletes without opening', () => {
    const dir = tempDir();
    const file = indexPath(dir, BASE, '.timeindex');
    fs.writeFileSync(file, Buffer.alloc(12));
    const lazy = LazyIndex.forTime(file, BASE);
    lazy.renameTo(file + '.deleted');
    expect(lazy.isLoaded).toBe(false);
    expect(lazy.file).toBe(file + '.deleted');
    expect(fs.existsSync(file + '.deleted')).toBe(true);
    expect(lazy.deleteIfExists()).toBe(true);
    expect(lazy.deleteIfExists()).toBe(false);
    expect(fs.existsSync(file + '.deleted')).toBe(false);
    expect(lazy.isLoaded).toBe(false);

    // A never-created file only changes name.
    const missing = LazyIndex.forOffset(indexPath(dir, 99, '.index'), 99);
    missing.renameTo(missing.file + '.deleted');
    expect(missing.file.endsWith('.index.deleted')).toBe(true);
    missing.close();
  });

  it('renames an opened index through the index', () => {
    const dir = tempDir();
    const lazy = LazyIndex.forOffset(indexPath(dir, BASE, '.index'), BASE, { maxIndexSize: 80 });
    lazy.get().append(BASE + 1, 1);
    lazy.renameTo(lazy.file + '.deleted');
    expect(lazy.get().file).toBe(lazy.file);
    lazy.close();
    expect(fs.statSync(lazy.file).size).toBe(8);
  });

  it('makes 2,000 deferred indexes cheaply: no file opened, none created', () => {
    const dir = tempDir();
    const paths = Array.from({ length: 1000 }, (_, i) => [
      indexPath(dir, i * 1000, '.index'),
      indexPath(dir, i * 1000, '.timeindex'),
    ]);
    const before = openFds();
    const started = process.hrtime.bigint();
    const lazies = [];
    for (let i = 0; i < 1000; i++) {
      lazies.push(LazyIndex.forOffset(paths[i]![0]!, i * 1000));
      lazies.push(LazyIndex.forTime(paths[i]![1]!, i * 1000));
    }
    const micros = Number(process.hrtime.bigint() - started) / 1000;
    console.log(`2,000 LazyIndex objects in ${micros.toFixed(0)} µs`);
    if (before !== null) expect(openFds()).toBe(before);
    expect(fs.readdirSync(dir)).toEqual([]);
    for (const lazy of lazies) lazy.close();
  });
});
