import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './tmp.js';

const { waitForLockSync, unlock } = createRequire(import.meta.url)('fs-native-extensions') as {
  waitForLockSync(fd: number): void;
  unlock(fd: number): void;
};

/**
 * Child processes run the compiled package: `dist/index.js`, built with `tsconfig.build.json`
 * when it is missing or older than any file under `src/`. Returns its path.
 */
export function ensureDist(): string {
  const entry = path.join(repoRoot, 'dist', 'index.js');
  // Test files run in parallel workers: one builds while the others wait (the lock dies with its holder).
  const fd = fs.openSync(path.join(os.tmpdir(), 'seglog-dist-build.lock'), 'a+');
  try {
    waitForLockSync(fd);
    build(entry);
  } finally {
    unlock(fd);
    fs.closeSync(fd);
  }
  return entry;
}

function build(entry: string): void {
  if (!fs.existsSync(entry) || fs.statSync(entry).mtimeMs < newestMtime(path.join(repoRoot, 'src'))) {
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: repoRoot, encoding: 'utf8' });
    // Type errors elsewhere do not stop tsc from emitting; only a missing output is fatal here.
    if (!fs.existsSync(entry)) throw new Error(`build of dist/ failed:\n${result.stdout}\n${result.stderr}`);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Names, sizes and modification times of every entry of `dir`: a fingerprint of "nothing changed". */
export function dirState(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const st = fs.statSync(path.join(dir, name));
    out[name] = `${st.isDirectory() ? 'dir' : 'file'} ${st.size} ${st.mtimeMs} ${st.mode.toString(8)}`;
  }
  return out;
}
