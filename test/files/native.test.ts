import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { addonCandidates, nativeAddon, nativeDisabled, packageRoot } from '../../src/files/native.js';
import { PwriteStorage } from '../../src/index/positional-storage.js';
import { ensureDist, packageForAnyUser } from '../support/dist.js';
import { repoRoot, tmpDir } from '../support/tmp.js';

const NOTICE = /^seglog: indexes use positional reads and writes, not memory mapping: (.*)$/gm;

/** Runs a child that opens two logs in write mode and appends to both; returns its stderr. */
function twoLogsIn(dist: string, env: NodeJS.ProcessEnv = {}): { stderr: string; status: number | null } {
  const dir = tmpDir();
  const script = `
    import { Log } from ${JSON.stringify(dist)};
    for (const name of ['a-0', 'b-0']) {
      const log = Log.open(${JSON.stringify(dir)} + '/' + name, { segmentBytes: 4096 });
      for (let i = 0; i < 50; i++) log.append({ value: Buffer.alloc(300, i) });
      if (log.read(0, { maxRecords: 100 }).length !== 50) throw new Error('lost records');
      log.close();
    }`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { stderr: out.stderr, status: out.status };
}

describe('the addon lookup', () => {
  it('finds the package root and looks in prebuilds/<platform>-<arch>/ first, then build/Release/', () => {
    expect(packageRoot()).toBe(repoRoot);
    expect(addonCandidates('/pkg')).toEqual([
      `/pkg/prebuilds/${process.platform}-${process.arch}/seglog_native.node`,
      '/pkg/build/Release/seglog_native.node',
    ]);
  });

  it('loads here unless SEGLOG_NO_NATIVE is set (CI builds prebuilds/ before the tests)', () => {
    expect(nativeAddon() === null).toBe(nativeDisabled());
  });

  it('offers retainFreedMemory (for seglog serve) exactly where the C library is glibc, and it applies', () => {
    const addon = nativeAddon();
    const header = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header;
    const glibc = process.platform === 'linux' && header.glibcVersionRuntime !== undefined;
    expect(typeof addon?.retainFreedMemory).toBe(addon !== null && glibc ? 'function' : 'undefined');
    if (addon?.retainFreedMemory !== undefined) expect(addon.retainFreedMemory()).toBe(true);
  });
});

describe('heapAddress', () => {
  it('gives the address of memory in the brk heap, -1 for memory mapped apart, and rejects what is not an ArrayBuffer', () => {
    const heapAddress = nativeAddon()?.heapAddress;
    if (heapAddress === undefined) return expect(nativeAddon()).toBeNull(); // addon disabled: nothing to ask
    const small = Buffer.allocUnsafeSlow(64 * 1024);
    const at = heapAddress(small.buffer);
    // glibc serves 64 KiB from the heap that brk grows; past 32 MiB (its highest mmap threshold) it maps apart.
    if (process.platform === 'linux') expect(at).toBeGreaterThan(0);
    if (at >= 0) expect(at % 16).toBe(0);
    expect(heapAddress(Buffer.allocUnsafeSlow(64 * 1024 * 1024).buffer)).toBe(-1);
    const detached = Buffer.allocUnsafeSlow(64 * 1024).buffer;
    structuredClone(detached, { transfer: [detached] });
    expect(heapAddress(detached)).toBe(-1);
    expect(() => heapAddress(small as unknown as ArrayBuffer)).toThrow(TypeError);
  });
});

describe('without memory mapping', () => {
  it('says so in one line per process, not per log, and the logs work (a package without its binary)', () => {
    const copy = packageForAnyUser({ addon: false });
    try {
      const { stderr, status } = twoLogsIn(copy.entry, { SEGLOG_NO_NATIVE: '' });
      expect(status).toBe(0);
      const lines = [...stderr.matchAll(NOTICE)];
      expect(lines).toHaveLength(1);
      expect(lines[0]![1]).toBe(`no seglog_native.node for ${process.platform}-${process.arch} in the package`);
    } finally {
      copy.remove();
    }
  });

  it('says nothing where the addon maps the indexes, nor where SEGLOG_NO_NATIVE asked for the fallbacks', () => {
    for (const value of ['0', '1']) {
      const { stderr, status } = twoLogsIn(ensureDist(), { SEGLOG_NO_NATIVE: value });
      expect(status).toBe(0);
      expect(stderr).not.toMatch(NOTICE);
    }
  });
});

