/**
 * `BatchChain.checkThrough` with the header facts a cursor has read: a batch that starts where the
 * chain ends and comes after its last offset extends it without a walk (no read of the file);
 * anything else walks the headers from the chain's end, as without those facts.
 */
import { describe, expect, it } from 'vitest';
import { BatchChain } from '../../src/segment/batch-chain.js';
import type { FileRecords } from '../../src/segment/file-records.js';

/** A `.log` of `size` bytes whose every read fails: a walk shows up as that error. */
function unreadable(size: number): FileRecords {
  const fail = (): never => {
    throw new Error('the chain walked the file');
  };
  return { file: '/data/t-0/00000000000000000100.log', size, readInto: fail, mappedView: () => null } as unknown as FileRecords;
}

describe('BatchChain.checkThrough', () => {
  it('extends the chain by the batch at its end from the facts a cursor read, without reading', () => {
    const chain = new BatchChain(unreadable(10_000), 100, true);
    chain.checkThrough(0, 1000, 100, 149);
    chain.checkThrough(1000, 2500, 150, 150);
    expect({ end: chain.end, lastOffset: chain.lastOffset }).toEqual({ end: 2500, lastOffset: 150 });
    chain.checkThrough(500, 1000); // already on the chain: nothing to check
  });

  it('walks when the batch does not start at the chain end, does not come after it, or has no facts', () => {
    const chain = new BatchChain(unreadable(10_000), 100, true);
    chain.checkThrough(0, 1000, 100, 149);
    expect(() => chain.checkThrough(2000, 3000, 200, 249)).toThrow('the chain walked the file');
    expect(() => chain.checkThrough(1000, 2000, 149, 160)).toThrow('the chain walked the file');
    expect(() => chain.checkThrough(1000, 2000, 150, 140)).toThrow('the chain walked the file');
    expect(() => chain.checkThrough(1000, 2000)).toThrow('the chain walked the file');
    expect(() => new BatchChain(unreadable(10_000), 100, true).checkThrough(0, 1000, 99, 120)).toThrow('the chain walked the file');
    expect(chain.end).toBe(1000);
  });
});
