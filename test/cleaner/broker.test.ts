import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, type Broker } from '../../src/index.js';
import { logConfigOf, readBrokerConfigs } from '../../src/broker/topic-configs.js';
import { kafkaClient, startBroker } from '../broker/helpers.js';
import { tmpDir } from '../support/tmp.js';

/**
 * Topics created through the broker with Kafka's `cleanup.policy` (CreateTopics from kafkajs, a
 * client nobody here wrote): a compacted topic's partitions refuse keyless records, as Kafka's
 * `LogValidator` does, and are compacted; a topic without it keeps accepting them.
 */

let broker: Broker | null = null;

afterEach(async () => {
  await broker?.close();
  broker = null;
});

describe("the broker's CreateTopics and cleanup.policy", () => {
  it('creates compacted partitions from cleanup.policy=compact', async () => {
    const dir = tmpDir('seglog-cleaner-broker-');
    const started = await startBroker(dir);
    broker = started.broker;
    const kafka = kafkaClient(started.bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'table', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'delete.retention.ms', value: '0' }] },
        { topic: 'events', numPartitions: 1 },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    const keyless = (topic: string): Promise<string> =>
      producer.send({ topic, messages: [{ value: 'no key' }] }).then(
        () => 'accepted',
        (err: { cause?: { type?: string } }) => err.cause?.type ?? String(err),
      );
    // kafkajs speaks Produce v3: Kafka reports INVALID_RECORD as CORRUPT_MESSAGE below v8.
    expect(await keyless('table')).toBe('CORRUPT_MESSAGE');
    expect(await keyless('events')).toBe('accepted');
    for (let round = 0; round < 5; round++) {
      await producer.send({ topic: 'table', messages: ['a', 'b', 'c'].map((key) => ({ key, value: `${key}${round}` })) });
    }
    await producer.disconnect();
    await broker.close();
    broker = null;

    // The partition directory, opened with the configs the broker stored for the topic.
    const config = logConfigOf(readBrokerConfigs(path.join(dir, 'table')), true);
    expect(config).toEqual({ cleanupPolicy: 'compact', deleteRetentionMs: 0 });
    const log = Log.open(path.join(dir, 'table', 'table-0'), config);
    log.roll();
    const result = await log.compact();
    expect(result.recordsRemoved).toBe(12);
    expect(log.read(0).map((r) => `${r.key}=${r.value}`)).toEqual(['a=a4', 'b=b4', 'c=c4']);
    log.close();
  });
});