describe('PwriteStorage (the writer\'s index storage without the addon)', () => {
  it('writes through to the file, keeps its cached block in step, zeroes, resizes and releases', () => {
    const file = path.join(tmpDir(), '00000000000000000000.index');
    const { storage, created } = PwriteStorage.open(file, 16384);
    expect(created).toBe(true);
    expect(storage.length).toBe(16384);
    storage.setInt32(8, 7);
    expect(storage.int32(8)).toBe(7); // read caches the block at 0..4096
    storage.setInt32(12, -5); // inside the cached block
    storage.setInt64(4092, 2 ** 40 + 3); // straddles the cached block's end
    expect(storage.int32(12)).toBe(-5);
    expect(storage.int64(4092)).toBe(2 ** 40 + 3);
    const bytes = fs.readFileSync(file);
    expect(bytes.readInt32BE(8)).toBe(7);
    expect(bytes.readInt32BE(12)).toBe(-5);
    expect(Number(bytes.readBigInt64BE(4092))).toBe(2 ** 40 + 3);
    storage.zero(0, 16);
    expect(storage.int32(8)).toBe(0);
    expect(fs.readFileSync(file).readInt32BE(12)).toBe(0);
    storage.flush();
    storage.resize(4104);
    expect(storage.length).toBe(4104);
    expect(fs.statSync(file).size).toBe(4104);
    storage.release();
    storage.release();
    const again = PwriteStorage.open(file, 16384);
    expect(again.created).toBe(false);
    expect(again.storage.int64(4092)).toBe(2 ** 40 + 3);
    again.storage.release();
  });
});

describe('the addon\'s mappings', () => {
  it('unmap detaches the buffer (a stale view throws, a second unmap does nothing); msync checks its range', () => {
    const addon = nativeAddon();
    if (addon === null) {
      expect(nativeDisabled()).toBe(true);
      return;
    }
    const file = path.join(tmpDir(), 'm.bin');
    const fd = fs.openSync(file, 'w+');
    fs.ftruncateSync(fd, 8192);
    const mapping = addon.map(fd, 8192, true);
    const view = new DataView(mapping);
    view.setInt32(100, 0x1234567);
    addon.msync(mapping, 0, 8192);
    expect(fs.readFileSync(file).readInt32BE(100)).toBe(0x1234567);
    expect(() => addon.msync(mapping, 4096, 8192)).toThrow(RangeError);
    addon.unmap(mapping);
    expect(mapping.byteLength).toBe(0);
    expect(() => view.getInt32(100)).toThrow(TypeError);
    expect(() => addon.unmap(mapping)).not.toThrow();
    expect(() => addon.msync(mapping, 0, 1)).toThrow(/not a live mapping/);
    expect(() => addon.map(fd, 0, true)).toThrow(RangeError);
    const readOnly = new Uint8Array(addon.map(fd, 8192, false));
    expect(readOnly[103]).toBe(0x67);
    addon.unmap(readOnly.buffer as ArrayBuffer);
    fs.closeSync(fd);
  });
});

describe('a process that ends with its index files mapped', () => {
  // Node detaches external ArrayBuffers in its cleanup hooks at exit and at a worker's end, and
  // V8 takes their length off its external-memory count then; Node 24 and later abort when that
  // count would go below zero. vitest's workers never exit normally, so a child process does it.
  it('exits normally, and so does a worker terminated with a log open', () => {
    if (nativeAddon() === null) {
      expect(nativeDisabled()).toBe(true); // no addon: indexes are not mapped, nothing to check
      return;
    }
    const entry = ensureDist();
    const dir = tmpDir('mapped-exit');
    const script = `
      import { Worker } from 'node:worker_threads';
      const { Log } = await import(${JSON.stringify(entry)});
      const worker = new Worker(\`
        const { Log } = await import(\${JSON.stringify(${JSON.stringify(entry)})});
        const log = Log.open(\${JSON.stringify(process.argv[1] + '/w')}, { segmentBytes: 64 * 1024 });
        for (let i = 0; i < 3; i++) log.append({ value: Buffer.alloc(40000, i) });
        (await import('node:worker_threads')).parentPort.postMessage(log.segments().length);
        setInterval(() => {}, 1000);
      \`, { eval: true, type: 'module' });
      const segments = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
      if (segments < 2) throw new Error('no roll in the worker: ' + segments);
      await worker.terminate();
      const log = Log.open(process.argv[1] + '/m', { segmentBytes: 64 * 1024 });
      for (let i = 0; i < 3; i++) log.append({ value: Buffer.alloc(40000, i) });
      globalThis.keep = log; // left open: the process ends with its indexes mapped
    `;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir], { encoding: 'utf8' });
    expect(out.stderr).not.toMatch(/Fatal|Error/);
    expect(out.signal).toBeNull();
    expect(out.status).toBe(0);
  }, 60_000);
});

