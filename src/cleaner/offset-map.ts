import { hashKey } from './key-hash.js';

/** Bytes per entry: a 16-byte key hash and an 8-byte offset, as Kafka's SkimpyOffsetMap with MD5. */
export const BYTES_PER_ENTRY = 24;
/** Kafka's `log.cleaner.io.buffer.load.factor`: the map takes entries up to this share of its slots. */
export const LOAD_FACTOR = 0.9;

const EMPTY = -1;

/**
 * Kafka's SkimpyOffsetMap: key hash -> latest offset, open addressing with linear probing over
 * typed arrays (no object per entry, no allocation per put). Keys themselves are not stored; two
 * keys with the same 128-bit hash would count as one (see key-hash.ts). `latestOffset` is the
 * end of what the map covers: the highest offset a put or `updateLatestOffset` reached.
 */
export class OffsetMap {
  readonly slots: number;
  private readonly hashes: Int32Array;
  private readonly offsets: Float64Array;
  private readonly scratch = new Int32Array(4);
  private entries = 0;
  private latest = -1;

  /** A map of `slots` entries (`slots * 24` bytes). */
  constructor(slots: number) {
    this.slots = Math.max(2, Math.floor(slots));
    this.hashes = new Int32Array(this.slots * 4);
    this.offsets = new Float64Array(this.slots).fill(EMPTY);
  }

  /** Slots for a map of at most `maxBytes` that needs room for `wanted` keys. */
  static slotsFor(maxBytes: number, wanted: number): number {
    const bound = Math.floor(maxBytes / BYTES_PER_ENTRY);
    return Math.max(2, Math.min(bound, Math.ceil(wanted / LOAD_FACTOR) + 1));
  }

  /** Entries the map may take before it counts as full (Kafka's maxDesiredMapSize). */
  get capacity(): number {
    return Math.max(1, Math.floor(this.slots * LOAD_FACTOR));
  }

  get size(): number {
    return this.entries;
  }

  /** Bytes held by the table. */
  get memoryBytes(): number {
    return this.hashes.byteLength + this.offsets.byteLength;
  }

  get latestOffset(): number {
    return this.latest;
  }

  updateLatestOffset(offset: number): void {
    if (offset > this.latest) this.latest = offset;
  }

  /** Records `offset` as the latest for the key `buf[start, end)`. */
  put(buf: Uint8Array, start: number, end: number, offset: number): void {
    const slot = this.find(buf, start, end);
    if (this.offsets[slot] === EMPTY) {
      this.entries++;
      const h = this.scratch;
      const at = slot * 4;
      this.hashes[at] = h[0]!;
      this.hashes[at + 1] = h[1]!;
      this.hashes[at + 2] = h[2]!;
      this.hashes[at + 3] = h[3]!;
    }
    this.offsets[slot] = offset;
    if (offset > this.latest) this.latest = offset;
  }

  /** The latest offset recorded for the key, or -1. */
  get(buf: Uint8Array, start: number, end: number): number {
    return this.offsets[this.find(buf, start, end)]!;
  }

  /** The slot holding the key's hash, or the empty slot where it would go. */
  private find(buf: Uint8Array, start: number, end: number): number {
    const h = this.scratch;
    hashKey(buf, start, end, h);
    const { hashes, offsets, slots } = this;
    let slot = (h[0]! >>> 0) % slots;
    for (;;) {
      if (offsets[slot] === EMPTY) return slot;
      const at = slot * 4;
      if (hashes[at] === h[0] && hashes[at + 1] === h[1] && hashes[at + 2] === h[2] && hashes[at + 3] === h[3]) return slot;
      slot = slot + 1 === slots ? 0 : slot + 1;
    }
  }
}
