/**
 * kafkajs (a Kafka client nobody here wrote) against one seglog broker for the whole file:
 * produce and consume in every codec it offers, topic creation, offsets for times, consumer
 * groups whose commits `Log.consumer` shares, rebalances, an idempotent producer's retry,
 * DeleteRecords; and the partition directories the broker wrote pass `seglog verify` and decode
 * with kafkajs's own batch decoder.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CompressionTypes, type Consumer, type Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Log, partitionForKey, type Broker } from '../../src/index.js';
import { ensureBuilt, seglog } from '../cli/helpers.js';
import { decodeWithKafkaJs, registerKafkaJsCodecs } from '../record/helpers.js';
import { kafkaClient, startBroker, waitFor } from './helpers.js';

let dir: string;
let broker: Broker;
let bootstrap: string;
let kafka: Kafka;
let lines: string[];

const CONSUMER = { sessionTimeout: 6000, rebalanceTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 100, retry: { retries: 10, initialRetryTime: 50 } };

beforeAll(async () => {
  registerKafkaJsCodecs();
  // Not tmpDir(), which is emptied after each test: the broker serves this one for the whole file.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-broker-kafkajs-'));
  ({ broker, bootstrap, lines } = await startBroker(dir, { numPartitions: 3 }));
  kafka = kafkaClient(bootstrap);
});

afterAll(async () => {
  await broker?.close();
  // Only bad input is logged; a clean run logs topic creations alone.
  expect(lines.filter((l) => !l.startsWith('created topic'))).toEqual([]);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs a consumer until `done(received)` holds; returns what it received, in order. */
async function consumeUntil(
  consumer: Consumer,
  topics: string[],
  done: (got: { topic: string; partition: number; offset: number; key: string; value: string }[]) => boolean,
): Promise<{ topic: string; partition: number; offset: number; key: string; value: string }[]> {
  const got: { topic: string; partition: number; offset: number; key: string; value: string }[] = [];
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      got.push({ topic, partition, offset: Number(message.offset), key: message.key?.toString() ?? '', value: message.value!.toString() });
    },
  });
  await waitFor(() => done(got), 30_000, 'records to arrive');
  return got;
}