describe('the addon\'s readTwo', () => {
  it('fills both buffers in order from their positions, says false when the file ends first, and throws on a bad descriptor', () => {
    const addon = nativeAddon();
    if (addon === null) {
      expect(nativeDisabled()).toBe(true);
      return;
    }
    const readTwo = addon.readTwo!.bind(addon);
    const file = path.join(tmpDir(), 'r.bin');
    fs.writeFileSync(file, Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)));
    const fd = fs.openSync(file, 'r');
    const first = Buffer.alloc(1000);
    const second = Buffer.alloc(21);
    expect(readTwo(fd, first, 3000, second, 10)).toBe(true);
    expect(first[0]).toBe(3000 % 251);
    expect(first[999]).toBe(3999 % 251);
    expect([...second]).toEqual(Array.from({ length: 21 }, (_, i) => (10 + i) % 251));
    expect(readTwo(fd, first, 4500, second, 0)).toBe(false);
    expect(readTwo(fd, second, 0, first, 4500)).toBe(false);
    fs.closeSync(fd);
    expect(() => readTwo(fd, first, 0, second, 0)).toThrow(/EBADF|Bad file/);
  });
});

describe("the addon's copyTwo", () => {
  it('copies both ranges in order from a mapping, and says false, without crashing, for a range outside the mapping or past the end of a file cut meanwhile', () => {
    const addon = nativeAddon();
    if (addon === null || process.platform !== 'linux') {
      expect(addon === null ? nativeDisabled() : addon.copyTwo === undefined).toBe(true);
      return;
    }
    const copyTwo = addon.copyTwo!.bind(addon);
    const file = path.join(tmpDir(), 'c.bin');
    fs.writeFileSync(file, Buffer.from(Array.from({ length: 12288 }, (_, i) => i % 251)));
    const fd = fs.openSync(file, 'r');
    const mapping = addon.map(fd, 65536, false);
    const first = Buffer.alloc(1000);
    const second = Buffer.alloc(21);
    expect(copyTwo(mapping, first, 3000, second, 10)).toBe(true);
    expect(first[0]).toBe(3000 % 251);
    expect(first[999]).toBe(3999 % 251);
    expect([...second]).toEqual(Array.from({ length: 21 }, (_, i) => (10 + i) % 251));
    expect(copyTwo(mapping, first, 65000, second, 0)).toBe(false);
    expect(copyTwo(mapping, second, 0, first, 64600)).toBe(false);
    // Pages 1 and 2 now lie past the end: touching them raises SIGBUS, which the copy survives,
    // twice (the first must not leave SIGBUS blocked), and copies from page 0 still work.
    fs.truncateSync(file, 4096);
    expect(copyTwo(mapping, first, 5000, second, 0)).toBe(false);
    expect(copyTwo(mapping, second, 0, first, 9000)).toBe(false);
    expect(copyTwo(mapping, first, 100, second, 0)).toBe(true);
    expect(first[0]).toBe(100 % 251);
    // Written again, the pages are there again.
    fs.appendFileSync(file, Buffer.alloc(8192, 9));
    expect(copyTwo(mapping, first, 5000, second, 0)).toBe(true);
    expect(first[0]).toBe(9);
    addon.unmap(mapping);
    expect(copyTwo(mapping, first, 0, second, 0)).toBe(false);
    fs.closeSync(fd);
  });

  it('lets a SIGBUS that no guarded copy caused end the process, as it would without seglog', () => {
    const addon = nativeAddon();
    if (addon === null || addon.copyTwo === undefined) {
      expect(addon === null ? nativeDisabled() : process.platform !== 'linux').toBe(true);
      return;
    }
    // The first copy installs the handler; then a SIGBUS from kill() finds no copy to jump out of.
    const script = `
      import fs from 'node:fs';
      import { nativeAddon } from ${JSON.stringify(path.join(repoRoot, 'dist', 'files', 'native.js'))};
      const addon = nativeAddon();
      const fd = fs.openSync(process.argv[1], 'r');
      const mapping = addon.map(fd, 4096, false);
      if (!addon.copyTwo(mapping, Buffer.alloc(8), 0, Buffer.alloc(8), 8)) throw new Error('copy failed');
      process.kill(process.pid, 'SIGBUS');
      setTimeout(() => console.log('survived'), 200);
    `;
    ensureDist();
    const file = path.join(tmpDir(), 'k.bin');
    fs.writeFileSync(file, Buffer.alloc(4096, 1));
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { encoding: 'utf8' });
    expect(out.stdout).not.toContain('survived');
    expect(out.signal).toBe('SIGBUS');
  });
});
