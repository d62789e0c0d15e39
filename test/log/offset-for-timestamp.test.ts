import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

describe('offsetForTimestamp after a reopen', () => {
  it('finds records of a segment whose time index has no entry yet, for a reopened writer and a read-only reader', () => {
    const dir = path.join(tmpDir(), 't-0');
    const writer = Log.open(dir);
    for (let i = 0; i < 8; i++) writer.append({ key: 'k', value: 'v', timestamp: 1_700_000_000_000 + i * 1000 });
    const reader = Log.open(dir, { readOnly: true });
    expect(reader.offsetForTimestamp(1_700_000_004_000)).toBe(4);
    reader.close();
    writer.close();
    const reopened = Log.open(dir);
    expect(reopened.offsetForTimestamp(1_700_000_004_000)).toBe(4);
    expect(reopened.offsetForTimestamp(1_700_000_099_000)).toBeNull();
    reopened.close();
  });
});
