import { describe, expect, it } from 'vitest';
import {
  deletableForStep,
  planRetention,
  sizeRule,
  timeRule,
  type LogSummary,
  type SegmentSummary,
} from '../../src/retention/retention-policy.js';

function seg(baseOffset: number, sizeBytes: number, largestTimestamp: number): SegmentSummary {
  return { baseOffset, sizeBytes, largestTimestamp };
}

function log(segments: SegmentSummary[], logEndOffset: number, logStartOffset = segments[0]!.baseOffset, floor: number | null = null): LogSummary {
  return { segments, logStartOffset, logEndOffset, floor };
}

const off = { retentionMs: -1, retentionBytes: -1 };

describe('retention rules', () => {
  it('time: strictly more than retentionMs, measured from the newest timestamp', () => {
    const rule = timeRule(1000, 100)!;
    expect(rule(seg(0, 1, 899), undefined)).toBe(true);
    expect(rule(seg(0, 1, 900), undefined)).toBe(false);
    expect(rule(seg(0, 1, 5000), undefined)).toBe(false); // in the future
    expect(timeRule(1000, -1)).toBeNull();
  });

  it('size: off below the limit; otherwise oldest first while the log stays at or above it', () => {
    expect(sizeRule(99, 100)).toBeNull();
    expect(sizeRule(10, -1)).toBeNull();
    const rule = sizeRule(100, 60)!; // diff 40
    expect(rule(seg(0, 30, 0), undefined)).toBe(true); // diff 10
    expect(rule(seg(1, 10, 0), undefined)).toBe(true); // diff 0
    expect(rule(seg(2, 1, 0), undefined)).toBe(false);
    const exact = sizeRule(100, 100)!;
    expect(exact(seg(0, 0, 0), undefined)).toBe(true);
    expect(exact(seg(1, 1, 0), undefined)).toBe(false);
  });

  it('walks from the oldest and stops at the first segment kept', () => {
    const l = log([seg(0, 10, 0), seg(10, 10, 5000), seg(20, 10, 0), seg(30, 10, 0)], 40);
    expect(deletableForStep('time', l, { ...off, retentionMs: 100 }, 1000)).toBe(1);
  });

  it('never passes the floor, never takes an empty last segment', () => {
    const l = log([seg(0, 10, 0), seg(10, 10, 0), seg(20, 0, 0)], 20);
    expect(deletableForStep('time', l, { ...off, retentionMs: 1 }, 1000)).toBe(2);
    expect(deletableForStep('time', { ...l, floor: 19 }, { ...off, retentionMs: 1 }, 1000)).toBe(1);
    expect(deletableForStep('time', { ...l, floor: 10 }, { ...off, retentionMs: 1 }, 1000)).toBe(1);
    expect(deletableForStep('time', { ...l, floor: 9 }, { ...off, retentionMs: 1 }, 1000)).toBe(0);
  });

  it('start offset: segments wholly below it, the last one too when the log is empty; the floor does not hold it back', () => {
    const segments = [seg(0, 10, 0), seg(10, 10, 0), seg(20, 10, 0)];
    expect(deletableForStep('log-start-offset', log(segments, 30, 15), off, 0)).toBe(1);
    expect(deletableForStep('log-start-offset', log(segments, 30, 20), off, 0)).toBe(2);
    expect(deletableForStep('log-start-offset', log(segments, 30, 30), off, 0)).toBe(3);
    expect(deletableForStep('log-start-offset', log(segments, 30, 20, 5), off, 0)).toBe(2);
  });

  it('plans a pass in Kafka order, each step seeing what the previous one left, rolling when all go', () => {
    const l = log([seg(0, 100, 0), seg(10, 100, 0), seg(20, 100, 900), seg(30, 50, 990)], 35, 12);
    const plan = planRetention(l, { retentionMs: 50, retentionBytes: 150 }, 1000);
    expect(plan).toEqual([
      { reason: 'log-start-offset', baseOffsets: [0], rolls: false },
      { reason: 'size', baseOffsets: [10], rolls: false },
      { reason: 'time', baseOffsets: [20], rolls: false },
    ]);
    const all = planRetention(log([seg(0, 1, 0), seg(5, 1, 0)], 8), { retentionMs: 10, retentionBytes: -1 }, 1000);
    expect(all).toEqual([{ reason: 'time', baseOffsets: [0, 5], rolls: true }]);
  });

  it('reads largestTimestamp only for the segments the walk reaches', () => {
    let reads = 0;
    const lazy = (base: number, ts: number): SegmentSummary => ({
      baseOffset: base,
      sizeBytes: 1,
      get largestTimestamp() {
        reads++;
        return ts;
      },
    });
    const l = log([lazy(0, 0), lazy(1, 5000), lazy(2, 0), lazy(3, 0)], 4);
    expect(deletableForStep('time', l, { ...off, retentionMs: 10 }, 1000)).toBe(1);
    expect(reads).toBe(2);
  });
});
