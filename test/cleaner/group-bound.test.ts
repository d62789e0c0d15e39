/**
 * Kafka's groupSegmentsBySize (issue 16): consecutive sealed segments are cleaned into one segment
 * only while their `.log` sizes total at most segmentBytes and their index sizes at most
 * segmentIndexBytes, so no cleaned segment is larger than a segment the writer could roll.
 * Expectations come from a model of the appends, never from the cleaner.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { ClockedLog, latestPerKey as model, partitionDir, readAll, segmentFiles, type PlainRecord } from './helpers.js';

describe('cleaned groups are bounded by segmentBytes', () => {
  it('many sealed segments clean into several segments, each within segmentBytes and segmentIndexBytes', async () => {
    const segmentBytes = 2000;
    const segmentIndexBytes = 4096;
    const c = new ClockedLog(partitionDir(), { segmentBytes, segmentIndexBytes, indexIntervalBytes: 64 });
    const written: PlainRecord[] = [];
    // 80 keys, each written 4 times: the survivors alone need several segments of 2000 bytes, so
    // cleaning everything into one segment (no bound) would overflow it.
    for (let n = 0; n < 320; n++) {
      const key = `key-${(n * 37) % 80}`;
      const value = `value-${n}-${'x'.repeat(20)}`;
      const { baseOffset } = c.log.append({ key, value, timestamp: c.now + n, headers: { n: String(n) } });
      written.push({ offset: baseOffset, timestamp: c.now + n, key, value, headers: [['n', String(n)]] });
      // Rolled segments of about 600 bytes: several of them fit one group of 2000 bytes.
      if (n % 8 === 7) c.log.roll();
    }
    c.log.append({ key: 'key-0', value: 'active', timestamp: c.now });
    written.push({ offset: c.log.endOffset - 1, timestamp: c.now, key: 'key-0', value: 'active', headers: [] });
    const sealedBefore = c.log.segments().length - 1;
    expect(sealedBefore).toBeGreaterThan(8);
    const activeBase = c.log.segments().at(-1)!.baseOffset;

    const result = await c.log.compact();
    expect(result.segmentsCleaned).toBe(sealedBefore);

    const after = c.log.segments();
    const sealed = after.slice(0, -1);
    expect(after.at(-1)!.baseOffset).toBe(activeBase);
    // Several cleaned segments, fewer than before (groups formed), none over the bound.
    expect(sealed.length).toBeGreaterThan(1);
    expect(sealed.length).toBeLessThan(sealedBefore);
    for (const s of sealed) {
      expect(s.sizeBytes, `segment ${s.baseOffset}`).toBeLessThanOrEqual(segmentBytes);
      expect(fs.statSync(s.path).size).toBe(s.sizeBytes);
      for (const ext of ['.index', '.timeindex']) {
        const index = s.path.replace(/\.log$/, ext);
        expect(fs.statSync(index).size, `${path.basename(index)}`).toBeLessThanOrEqual(segmentIndexBytes);
      }
    }

    const expected = model(written, activeBase);
    expect(readAll(c.log)).toEqual(expected);
    expect(readAll(c.reopen())).toEqual(expected);
    expect(segmentFiles(c.log.dir).filter((n) => /\.(cleaned|swap)$/.test(n))).toEqual([]);
    c.log.close();
  });
});
