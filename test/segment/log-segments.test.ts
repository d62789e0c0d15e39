import { describe, expect, it } from 'vitest';
import type { LogSegment } from '../../src/segment/log-segment.js';
import { LogSegments } from '../../src/segment/log-segments.js';

/** LogSegments only ever reads `baseOffset`; a stand-in with just that is enough. */
function fake(baseOffset: number): LogSegment {
  return { baseOffset } as LogSegment;
}

function bases(list: LogSegments): number[] {
  return list.values().map((s) => s.baseOffset);
}

describe('LogSegments', () => {
  it('keeps segments ordered by base offset whatever the order they are added in', () => {
    const list = new LogSegments();
    for (const base of [100, 0, 300, 200]) list.add(fake(base));
    expect(bases(list)).toEqual([0, 100, 200, 300]);
    expect(list.count).toBe(4);
    expect(list.firstSegment?.baseOffset).toBe(0);
    expect(list.activeSegment.baseOffset).toBe(300);
  });

  it('replaces a segment added again with the same base offset', () => {
    const list = new LogSegments();
    const first = fake(10);
    const second = fake(10);
    list.add(fake(0));
    list.add(first);
    list.add(fake(20));
    list.add(second);
    expect(bases(list)).toEqual([0, 10, 20]);
    expect(list.get(10)).toBe(second);
  });

  it('answers floor and higher lookups as a sorted map would', () => {
    const list = new LogSegments();
    for (const base of [0, 100, 200]) list.add(fake(base));
    expect(list.floorIndex(-1)).toBe(-1);
    expect(list.floorSegment(-1)).toBeUndefined();
    expect(list.floorSegment(0)?.baseOffset).toBe(0);
    expect(list.floorSegment(99)?.baseOffset).toBe(0);
    expect(list.floorSegment(100)?.baseOffset).toBe(100);
    expect(list.floorSegment(10_000)?.baseOffset).toBe(200);
    expect(list.higherSegment(0)?.baseOffset).toBe(100);
    expect(list.higherSegment(150)?.baseOffset).toBe(200);
    expect(list.higherSegment(200)).toBeUndefined();
    expect(list.get(150)).toBeUndefined();
    expect(list.at(1)?.baseOffset).toBe(100);
  });

  it('removes by base offset (an unknown one changes nothing), clears, and has no active segment when empty', () => {
    const list = new LogSegments();
    for (const base of [0, 100, 200]) list.add(fake(base));
    list.remove(100);
    list.remove(150);
    expect(bases(list)).toEqual([0, 200]);
    const copy = list.values();
    copy.pop();
    expect(list.count).toBe(2);
    list.clear();
    expect(list.count).toBe(0);
    expect(() => list.activeSegment).toThrow();
    expect(list.firstSegment).toBeUndefined();
  });
});
