/**
 * Memory for bulk reads (`src/files/read-memory.ts`): every region taken is its own (a later one
 * never overlaps a returned one, so records and buffers handed out stay valid), regions of one
 * slab keep the file position's offset within a page, and small and large reads get a buffer of
 * their own.
 */
import { describe, expect, it } from 'vitest';
import { ReadMemory } from '../../src/files/read-memory.js';
import { nativeAddon } from '../../src/files/native.js';

const MiB = 1024 * 1024;

describe('ReadMemory', () => {
  it('gives regions that never overlap, each written without changing the others', () => {
    const memory = new ReadMemory();
    const taken: Buffer[] = [];
    let position = 12_345;
    for (let i = 0; i < 40; i++) {
      const length = 1000 + ((i * 7919) % (900 * 1024));
      const region = memory.take(length, position);
      expect(region.length).toBe(length);
      region.fill(i);
      taken.push(region);
      position += length + (i % 5) * 333;
    }
    taken.forEach((region, i) => expect(region.every((b) => b === i)).toBe(true));
  });

  it('places the regions of one slab at their file position within a page', () => {
    const memory = new ReadMemory();
    const first = memory.take(100_000, 4096 * 3 + 17);
    const second = memory.take(200_000, 4096 * 50 + 4000);
    const third = memory.take(70_000, 999);
    const sameSlab = first.buffer === second.buffer && second.buffer === third.buffer;
    // With the addon's advice, regions share a slab; without, each read has a buffer of its own.
    const advises = (nativeAddon()?.adviseHugePages?.(new ArrayBuffer(8 * MiB)) ?? -1) >= 0;
    expect(sameSlab).toBe(advises);
    if (sameSlab) {
      expect((second.byteOffset - first.byteOffset) % 4096).toBe((4000 - 17 + 4096) % 4096);
      expect((third.byteOffset - first.byteOffset + 4096 * 1000) % 4096).toBe((999 - 17 + 4096) % 4096);
      expect(second.byteOffset).toBeGreaterThanOrEqual(first.byteOffset + first.length);
      expect(third.byteOffset).toBeGreaterThanOrEqual(second.byteOffset + second.length);
    }
  });

  it('gives a read larger than a quarter of a slab, or smaller than 64 KiB, a buffer of its own', () => {
    const memory = new ReadMemory();
    const placed = memory.take(100_000, 0);
    const large = memory.take(3 * MiB, 0);
    expect(large.length).toBe(3 * MiB);
    expect(large.buffer).not.toBe(placed.buffer);
    expect(large.buffer.byteLength).toBe(3 * MiB);
    const small = memory.take(1000, 0);
    expect(small.buffer).not.toBe(placed.buffer);
    expect(small.buffer.byteLength).toBeLessThan(1 * MiB);
  });

  it('holds the slab highest in the brk heap, so that slabs freed below it stay in the heap for the next ones', () => {
    // glibc maps 8 MiB apart until it has freed such a mapping (its adaptive threshold); this
    // sets the threshold it would then reach, so that the slabs below come from the brk heap.
    const retained = nativeAddon()?.retainFreedMemory?.() === true;
    const memory = new ReadMemory();
    const slabs = new Set<ArrayBufferLike>();
    for (let i = 0; i < 40; i++) slabs.add(memory.take(MiB, i * MiB).buffer);
    const heapAddress = nativeAddon()?.heapAddress;
    if (heapAddress === undefined) return expect(memory.heldTop).toBeNull(); // no addon: nothing tells where a slab lies
    const inHeap = [...slabs].filter((slab) => slab.byteLength > MiB).map((slab) => ({ slab, at: heapAddress(slab as ArrayBuffer) }));
    expect(inHeap.length).toBeGreaterThanOrEqual(4);
    const top = inHeap.reduce((a, b) => (b.at > a.at ? b : a));
    if (retained) expect(top.at).toBeGreaterThan(0);
    // Slabs mapped apart (above the break) are not held.
    expect(memory.heldTop?.buffer ?? null).toBe(top.at >= 0 ? top.slab : null);
  });

  it('keeps serving reads after a caller transfers (detaches) the slab a returned region lies in', () => {
    const memory = new ReadMemory();
    const first = memory.take(MiB, 0);
    if (first.buffer.byteLength === MiB) return expect(nativeAddon()?.adviseHugePages).toBeUndefined();
    const slab = first.buffer as ArrayBuffer;
    structuredClone(slab, { transfer: [slab] });
    expect(first.length).toBe(0);
    const next = memory.take(MiB, 0);
    expect(next.length).toBe(MiB);
    next.fill(7);
    expect(next[MiB - 1]).toBe(7);
  });
});
