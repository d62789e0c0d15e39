import { keepLayout } from '../layouts.js';
import type { LogSegment } from './log-segment.js';

/**
 * The segments of one log, ordered by base offset, with sorted-map lookups in the vocabulary of
 * Kafka's LogSegments. Backed by an array: appends happen at the end and deletions at the front,
 * and a binary search answers `floorSegment` in O(log n) without allocating.
 */
export class LogSegments {
  private list: LogSegment[] = [];

  get count(): number {
    return this.list.length;
  }

  /** All segments, oldest first (a copy). */
  values(): LogSegment[] {
    return this.list.slice();
  }

  add(segment: LogSegment): void {
    const last = this.list[this.list.length - 1];
    if (last === undefined || last.baseOffset < segment.baseOffset) {
      this.list.push(segment);
      return;
    }
    const i = this.floorIndex(segment.baseOffset);
    if (i >= 0 && this.list[i]!.baseOffset === segment.baseOffset) this.list[i] = segment;
    else this.list.splice(i + 1, 0, segment);
  }

  remove(baseOffset: number): void {
    const i = this.floorIndex(baseOffset);
    if (i >= 0 && this.list[i]!.baseOffset === baseOffset) this.list.splice(i, 1);
  }

  clear(): void {
    this.list = [];
  }

  get activeSegment(): LogSegment {
    const last = this.list[this.list.length - 1];
    if (last === undefined) throw new Error('log has no segments');
    return last;
  }

  get firstSegment(): LogSegment | undefined {
    return this.list[0];
  }

  at(i: number): LogSegment | undefined {
    return this.list[i];
  }

  get(baseOffset: number): LogSegment | undefined {
    const i = this.floorIndex(baseOffset);
    const s = i >= 0 ? this.list[i] : undefined;
    return s !== undefined && s.baseOffset === baseOffset ? s : undefined;
  }

  /** Index of the segment with the largest base offset <= `offset`, or -1. */
  floorIndex(offset: number): number {
    const list = this.list;
    let lo = 0;
    let hi = list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  floorSegment(offset: number): LogSegment | undefined {
    const i = this.floorIndex(offset);
    return i >= 0 ? this.list[i] : undefined;
  }

  higherSegment(baseOffset: number): LogSegment | undefined {
    return this.list[this.floorIndex(baseOffset) + 1];
  }
}

keepLayout(() => new LogSegments()); // see src/layouts.ts
