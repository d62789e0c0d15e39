/**
 * How a topic picks the partition of a record, as Kafka's Java producer does:
 *
 * 1. an explicit `partition` on the record wins;
 * 2. else a custom partitioner, when the topic has one;
 * 3. else a record with a key (including the empty key) goes to
 *    `toPositive(murmur2(keyBytes)) % numPartitions` (Kafka's `BuiltInPartitioner.partitionForKey`);
 * 4. else (no key) it goes to the sticky partition (KIP-480, KIP-794).
 *
 * Sticky rule in seglog. Kafka keeps keyless records on one partition until the batch there is
 * complete, so batches stay large, and then picks another partition at random. In seglog one
 * `topic.append` call writes one batch per partition, so all keyless records of a call go to the
 * sticky partition (a call is never split). At the end of a call, once the keyless records sent
 * to the sticky partition since it was chosen add up to `stickyBatchBytes` (default 16384, Kafka's
 * `batch.size`; record size estimated as value + headers + 8 bytes), the next call's keyless
 * records go to another partition chosen uniformly at random among the others. With
 * `stickyBatchBytes: 0` the partition changes after every call that had keyless records. The
 * sticky state lives in memory: a reopened topic starts on a random partition.
 */
import { InvalidRecordError } from '../errors.js';
import { murmur2, murmur2Ascii, toPositive } from './murmur2.js';
import type { TopicRecordInput } from './types.js';

/** Kafka's `batch.size` default: keyless records stay on one partition for about this many bytes. */
export const DEFAULT_STICKY_BATCH_BYTES = 16384;

/** Per-record framing counted on top of value and headers by the sticky size estimate. */
const RECORD_OVERHEAD_BYTES = 8;

/** Keys encoded in place up to this many UTF-16 units (3 bytes each at most); longer ones get their own buffer. */
const SCRATCH_KEY_UNITS = 16 * 1024;
let scratch = Buffer.allocUnsafeSlow(1024);

/**
 * Kafka's default partition for a key: `toPositive(murmur2(keyBytes)) % numPartitions`. A string
 * key is hashed as its UTF-8 bytes, the same bytes the log stores (Node writes U+FFFD for a lone
 * surrogate, where Java's `String.getBytes` writes '?': such keys are stored as Node encodes them).
 */
export function partitionForKey(key: string | Uint8Array, numPartitions: number): number {
  return toPositive(hashKey(key)) % numPartitions;
}

/** murmur2 of the key's bytes; strings are encoded into a reused buffer to spare an allocation per record. */
function hashKey(key: string | Uint8Array): number {
  if (typeof key !== 'string') return murmur2(key);
  const ascii = murmur2Ascii(key);
  if (!Number.isNaN(ascii)) return ascii;
  if (key.length > SCRATCH_KEY_UNITS) return murmur2(Buffer.from(key, 'utf8'));
  if (key.length * 3 > scratch.length) scratch = Buffer.allocUnsafeSlow(Math.max(key.length * 3, scratch.length * 2));
  const length = scratch.write(key, 0, 'utf8');
  return murmur2(scratch, length);
}

/**
 * The key of record `index` when it is usable for hashing, null for a keyless record; throws
 * `InvalidRecordError` for a record that is not an object or has a key of the wrong type.
 */
export function keyOf(record: unknown, index: number): string | Uint8Array | null {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || record instanceof Uint8Array) {
    throw new InvalidRecordError(`Record ${index}: must be an object like { key, value, timestamp, headers, partition }`);
  }
  const key = (record as TopicRecordInput).key;
  if (key === null || key === undefined) return null;
  if (typeof key === 'string' || key instanceof Uint8Array) return key;
  throw new InvalidRecordError(`Record ${index}: key must be a Buffer, Uint8Array, string or null, got ${typeof key}`);
}

/** Bytes a keyless record counts towards `stickyBatchBytes`: value + header keys and values + 8. */
export function stickyRecordBytes(record: TopicRecordInput): number {
  let total = RECORD_OVERHEAD_BYTES + byteLength(record.value);
  const headers = record.headers;
  if (Array.isArray(headers)) {
    for (const h of headers as readonly { key?: unknown; value?: unknown }[]) total += byteLength(h?.key) + byteLength(h?.value);
  } else if (typeof headers === 'object' && headers !== null) {
    for (const [k, v] of Object.entries(headers)) total += byteLength(k) + byteLength(v);
  }
  return total;
}

/** UTF-8 length of a string, length of bytes, 0 for anything else (the log validates types). */
function byteLength(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (value instanceof Uint8Array) return value.length;
  return 0;
}

/** The sticky partition for keyless records; see the module comment for the rule. */
export class StickyPartitioner {
  private current = -1;
  private bytes = 0;

  constructor(
    private readonly batchBytes: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The partition this call's keyless records go to (picked at random on first use). */
  partition(numPartitions: number): number {
    if (this.current < 0 || this.current >= numPartitions) {
      this.current = Math.floor(this.random() * numPartitions);
      this.bytes = 0;
    }
    return this.current;
  }

  /** A call appended `bytes` of keyless records to the sticky partition; switch once the batch is full. */
  completeBatch(bytes: number, numPartitions: number): void {
    this.bytes += bytes;
    if (this.bytes < this.batchBytes) return;
    this.bytes = 0;
    if (numPartitions < 2) return;
    // Uniform among the other numPartitions - 1 partitions: skip over the current one.
    const pick = Math.floor(this.random() * (numPartitions - 1));
    this.current = pick >= this.current ? pick + 1 : pick;
  }
}
