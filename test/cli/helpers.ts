/**
 * Runs the built `seglog` command as a user would: `node <package>/dist/cli/main.js ...` in a
 * child process. `ensureBuilt()` compiles src/ with the package's own build config
 * (tsconfig.build.json) once, when the build is missing or older than a source file.
 *
 * The build goes to a package directory of the tests' own under the OS temp dir (package.json
 * copied, node_modules linked), not to the checkout's dist/: other work rebuilding dist/ at the
 * same time cannot then hand a test a half-written build. Test files run in parallel; a lock
 * directory makes one of them build while the others wait.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll } from 'vitest';

import { repoRoot } from '../support/tmp.js';

export { repoRoot, tmpDir, fixturesDir, fixturesExist } from '../support/tmp.js';

const PACKAGE = path.join(os.tmpdir(), `seglog-cli-test-${createHash('sha1').update(repoRoot).digest('hex').slice(0, 12)}`);
/** The package's dist/, as `npm run build` would lay it out. */
export const DIST = path.join(PACKAGE, 'dist');
export const CLI = path.join(DIST, 'cli/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

const STAMP = path.join(PACKAGE, 'built-at');

function isFresh(): boolean {
  try {
    return fs.existsSync(CLI) && Number(fs.readFileSync(STAMP, 'utf8')) >= newestSource(path.join(repoRoot, 'src'));
  } catch {
    return false;
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Builds the package (tsc -p tsconfig.build.json) unless it is up to date. */
export function ensureBuilt(): void {
  if (isFresh()) return;
  const lock = `${PACKAGE}.lock`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (fs.existsSync(lock) && Date.now() - fs.statSync(lock).mtimeMs > 180_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for another test file to build (${lock})`);
      sleep(200);
    }
  }
  try {
    if (isFresh()) return;
    const sourcesAt = newestSource(path.join(repoRoot, 'src'));
    fs.rmSync(PACKAGE, { recursive: true, force: true });
    fs.mkdirSync(PACKAGE, { recursive: true });
    fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(PACKAGE, 'package.json'));
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(PACKAGE, 'node_modules'), 'dir');
    const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', DIST], { cwd: repoRoot, encoding: 'utf8' });
    // tsc emits even when a file elsewhere has a type error; what the tests need is the CLI.
    if (!fs.existsSync(CLI)) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
    if (r.status !== 0) console.warn(`tsc reported errors (the CLI was still emitted):\n${r.stdout}`);
    fs.writeFileSync(STAMP, String(sourcesAt));
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `seglog ...args`; never throws on a non-zero exit. */
export function seglog(args: string[], env: Record<string, string> = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: 120_000,
  });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `seglog ...args --json`, parsed as one JSON document. */
export function seglogJson<T = Record<string, unknown>>(args: string[]): { status: number | null; doc: T; stderr: string } {
  const r = seglog([...args, '--json']);
  let doc: T;
  try {
    doc = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${r.status}):\n${r.stdout.slice(0, 2000)}\n${r.stderr}`);
  }
  return { status: r.status, doc, stderr: r.stderr };
}

/** `seglog ...args --json`, parsed as JSON lines. */
export function seglogLines(args: string[]): { status: number | null; lines: Record<string, unknown>[]; stderr: string } {
  const r = seglog([...args, '--json']);
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, lines, stderr: r.stderr };
}

/** Copies a directory (tests damage copies, never the originals). */
export function copyDir(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  fs.chmodSync(to, 0o755);
  for (const name of fs.readdirSync(to)) fs.chmodSync(path.join(to, name), 0o644);
  return to;
}

/** Overwrites bytes of a file at `position`. */
export function patch(file: string, position: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flips every bit of the byte at `position`. */
export function flipByte(file: string, position: number): void {
  const b = fs.readFileSync(file);
  patch(file, position, Buffer.from([b[position]! ^ 0xff]));
}

/** `00000000000000000042.log` etc. */
export function segmentFile(dir: string, baseOffset: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return path.join(dir, String(baseOffset).padStart(20, '0') + suffix);
}

const suiteDirs: string[] = [];
afterAll(() => {
  for (const dir of suiteDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory that lasts until the test file ends (`tmpDir()` goes after each test). */
export function suiteTmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-cli-'));
  suiteDirs.push(dir);
  return dir;
}
