import { createRequire } from 'node:module';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, toPositive } from '../../src/index.js';
import { prng } from '../support/prng.js';

/**
 * seglog must pick the partition a Kafka Java producer picks. Checked two ways: against the
 * vectors Kafka publishes for `Utils.murmur2` (UtilsTest.testMurmur2), and against kafkajs's
 * Java-compatible partitioner, an independent implementation, for 100,000+ generated keys.
 */

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer | string) => number;

// Kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
const KAFKA_VECTORS: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];


// Code points from 1-, 2-, 3- and 4-byte UTF-8 ranges: ASCII, Latin/Greek, CJK, emoji.
const CODE_POINT_RANGES: [number, number][] = [
  [0x20, 0x7e],
  [0x80, 0x7ff],
  [0x4e00, 0x9fff],
  [0x1f300, 0x1faff],
];

function randomString(next: () => number, maxChars: number): string {
  const length = Math.floor(next() * (maxChars + 1));
  const range = CODE_POINT_RANGES[Math.floor(next() * CODE_POINT_RANGES.length)]!;
  let s = '';
  for (let i = 0; i < length; i++) {
    // Mostly one range per key, sometimes mixed, like real keys.
    const [lo, hi] = next() < 0.8 ? range : CODE_POINT_RANGES[Math.floor(next() * CODE_POINT_RANGES.length)]!;
    s += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
  }
  return s;
}

function randomBytes(next: () => number, maxLength: number): Buffer {
  const bytes = Buffer.alloc(Math.floor(next() * (maxLength + 1)));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}

describe('murmur2', () => {
  it.each(KAFKA_VECTORS)("matches Kafka's published Utils.murmur2 vector for %j", (text, expected) => {
    expect(murmur2(Buffer.from(text, 'ascii'))).toBe(expected);
  });

  it('hashes the empty key, every tail length and a Uint8Array like a Buffer', () => {
    const bytes = Uint8Array.from([0xff, 0x80, 0x00, 0x7f, 0xfe, 0x01, 0x02]);
    for (let length = 0; length <= bytes.length; length++) {
      const slice = bytes.subarray(0, length);
      expect(murmur2(slice)).toBe(kafkajsMurmur2(Buffer.from(slice)));
      expect(murmur2(bytes, length)).toBe(murmur2(slice));
    }
  });

  it('toPositive clears the sign bit, as Kafka does (not Math.abs)', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(5)).toBe(5);
  });
});

describe("partition choice equals kafkajs's Java-compatible partitioner", () => {
  const COUNTS = [1, 2, 3, 7, 12, 64, 1000];
  const partitioner = Partitioners.DefaultPartitioner();
  const metadata = new Map(COUNTS.map((n) => [n, Array.from({ length: n }, (_, p) => ({ partitionId: p, leader: 0 }))]));

  function kafkajsPartition(key: Buffer | string, n: number): number {
    // The partition metadata type needs more fields than the partitioner reads.
    const partitionMetadata = metadata.get(n) as unknown as Parameters<typeof partitioner>[0]['partitionMetadata'];
    return partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
  }

  it('for 120,000 generated keys: bytes and UTF-8 strings, 0 to ~100 bytes, including empty', () => {
    const next = prng(0x5eed);
    const keys: (Buffer | string)[] = ['', Buffer.alloc(0), 'sensor-A1', 'héllo wörld', '温度传感器', '🌡️📈'];
    while (keys.length < 120_000) keys.push(next() < 0.5 ? randomBytes(next, 100) : randomString(next, 30));
    const mismatches: string[] = [];
    keys.forEach((key, i) => {
      const n = COUNTS[i % COUNTS.length]!;
      const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
      const expectedHash = kafkajsMurmur2(bytes);
      if (murmur2(bytes) !== expectedHash) mismatches.push(`murmur2 of ${bytes.toString('hex')}`);
      const expected = kafkajsPartition(key, n);
      if (partitionForKey(key, n) !== expected) mismatches.push(`partition of ${JSON.stringify(key)} (n=${n})`);
      if (typeof key === 'string' && partitionForKey(bytes, n) !== expected) mismatches.push(`bytes of ${JSON.stringify(key)}`);
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(keys.some((k) => typeof k === 'string' && Buffer.byteLength(k) > 90)).toBe(true);
  });

  it('hashes long string keys (past the scratch buffer) the same way', () => {
    const key = 'ключ-'.repeat(5000);
    expect(partitionForKey(key, 12)).toBe(kafkajsPartition(key, 12));
    expect(partitionForKey('k'.repeat(3000), 7)).toBe(kafkajsPartition('k'.repeat(3000), 7));
  });
});
