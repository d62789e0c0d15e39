import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

const made: string[] = [];

/** A fresh directory under the OS temp dir, removed after the current test. */
export function tmpDir(prefix = 'seglog-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** The repository root (tests run from it, but be explicit). */
export const repoRoot = path.resolve(import.meta.dirname, '../..');

/** Real Kafka broker directories, beside the checkout; absent outside CI and the dev machines. */
export const fixturesDir = path.resolve(repoRoot, '../shared/kafka-fixtures');
export const fixturesExist = fs.existsSync(fixturesDir);
