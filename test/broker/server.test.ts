/**
 * The broker through raw requests of our codec, at the newest (flexible) versions a modern client
 * asks for, and the server's rules: request order per connection, long-poll woken by appends,
 * byte limits, errors per partition, and connections closed for bad input with one log line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Log, type Broker } from '../../src/index.js';
import { ApiKey, ErrorCode, SUPPORTED_VERSIONS, decodeResponse } from '../../src/broker/protocol/index.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { readBaseOffset } from '../../src/record/batch-layout.js';
import { RawClient, startBroker, waitFor } from './helpers.js';

let dir: string;
let broker: Broker;
let bootstrap: string;
let lines: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-broker-server-'));
  ({ broker, bootstrap, lines } = await startBroker(dir, { maxRequestBytes: 1024 * 1024, topicConfig: { maxMessageBytes: 64 * 1024 } }));
});

afterAll(async () => {
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function batch(values: string[], key = 'k'): Buffer {
  const records = values.map((value) => ({ key, value }));
  return Buffer.from(encodeBatch(records, 0, { compression: 'none', timestampType: 'CreateTime', now: Date.now(), partitionLeaderEpoch: -1 }).buffer);
}

async function createTopic(client: RawClient, name: string, partitions: number): Promise<Buffer> {
  const created = await client.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 1000 });
  expect(created.topics[0]).toMatchObject({ name, errorCode: 0, numPartitions: partitions });
  return created.topics[0]!.topicId!;
}

async function produce(client: RawClient, topic: string, partition: number, records: Buffer, acks = -1, version = 11) {
  const r = await client.request(ApiKey.Produce, version, { transactionalId: null, acks, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return r.responses[0]!.partitionResponses[0]!;
}

describe('seglog broker, raw requests', () => {
  it('lists every served API and answers an unknown ApiVersions version in the v0 layout with its own range', async () => {
    const client = await RawClient.connect(bootstrap);
    for (let v = 0; v <= SUPPORTED_VERSIONS.get(ApiKey.ApiVersions)!.max; v++) {
      const r = await client.request(ApiKey.ApiVersions, v, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
      expect(r.errorCode).toBe(0);
      expect(r.apiKeys.find((k) => k.apiKey === ApiKey.JoinGroup)).toMatchObject({ minVersion: 0 });
      expect(r.apiKeys).toHaveLength(SUPPORTED_VERSIONS.size);
    }
    // v99: header v2 like the newest flexible version; the answer is ApiVersions v0.
    const frame = Buffer.alloc(4 + 2 + 2 + 4 + 2 + 1 + 2);
    frame.writeInt32BE(frame.length - 4, 0);
    frame.writeInt16BE(ApiKey.ApiVersions, 4);
    frame.writeInt16BE(99, 6);
    frame.writeInt32BE(42, 8);
    frame.writeInt16BE(0, 12); // empty client id, then no tagged fields, then an empty body
    client.writeRaw(frame);
    const answer = decodeResponse(ApiKey.ApiVersions, 0, (await client.nextFrame())!);
    expect(answer.correlationId).toBe(42);
    expect(answer.body.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(answer.body.apiKeys).toEqual([{ apiKey: 18, minVersion: 0, maxVersion: SUPPORTED_VERSIONS.get(18)!.max }]);
    client.close();
  });

  it('serves a client that speaks only the newest flexible versions: topic ids, produce, fetch by id, groups, offsets', async () => {
    const client = await RawClient.connect(bootstrap);
    const topicId = await createTopic(client, 'modern', 2);
    expect(fs.readFileSync(path.join(dir, 'modern', 'modern-1', 'partition.metadata'), 'utf8')).toBe(`version: 0\ntopic_id: ${topicId.toString('base64url')}`);
    const meta = await client.request(ApiKey.Metadata, 12, { topics: [{ topicId, name: null }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    expect(meta.topics[0]).toMatchObject({ errorCode: 0, name: 'modern', topicId });
    expect(meta.topics[0]!.partitions.map((p) => p.leaderId)).toEqual([0, 0]);
    expect(meta.controllerId).toBe(0);
    expect((await produce(client, 'modern', 1, batch(['a', 'b']))).baseOffset).toBe(0n);
    expect((await produce(client, 'modern', 1, batch(['c']))).baseOffset).toBe(2n);
    const fetched = await client.request(ApiKey.Fetch, 17, {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topicId, partitions: [{ partition: 1, fetchOffset: 1n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    expect(fetched.sessionId).toBe(0);
    const part = fetched.responses[0]!.partitions[0]!;
    expect(fetched.responses[0]!.topicId).toEqual(topicId);
    expect(part).toMatchObject({ errorCode: 0, highWatermark: 3n, lastStableOffset: 3n, logStartOffset: 0n });
    // Whole batches: the one holding offset 1 starts at 0.
    expect(readBaseOffset(part.records!, 0)).toBe(0);

    const coordinator = await client.request(ApiKey.FindCoordinator, 6, { keyType: 0, coordinatorKeys: ['modern-group'] });
    expect(coordinator.coordinators![0]).toMatchObject({ key: 'modern-group', nodeId: 0, port: broker.port, errorCode: 0 });
    const join = (memberId: string) =>
      client.request(ApiKey.JoinGroup, 9, {
        groupId: 'modern-group',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.from('m') }],
        reason: null,
      });
    const first = await join('');
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const joined = await join(first.memberId);
    expect(joined).toMatchObject({ errorCode: 0, generationId: 1, protocolType: 'consumer', protocolName: 'range', leader: first.memberId });
    const synced = await client.request(ApiKey.SyncGroup, 5, {
      groupId: 'modern-group',
      generationId: 1,
      memberId: first.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: first.memberId, assignment: Buffer.from('all') }],
    });
    expect(synced).toMatchObject({ errorCode: 0, assignment: Buffer.from('all') });
    expect((await client.request(ApiKey.Heartbeat, 4, { groupId: 'modern-group', generationId: 1, memberId: first.memberId, groupInstanceId: null })).errorCode).toBe(0);
    const committed = await client.request(ApiKey.OffsetCommit, 9, {
      groupId: 'modern-group',
      generationIdOrMemberEpoch: 1,
      memberId: first.memberId,
      groupInstanceId: null,
      topics: [{ name: 'modern', partitions: [{ partitionIndex: 1, committedOffset: 3n, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
    expect(committed.topics[0]!.partitions[0]!.errorCode).toBe(0);
    const offsets = await client.request(ApiKey.OffsetFetch, 9, { groups: [{ groupId: 'modern-group', memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
    expect(offsets.groups![0]!.topics).toEqual([{ name: 'modern', partitions: [expect.objectContaining({ partitionIndex: 1, committedOffset: 3n, errorCode: 0 })] }]);
    const left = await client.request(ApiKey.LeaveGroup, 5, { groupId: 'modern-group', members: [{ memberId: first.memberId, groupInstanceId: null, reason: null }] });
    expect(left.members![0]!.errorCode).toBe(0);
    const listed = await client.request(ApiKey.ListOffsets, 9, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'modern', partitions: [{ partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -1n }] }] });
    expect(listed.topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, offset: 3n });
    const trimmed = await client.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'modern', partitions: [{ partitionIndex: 1, offset: 2n }] }], timeoutMs: 1000 });
    expect(trimmed.topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, lowWatermark: 2n });
    const pid = await client.request(ApiKey.InitProducerId, 5, { transactionalId: null, transactionTimeoutMs: -1, producerId: -1n, producerEpoch: -1 });
    expect(pid.errorCode).toBe(0);
    expect(pid.producerId > 0n).toBe(true);
    client.close();
  });

  it('gives errors per partition: unknown partitions, bad CRCs, batches over maxMessageBytes, offsets out of range', async () => {
    const client = await RawClient.connect(bootstrap);
    await createTopic(client, 'errors', 1);
    const corrupt = batch(['x']);
    corrupt[corrupt.length - 1] ^= 0xff;
    expect((await produce(client, 'errors', 0, corrupt)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect((await produce(client, 'errors', 0, batch(['y'.repeat(70_000)]))).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect((await produce(client, 'errors', 5, batch(['z']))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce(client, 'no-such-topic-for-produce', 0, batch(['z']))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce(client, 'errors', 0, batch(['ok']), 1, 3)).errorCode).toBe(0);
    const fetched = await client.request(ApiKey.Fetch, 4, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [{ topic: 'errors', partitions: [{ partition: 0, fetchOffset: 7n, partitionMaxBytes: 1024 }] }],
    });
    expect(fetched.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    client.close();
  });

  it('keeps fetches within the byte limits, always with one whole batch, and long-polls until an append', async () => {
    const client = await RawClient.connect(bootstrap);
    await createTopic(client, 'limits', 2);
    for (let i = 0; i < 3; i++) await produce(client, 'limits', 0, batch([`${i}`.repeat(2000)]));
    await produce(client, 'limits', 1, batch(['p1'.repeat(1000)]));
    const fetch = (partitionMaxBytes: number, maxBytes: number) =>
      client.request(ApiKey.Fetch, 11, {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: 'limits', partitions: [0, 1].map((p) => ({ partition: p, fetchOffset: 0n, partitionMaxBytes, currentLeaderEpoch: -1, logStartOffset: -1n })) }],
        forgottenTopicsData: [],
        rackId: '',
      });
    const tiny = await fetch(10, 10);
    const sizes = (r: Awaited<ReturnType<typeof fetch>>) => r.responses[0]!.partitions.map((p) => p.records?.length ?? 0);
    const [first, second] = sizes(tiny);
    expect(first).toBeGreaterThan(2000); // one whole batch although over both limits
    expect(first).toBeLessThan(4000);
    expect(second).toBe(0); // the response is full
    const roomy = sizes(await fetch(1 << 20, 1 << 20));
    expect(roomy[0]).toBeGreaterThan(6000);
    expect(roomy[1]).toBeGreaterThan(2000);

    // Long-poll: a fetch at the end waits; an ApiVersions behind it on the same connection is
    // answered after it; an append on another connection wakes it well before maxWaitMs.
    const started = Date.now();
    const waiting = client.send(ApiKey.Fetch, 11, {
      maxWaitMs: 20_000,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'limits', partitions: [{ partition: 1, fetchOffset: 1n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1n }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const behind = client.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
    const other = await RawClient.connect(bootstrap);
    await new Promise((r) => setTimeout(r, 200));
    await produce(other, 'limits', 1, batch(['wake']));
    const firstBack = decodeResponse(ApiKey.Fetch, 11, (await client.nextFrame())!);
    const secondBack = decodeResponse(ApiKey.ApiVersions, 3, (await client.nextFrame())!);
    expect([firstBack.correlationId, secondBack.correlationId]).toEqual([waiting, behind]);
    expect(firstBack.body.responses[0]!.partitions[0]!.records!.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    // acks=0: no response at all, so the next request's answer is the next frame.
    client.send(ApiKey.Produce, 7, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 'limits', partitionData: [{ index: 1, records: batch(['fire-and-forget']) }] }] });
    const next = client.send(ApiKey.ApiVersions, 2, {});
    expect(decodeResponse(ApiKey.ApiVersions, 2, (await client.nextFrame())!).correlationId).toBe(next);
    const view = Log.open(path.join(dir, 'limits', 'limits-1'), { readOnly: true });
    expect(view.endOffset).toBe(3);
    view.close();
    client.close();
    other.close();
  });

  it('closes only the offending connection, with one log line, for an unknown API, an oversized or malformed frame', async () => {
    const healthy = await RawClient.connect(bootstrap);
    const cases: [string, Buffer, RegExp][] = [
      ['unknown API', Buffer.from([0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0]), /unknown API key 999/],
      ['oversized', Buffer.from([0, 0x20, 0, 0]), /over maxRequestBytes/],
      ['negative size', Buffer.from([0xff, 0xff, 0xff, 0xff]), /over maxRequestBytes/],
      ['truncated body', Buffer.from([0, 0, 0, 12, 0, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]), /malformed Metadata v1/],
      ['unserved version', Buffer.from([0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]), /Produce v1 is not served/],
    ];
    for (const [what, bytes, expected] of cases) {
      const before = lines.length;
      const bad = await RawClient.connect(bootstrap);
      bad.writeRaw(bytes);
      expect(await bad.nextFrame(), what).toBeNull();
      await waitFor(() => lines.length > before, 5000, `a log line for ${what}`);
      expect(lines.slice(before), what).toHaveLength(1);
      expect(lines[before], what).toMatch(expected);
      expect((await healthy.request(ApiKey.ApiVersions, 3, {})).errorCode).toBe(0);
    }
    healthy.close();
  });
});
