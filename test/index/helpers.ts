import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach } from 'vitest';

/** The repository root (two levels above this file). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const dirs: string[] = [];

/** A fresh temporary directory, removed after the test. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-index-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Paths of the form `<dir>/00000000000000000045.index` as a segment names them. */
export function indexPath(dir: string, baseOffset: number, suffix: '.index' | '.timeindex'): string {
  return path.join(dir, String(baseOffset).padStart(20, '0') + suffix);
}

/** Overwrite bytes of a file at a position. */
export function patchFile(file: string, position: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    fs.closeSync(fd);
  }
}

export function int32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeInt32BE(v, i * 4));
  return b;
}

/** Whether this process currently maps `file` (Linux only; null elsewhere). */
export function isMapped(file: string): boolean | null {
  if (process.platform !== 'linux') return null;
  const real = fs.realpathSync(path.dirname(file));
  const target = path.join(real, path.basename(file));
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .some((line) => line.endsWith(' ' + target) || line.endsWith(' ' + target + ' (deleted)'));
}
