import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { keepLayout, renewLayouts } from '../../src/layouts.js';
import { tmpDir } from '../support/tmp.js';
import { descriptorsInto } from '../support/descriptors.js';

describe('layout anchors', () => {
  it('makes an anchor at once and a new one at each renewal', () => {
    const made: object[] = [];
    keepLayout(() => {
      const anchor = { n: made.length };
      made.push(anchor);
      return anchor;
    });
    expect(made).toHaveLength(1);
    renewLayouts();
    expect(made).toHaveLength(2);
    expect(made[1]).not.toBe(made[0]);
  });

  it('are renewed when a log closes, while its objects still have their layouts', () => {
    let made = 0;
    keepLayout(() => ({ n: made++ }));
    const log = Log.open(path.join(tmpDir(), 'orders-0'));
    log.append({ key: 'k', value: 'v' });
    const before = made;
    log.close();
    expect(made).toBe(before + 1);
  });

  it('keep no descriptor of a closed log, writer or read-only', async () => {
    const dir = path.join(tmpDir(), 'orders-0');
    const log = Log.open(dir, { segmentBytes: 4096 });
    for (let i = 0; i < 200; i++) log.append({ key: `k${i}`, value: 'v'.repeat(100) });
    const reader = Log.open(dir, { readOnly: true });
    expect(reader.read(0, { maxRecords: 500 })).toHaveLength(200);
    let streamed = 0;
    for await (const r of log.stream()) streamed += r.value === null ? 0 : 1;
    expect(streamed).toBe(200);
    expect(descriptorsInto(dir).length).toBeGreaterThan(0);
    reader.close();
    log.close();
    expect(descriptorsInto(dir)).toEqual([]);
  });
});
