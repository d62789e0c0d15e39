import { describe, expect, it } from 'vitest';
import type { LogSegment } from '../../src/segment/log-segment.js';
import { SegmentDeleter } from '../../src/retention/segment-deleter.js';
import { tmpDir } from '../support/tmp.js';
import { sleep } from './helpers.js';

function fakeSegment(events: string[], name: string): LogSegment {
  return {
    changeFileSuffixes: (from: string, to: string) => events.push(`rename ${name} '${from}'->'${to}'`),
    deleteIfExists: () => events.push(`delete ${name}`),
  } as unknown as LogSegment;
}

describe('SegmentDeleter', () => {
  it('renames at once, deletes when due, and waits only for the sync round in flight at the rename', async () => {
    const events: string[] = [];
    let now = 0;
    const rounds = { started: 1, finished: 0 }; // round 1 in flight
    const deleter = new SegmentDeleter({ dir: tmpDir(), delayMs: 100, wallClock: () => now, syncRounds: () => rounds });
    deleter.retire([fakeSegment(events, 'a'), fakeSegment(events, 'b')]);
    expect(events).toEqual(["rename a ''->'.deleted'", "rename b ''->'.deleted'"]);
    expect(deleter.pending).toHaveLength(2);
    expect(deleter.runDue(99)).toBe(0);
    now = 100;
    expect(deleter.runDue(100)).toBe(0); // due, but round 1 is still running
    rounds.started = 5; // rounds keep coming: only round 1 matters
    rounds.finished = 1;
    const c = fakeSegment(events, 'c');
    deleter.retire([c]); // round 5 in flight now
    expect(deleter.runDue(100)).toBe(2);
    expect(events.slice(-2)).toEqual(['delete a', 'delete b']);
    now = 250;
    expect(deleter.runDue(250)).toBe(0);
    rounds.finished = 5;
    expect(deleter.runDue(250)).toBe(1);
    expect(deleter.pending).toHaveLength(0);
    deleter.close();
  });

  it('runs on its own timer and deletes everything pending at close', async () => {
    const events: string[] = [];
    const deleter = new SegmentDeleter({ dir: tmpDir(), delayMs: 10 });
    deleter.retire([fakeSegment(events, 'a')]);
    await sleep(50);
    expect(events).toContain('delete a');
    const late = new SegmentDeleter({ dir: tmpDir(), delayMs: 3_600_000 });
    late.retire([fakeSegment(events, 'b')]);
    late.close();
    expect(events).toContain('delete b');
  });
});