describe('kafkajs against seglog serve', () => {
  it('produces and consumes keyed records in every codec, each key in the partition a Kafka producer picks, in order', async () => {
    const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4 };
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const keys = ['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4', 'sensor-5'];
    for (const [name, compression] of Object.entries(codecs)) {
      for (let round = 0; round < 3; round++) {
        await producer.send({ topic: `codec-${name}`, compression, acks: -1, messages: keys.map((key) => ({ key, value: `${name}-${key}-${round}` })) });
      }
    }
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'codecs', ...CONSUMER });
    const topics = Object.keys(codecs).map((n) => `codec-${n}`);
    const got = await consumeUntil(consumer, topics, (g) => g.length >= 60);
    await consumer.disconnect();
    expect(got).toHaveLength(60);
    for (const name of Object.keys(codecs)) {
      for (const key of keys) {
        const mine = got.filter((r) => r.topic === `codec-${name}` && r.key === key);
        expect(mine.map((r) => r.value)).toEqual([0, 1, 2].map((round) => `${name}-${key}-${round}`));
        expect(new Set(mine.map((r) => r.partition))).toEqual(new Set([partitionForKey(key, 3)]));
      }
    }
  });

  it('creates topics with CreateTopics (partition count, configs) and refuses bad ones', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const created = await admin.createTopics({
      topics: [{ topic: 'made', numPartitions: 4, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
      waitForLeaders: true,
    });
    expect(created).toBe(true);
    expect(fs.existsSync(path.join(dir, 'made', 'made-3'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'made', 'broker-config.json'), 'utf8'))).toEqual({ version: 1, configs: { 'retention.ms': '3600000' } });
    const metadata = await admin.fetchTopicMetadata({ topics: ['made'] });
    expect(metadata.topics[0]!.partitions).toHaveLength(4);
    const refused = async (topic: { topic: string; replicationFactor?: number; configEntries?: { name: string; value: string }[] }): Promise<string> => {
      const err = (await admin.createTopics({ topics: [topic] }).then(
        () => null,
        (e: unknown) => e,
      )) as { errors?: { type: string }[] } | null;
      return err?.errors?.[0]?.type ?? 'created';
    };
    expect(await refused({ topic: 'bad', configEntries: [{ name: 'no.such.config', value: '1' }] })).toBe('INVALID_CONFIG');
    expect(await refused({ topic: 'two', replicationFactor: 2 })).toBe('INVALID_REPLICATION_FACTOR');
    expect(await refused({ topic: 'bad name!' })).toBe('INVALID_TOPIC_EXCEPTION');
    expect(await admin.createTopics({ topics: [{ topic: 'made', numPartitions: 4 }] })).toBe(false);
    // Auto-creation: a producer naming an unknown topic gets it with numPartitions (3).
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'auto-made', messages: [{ key: 'k', value: 'v' }] });
    await producer.disconnect();
    expect(fs.readdirSync(path.join(dir, 'auto-made')).filter((n) => n.startsWith('auto-made-')).sort()).toEqual(['auto-made-0', 'auto-made-1', 'auto-made-2']);
    await admin.disconnect();
  });

  it('answers offsets for times, earliest and latest', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const base = 1_700_000_000_000;
    await producer.send({ topic: 'times', messages: [0, 1, 2, 3, 4].map((i) => ({ key: 'one-key', value: String(i), timestamp: String(base + i * 1000), partition: 0 })) });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const at = async (ts: number): Promise<string> => (await admin.fetchTopicOffsetsByTimestamp('times', ts)).find((p) => p.partition === 0)!.offset;
    expect(await at(base + 2000)).toBe('2');
    expect(await at(base + 2500)).toBe('3');
    expect(await at(base)).toBe('0');
    // Past the last record: kafkajs turns Kafka's "none" (-1) into the latest offset.
    expect(await at(base + 99_000)).toBe('5');
    const offsets = await admin.fetchTopicOffsets('times');
    expect(offsets.find((p) => p.partition === 0)).toMatchObject({ low: '0', high: '5' });
    await admin.disconnect();
  });

  it('keeps a group\'s committed offsets in Log.consumer(groupId), both ways', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'shared', messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}`, partition: 0 })) });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'billing', ...CONSUMER });
    const got = await consumeUntil(consumer, ['shared'], (g) => g.length >= 10);
    expect(got.map((r) => r.value)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    await consumer.disconnect(); // commits on the way out
    const view = Log.open(path.join(dir, 'shared', 'shared-0'), { readOnly: true });
    try {
      expect(view.consumer('billing').committed()).toBe(10);
      // And the other way: a seglog consumer commits, the Kafka group starts there.
      await view.consumer('audit').commit(7);
    } finally {
      view.close();
    }
    const admin = kafka.admin();
    await admin.connect();
    const fetched = await admin.fetchOffsets({ groupId: 'audit', topics: ['shared'] });
    expect(fetched[0]!.partitions.find((p) => p.partition === 0)!.offset).toBe('7');
    await admin.disconnect();
    const audit = kafka.consumer({ groupId: 'audit', ...CONSUMER });
    const rest = await consumeUntil(audit, ['shared'], (g) => g.length >= 3);
    await audit.disconnect();
    expect(rest.map((r) => r.offset)).toEqual([7, 8, 9]);
  });

  it('rebalances when a second consumer joins and when it leaves, losing and repeating nothing', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'rebalance', numPartitions: 4 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    let sent = 0;
    const sendSome = async (n: number): Promise<void> => {
      const messages = Array.from({ length: n }, () => ({ key: `k${sent % 13}`, value: String(sent++) }));
      await producer.send({ topic: 'rebalance', messages });
    };
    const seen: string[] = [];
    const members: Record<string, Set<number>> = { a: new Set(), b: new Set() };
    const joins = { a: 0, b: 0 };
    const run = async (consumer: Consumer, name: 'a' | 'b'): Promise<void> => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joins[name]++;
      });
      await consumer.connect();
      await consumer.subscribe({ topic: 'rebalance', fromBeginning: true });
      // Commit after every record: anything handled twice would be a broker bug.
      await consumer.run({
        autoCommitThreshold: 1,
        eachMessage: async ({ partition, message }) => {
          seen.push(message.value!.toString());
          members[name]!.add(partition);
        },
      });
    };
    const a = kafka.consumer({ groupId: 'rebalancers', ...CONSUMER });
    await run(a, 'a');
    await sendSome(40);
    await waitFor(() => seen.length >= 40, 30_000, 'a to read the first 40');
    const b = kafka.consumer({ groupId: 'rebalancers', ...CONSUMER });
    await run(b, 'b');
    // Both are in the new generation once a rejoined (its second join) and b joined.
    await waitFor(() => joins.a >= 2 && joins.b >= 1, 30_000, 'the rebalance after b joined');
    await sendSome(40);
    await waitFor(() => seen.length >= 80 && members.b!.size > 0, 30_000, 'both to read the next 40');
    await b.disconnect();
    await waitFor(() => joins.a >= 3, 30_000, 'the rebalance after b left');
    await sendSome(40);
    await waitFor(() => seen.length >= 120, 30_000, 'a to read the last 40 alone');
    await a.disconnect();
    await producer.disconnect();
    expect(seen.length).toBe(120);
    expect(new Set(seen).size).toBe(120);
    expect(members.b!.size).toBeGreaterThan(0);
  });

  it('writes an idempotent producer\'s retried batch once', async () => {
    // A proxy that loses the answer to the first produce it sees and drops the connection: the
    // producer must send the same batch (same producer id and sequence) again.
    // A broker of its own that tells clients to connect through the proxy.
    const ownDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-broker-idempotent-'));
    let upstreamPort = 0;
    let dropped = false;
    const proxy = net.createServer((client) => {
      const upstream = net.connect(upstreamPort, '127.0.0.1');
      let produceCorrelation = -1;
      let inbound = Buffer.alloc(0);
      client.on('data', (data: Buffer) => {
        inbound = Buffer.concat([inbound, data]);
        while (inbound.length >= 12 && inbound.length >= 4 + inbound.readInt32BE(0)) {
          if (inbound.readInt16BE(4) === 0 && !dropped && produceCorrelation < 0) produceCorrelation = inbound.readInt32BE(8);
          inbound = inbound.subarray(4 + inbound.readInt32BE(0));
        }
        upstream.write(data);
      });
      let outbound = Buffer.alloc(0);
      upstream.on('data', (data: Buffer) => {
        outbound = Buffer.concat([outbound, data]);
        while (outbound.length >= 8 && outbound.length >= 4 + outbound.readInt32BE(0)) {
          const frame = outbound.subarray(0, 4 + outbound.readInt32BE(0));
          outbound = outbound.subarray(frame.length);
          if (!dropped && frame.readInt32BE(4) === produceCorrelation) {
            dropped = true;
            client.destroy();
            upstream.destroy();
            return;
          }
          client.write(frame);
        }
      });
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as net.AddressInfo).port;
    const own = await startBroker(ownDir, { advertisedPort: proxyPort });
    upstreamPort = own.broker.port;
    const proxied = kafkaClient(`127.0.0.1:${proxyPort}`);
    const producer = proxied.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: 'idempotent', acks: -1, messages: [{ key: 'a', value: 'once' }, { key: 'b', value: 'twice?' }] });
    await producer.send({ topic: 'idempotent', acks: -1, messages: [{ key: 'c', value: 'after' }] });
    await producer.disconnect();
    proxy.close();
    await own.broker.close();
    expect(dropped).toBe(true);
    const log = Log.open(path.join(ownDir, 'idempotent', 'idempotent-0'), { readOnly: true });
    try {
      expect(log.read(0).map((r) => r.value!.toString())).toEqual(['once', 'twice?', 'after']);
    } finally {
      log.close();
      fs.rmSync(ownDir, { recursive: true, force: true });
    }
  });

  it('deletes records before an offset with DeleteRecords', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'trimmed', messages: Array.from({ length: 10 }, (_, i) => ({ value: String(i), partition: 0 })) });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: ['trimmed'] });
    await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '6' }] });
    const offsets = await admin.fetchTopicOffsets('trimmed');
    expect(offsets.find((p) => p.partition === 0)).toMatchObject({ low: '6', high: '10' });
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: 'after-trim', ...CONSUMER });
    const got = await consumeUntil(consumer, ['trimmed'], (g) => g.length >= 4);
    await consumer.disconnect();
    expect(got.map((r) => r.value)).toEqual(['6', '7', '8', '9']);
  });

  it('leaves partition directories that pass seglog verify and decode with kafkajs', async () => {
    ensureBuilt();
    const topics = ['codec-gzip', 'codec-lz4', 'codec-snappy', 'codec-none', 'shared'];
    const partitionDirs = topics.flatMap((t) => [0, 1, 2].map((p) => path.join(dir, t, `${t}-${p}`)));
    const withData = partitionDirs.filter((p) => fs.statSync(path.join(p, '00000000000000000000.log')).size > 0);
    expect(withData.length).toBeGreaterThanOrEqual(topics.length);
    for (const full of withData) {
      const verified = seglog(['verify', full]);
      expect(verified.status, verified.stdout + verified.stderr).toBe(0);
      const bytes = fs.readFileSync(path.join(full, '00000000000000000000.log'));
      let pos = 0;
      let next = 0;
      while (pos < bytes.length) {
        const size = 12 + bytes.readInt32BE(pos + 8);
        const batch = await decodeWithKafkaJs(bytes.subarray(pos, pos + size));
        expect(batch.firstOffset).toBe(String(next));
        expect(batch.partitionLeaderEpoch).toBe(0);
        next += batch.lastOffsetDelta + 1;
        pos += size;
      }
      expect(next).toBeGreaterThan(0);
    }
  });
});
