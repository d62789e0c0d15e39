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

/** True when every directory above `file` lets other users through and `file` lets them read (and run) it. */
function reachableByOthers(file: string): boolean {
  if ((fs.statSync(file).mode & 0o005) !== 0o005) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (path.dirname(dir) === dir) return true;
  }
}

/** The package's runtime dependencies, with theirs, as directories under `node_modules`. */
function runtimeDependencies(): string[] {
  const found = new Set<string>();
  const visit = (pkgDir: string): void => {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const name of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) {
      const dir = path.join(repoRoot, 'node_modules', name);
      if (found.has(dir) || !fs.existsSync(path.join(dir, 'package.json'))) continue; // optional ones for other platforms
      found.add(dir);
      visit(dir);
    }
  };
  visit(repoRoot);
  return [...found];
}

/**
 * A copy of the built package that any user can reach, for tests whose child process runs as
 * another user: the checkout may live under a directory only its owner may enter (a clone in a
 * `mktemp -d` directory, a private home), where that user could load neither `dist/` nor the
 * dependencies. Holds dist/, package.json, prebuilds/ or build/ (the addon), the runtime
 * dependencies, and the node binary too when the running one is out of reach. With
 * `addon: false`, without the addon: the package as an install that has no binary for its
 * platform gets it. Removed by the caller (`remove`).
 */
export function packageForAnyUser(options: { addon?: boolean } = {}): { entry: string; node: string; remove: () => void } {
  const dist = ensureDist();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-any-user-'));
  const copy = (from: string, to = path.relative(repoRoot, from)): void => {
    if (fs.existsSync(from)) fs.cpSync(from, path.join(root, to), { recursive: true, dereference: true });
  };
  copy(path.dirname(dist));
  copy(path.join(repoRoot, 'package.json'));
  if (options.addon !== false) {
    copy(path.join(repoRoot, 'prebuilds'));
    copy(path.join(repoRoot, 'build', 'Release'));
  }
  for (const dir of runtimeDependencies()) copy(dir);
  let node = process.execPath;
  if (!reachableByOthers(node)) {
    copy(node, 'node');
    node = path.join(root, 'node');
  }
  // mkdtemp makes the directory 0700; the copies keep their own modes (world-readable here).
  fs.chmodSync(root, 0o755);
  return { entry: path.join(root, 'dist', 'index.js'), node, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}
