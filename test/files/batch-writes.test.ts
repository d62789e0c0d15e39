import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeAddon, nativeDisabled } from '../../src/files/native.js';
import { ensureDist } from '../support/dist.js';
import { tmpDir } from '../support/tmp.js';

/**
 * The addon's write worker (native/writes.c) outlives every call and every environment: what the
 * suite's own process cannot show (a worker_thread cut short mid-call, the addon unloaded under
 * the worker, process exit while it runs) is run in child processes.
 */

/** Whether the addon can hand writes to its worker here (Linux, the addon, 2+ CPUs). */
const QUEUED = nativeAddon()?.startWrites !== undefined;

/** Where there is no worker to ask (the addon disabled, or not Linux), says why; the caller then has nothing to run. */
function noWorkerHere(): boolean {
  if (QUEUED) return false;
  expect(nativeAddon() === null ? nativeDisabled() : process.platform !== 'linux').toBe(true);
  return true;
}

function runChild(script: string, args: string[] = []): { stdout: string; stderr: string; status: number | null; signal: string | null } {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { stdout: out.stdout, stderr: out.stderr, status: out.status, signal: out.signal };
}

function nativeModule(): string {
  return JSON.stringify(path.join(path.dirname(ensureDist()), 'files', 'native.js'));
}

describe('the write worker across threads and environments', () => {
  it('survives a worker_thread terminated mid-call that alone loaded the addon, and can be had again after it', () => {
    if (noWorkerHere()) return;
    const file = path.join(tmpDir(), 'w.bin');
    // The worker_thread takes the worker, queues a write and spins: its finishWrites never runs.
    const script = `
      import { Worker } from 'node:worker_threads';
      import fs from 'node:fs';
      const code = \`(async () => {
        const { nativeAddon } = await import(${nativeModule()});
        const { parentPort } = await import('node:worker_threads');
        const a = nativeAddon();
        const fd = (await import('node:fs')).openSync(${JSON.stringify(file)}, 'w');
        const buf = Buffer.alloc(1 << 20, 1);
        for (let i = 0; i < 2; i++) { a.startWrites(); a.queueWrite(fd, buf, buf.length, 0); a.finishWrites(new Float64Array(1)); }
        parentPort.postMessage(a.startWrites() && a.queueWrite(fd, buf, buf.length, 0));
        for (;;);
      })()\`;
      const w = new Worker(code, { eval: true });
      const queued = await new Promise((resolve) => w.on('message', resolve));
      await w.terminate();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const { nativeAddon } = await import(${nativeModule()});
      const a = nativeAddon();
      const taken = a.startWrites();
      if (taken) a.finishWrites(new Float64Array(1));
      console.log(JSON.stringify({ queued, taken }));
    `;
    const out = runChild(script);
    expect(out.signal).toBeNull();
    expect(out.stderr).not.toMatch(/FATAL|Abort|Segmentation/);
    expect(out.status).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ queued: true, taken: true });
  });

  it('ends a call its thread left open at that thread\'s next call, and the worker sleeps meanwhile', () => {
    if (noWorkerHere()) return;
    const file = path.join(tmpDir(), 'w.bin');
    const script = `
      import fs from 'node:fs';
      const { nativeAddon } = await import(${nativeModule()});
      const a = nativeAddon();
      const fd = fs.openSync(${JSON.stringify(file)}, 'w');
      const buf = Buffer.alloc(1 << 20, 1);
      for (let i = 0; i < 2; i++) { a.startWrites(); a.queueWrite(fd, buf, buf.length, 0); a.finishWrites(new Float64Array(1)); }
      // A call whose finishWrites never comes (a stack overflow cut its JS short).
      a.startWrites();
      a.queueWrite(fd, buf, buf.length, 0);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      let state = null;
      for (const tid of fs.readdirSync('/proc/self/task')) {
        const stat = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
        if (stat.includes('(seglog-writes)')) state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      }
      const taken = a.startWrites();
      const results = new Float64Array(2);
      if (taken) {
        a.queueWrite(fd, buf, 100, 0);
        a.queueWrite(fd, buf, 200, 100);
        a.finishWrites(results);
      }
      console.log(JSON.stringify({ state, taken, results: [...results] }));
    `;
    const out = runChild(script);
    expect(out.status).toBe(0);
    const seen = JSON.parse(out.stdout) as { state: string | null; taken: boolean; results: number[] };
    // Sleeping (S), not spinning through the open call (R).
    expect(seen).toEqual({ state: 'S', taken: true, results: [100, 200] });
  });

  it('exits cleanly with topics appending on the main thread and worker_threads: at the end, by process.exit(), and with a worker_thread terminated mid-append', () => {
    const script = `
      import { Worker, isMainThread } from 'node:worker_threads';
      const dist = ${JSON.stringify(ensureDist())};
      const [mode, dir] = process.argv.slice(1);
      const { Topic } = await import(dist);
      let n = 0;
      const appendSome = (calls) => {
        const topic = Topic.open(dir + '/' + process.pid + '-' + (isMainThread ? 'm' : 'w') + '-' + n++, { name: 't', partitions: 4, segmentBytes: 1 << 20 });
        const value = Buffer.alloc(400, 7);
        const records = Array.from({ length: 100 }, (_, i) => ({ key: 'k' + i, value }));
        for (let i = 0; i < calls; i++) topic.append(records);
        return topic;
      };
      const code = \`(async () => {
        const { Topic } = await import(\${JSON.stringify(dist)});
        const { parentPort, workerData } = await import('node:worker_threads');
        const value = Buffer.alloc(400, 7);
        const records = Array.from({ length: 100 }, (_, i) => ({ key: 'k' + i, value }));
        parentPort.postMessage('started');
        for (let n = 0; n < 3 || workerData.forever; n++) {
          const topic = Topic.open(workerData.dir + '/' + n, { name: 't', partitions: 4, segmentBytes: 1 << 20 });
          for (let i = 0; i < 100; i++) topic.append(records);
          topic.close();
        }
      })()\`;
      const workers = [1, 2].map((i) => new Worker(code, { eval: true, workerData: { dir: dir + '/worker' + i, forever: mode === 'terminate' && i === 1 } }));
      await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
      const topic = appendSome(200);
      if (mode === 'terminate') await workers[0].terminate();
      if (mode === 'exit') process.exit(0);
      topic.close();
      await Promise.all(workers.slice(mode === 'terminate' ? 1 : 0).map((w) => new Promise((resolve) => w.on('exit', resolve))));
      console.log('ended');
    `;
    for (const mode of ['end', 'exit', 'terminate']) {
      const out = runChild(script, [mode, tmpDir()]);
      expect(out.stderr, mode).not.toMatch(/FATAL|Abort|Segmentation|Error/);
      expect({ mode, status: out.status, signal: out.signal }).toEqual({ mode, status: 0, signal: null });
      expect(out.stdout).toBe(mode === 'exit' ? '' : 'ended\n');
    }
  });
});
