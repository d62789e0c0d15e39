import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { ensureBuilt, seglog, seglogJson } from '../cli/helpers.js';
import { ClockedLog, partitionDir, readAll } from './helpers.js';

/** The command line on a compacted partition: the clean and dirty parts, gaps, and duplicate keys. */

beforeAll(() => {
  ensureBuilt();
}, 300_000);

async function compacted(): Promise<ClockedLog> {
  const c = new ClockedLog(partitionDir(), { segmentBytes: 1024 });
  for (let i = 0; i < 120; i++) c.log.append({ key: `key-${i % 6}`, value: `v${i}` });
  await c.log.compact();
  for (let i = 0; i < 30; i++) c.log.append({ key: `key-${i % 6}`, value: `w${i}` });
  c.log.close();
  return c;
}

describe('seglog on a compacted partition', () => {
  it('segments shows the clean part, the dirty part and the cleaner offset', async () => {
    const c = await compacted();
    const log = c.reopen();
    const end = log.cleaner.firstDirtyOffset()!;
    log.close();
    const { status, doc } = seglogJson<{ cleanerOffset: number; segments: { baseOffset: number; endOffset: number; part: string; state: string }[] }>(['segments', c.dir]);
    expect(status).toBe(0);
    expect(doc.cleanerOffset).toBe(end);
    const sealed = doc.segments.filter((s) => s.state === 'sealed');
    expect(sealed.some((s) => s.part === 'clean')).toBe(true);
    expect(sealed.some((s) => s.part === 'dirty')).toBe(true);
    for (const s of sealed) expect(s.part).toBe(s.endOffset <= end ? 'clean' : 'dirty');
    expect(seglog(['segments', c.dir]).stdout).toMatch(/sealed, clean/);
  });

  it('verify accepts the gaps and the rewritten batches, and dump prints the kept records', async () => {
    const c = await compacted();
    const { status, doc } = seglogJson<{ ok: boolean; problems: unknown[] }>(['verify', c.dir, '--deep']);
    expect(doc.problems).toEqual([]);
    expect(status).toBe(0);
    const log = c.reopen();
    const keptOffsets = readAll(log).map((r) => r.offset);
    const kept = keptOffsets.length;
    log.close();
    const dump = seglog(['dump', c.dir, '--records', '--json']);
    expect(dump.status).toBe(0);
    const lines = dump.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; offset?: number });
    expect(lines.filter((l) => l.type === 'record').length).toBe(kept);
    // From an offset inside a gap, the first record printed is the next one kept.
    const from = seglog(['dump', c.dir, '--records', '--from', '1', '--limit', '1', '--json']);
    const firstRecord = from.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; offset?: number }).find((l) => l.type === 'record');
    expect(firstRecord?.offset).toBe(keptOffsets.find((o) => o >= 1));
  });

  it('verify reports a key that appears twice in a segment of the clean part', () => {
    const dir = partitionDir();
    // Written without compaction, then claimed clean by a checkpoint: the check must see through it.
    const log = Log.open(dir);
    log.append([{ key: 'a', value: '1' }, { key: 'b', value: '1' }]);
    log.append({ key: 'a', value: '2' });
    log.roll();
    log.append({ key: 'a', value: '3' });
    log.close();
    expect(seglogJson<{ problems: unknown[] }>(['verify', dir]).doc.problems).toEqual([]);
    fs.writeFileSync(path.join(dir, 'cleaner-offset-checkpoint'), '0\n1\ntable 0 3\n');
    const { status, doc } = seglogJson<{ problems: { kind: string; offset: number }[] }>(['verify', dir]);
    expect(status).not.toBe(0);
    expect(doc.problems.map((p) => [p.kind, p.offset])).toEqual([['duplicate-key', 2]]);
  });
});
