/**
 * A Topic's partitions compact as logs do (issue 16): each keeps the latest record of each of its
 * keys at its original offset. Expectations come from the offsets `Topic.append` returned.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Topic } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';
import { latestPerKey as model, readAll, type PlainRecord } from './helpers.js';

describe('a compacted Topic', () => {
  it('compacts each partition to the latest record of each of its keys, at its original offset', async () => {
    const dir = path.join(tmpDir('seglog-cleaner-topic-'), 'orders');
    const topic = Topic.open(dir, { partitions: 3, cleanupPolicy: 'compact', segmentBytes: 1024, retentionCheckIntervalMs: 0, cleanerBackoffMs: 0, fileDeleteDelayMs: 0 });
    const written: PlainRecord[][] = [[], [], []];
    const now = 1_700_000_000_000;
    for (let round = 0; round < 12; round++) {
      const records = Array.from({ length: 10 }, (_, i) => ({ key: `order-${(round * 3 + i) % 17}`, value: `v-${round}-${i}`, timestamp: now + round * 10 + i }));
      const results = topic.append(records);
      results.forEach(({ partition, offset }, i) => {
        const r = records[i]!;
        written[partition]!.push({ offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: [] });
      });
    }
    for (let p = 0; p < 3; p++) {
      const log = topic.partition(p);
      expect(written[p]!.length, `partition ${p} got records`).toBeGreaterThan(0);
      expect(log.segments().length, `partition ${p} has rolled`).toBeGreaterThan(1);
      log.roll();
      const keys = new Set(written[p]!.map((r) => r.key));
      expect(keys.size, `partition ${p}: keys repeat`).toBeLessThan(written[p]!.length);
      await log.compact();
      const expected = model(written[p]!, log.endOffset);
      expect(expected.length).toBe(keys.size);
      expect(readAll(log), `partition ${p}`).toEqual(expected);
    }
    topic.close();
    const again = Topic.open(dir, { cleanupPolicy: 'compact', retentionCheckIntervalMs: 0, cleanerBackoffMs: 0 });
    for (let p = 0; p < 3; p++) expect(readAll(again.partition(p)), `reopened partition ${p}`).toEqual(model(written[p]!, Infinity));
    again.close();
  });
});
