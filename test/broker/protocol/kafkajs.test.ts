import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import {
  ApiKey,
  decodeRequest,
  decodeRequestHeader,
  encodeResponse,
} from '../../../src/broker/protocol/index.js';

// Cross-checks against kafkajs 2.x's own protocol code (written by nobody here): requests that
// kafkajs encodes are decoded by ours, and responses ours encodes are decoded by kafkajs, for
// every version kafkajs speaks that this broker serves. kafkajs reads fields in order without
// names on the wire, so a field at the wrong version or of the wrong width shows up as garbage.

const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
type KafkajsRequest = { apiKey: number; apiVersion: number; encode: () => Promise<Encoded> };
const frameRequest = require('kafkajs/src/protocol/request') as (args: {
  correlationId: number;
  clientId: string;
  request: KafkajsRequest;
}) => Promise<Encoded>;
const RecordBatch = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (args: object) => Promise<Encoded> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (args: object) => Encoded;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  records: { key: Buffer; value: Buffer; offset: string }[];
}>;

const kjsRequest = (api: string, v: number) =>
  require(`kafkajs/src/protocol/requests/${api}/v${v}/request`) as (args: object) => KafkajsRequest;
type KafkajsResponse = { decode: (b: Buffer) => Promise<unknown> };
/** A kafkajs response decoder; some (DeleteRecords) are factories taking the request's arguments. */
const kjsResponse = (api: string, v: number, args: object = {}): KafkajsResponse => {
  const mod = require(`kafkajs/src/protocol/requests/${api}/v${v}/response`) as KafkajsResponse | ((a: object) => KafkajsResponse);
  return typeof mod === 'function' ? mod(args) : mod;
};

interface Case {
  api: string;
  key: number;
  versions: number[];
  args: object;
  request: (v: number) => object;
  response: (v: number) => object;
  kafkajs: (v: number) => object;
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const since = (v: number, min: number, o: object) => (v >= min ? o : {});
const bytes = Buffer.from([0, 1, 2, 3]);

async function kafkajsBatch(): Promise<Buffer> {
  const records = [
    Record({ offsetDelta: 0, key: Buffer.from('k0'), value: Buffer.from('v0') }),
    Record({ offsetDelta: 1, key: Buffer.from('k1'), value: Buffer.from('v1') }),
  ];
  return (await RecordBatch.RecordBatch({ firstOffset: '0', lastOffsetDelta: 1, firstTimestamp: 1, maxTimestamp: 1, records })).buffer;
}

const CASES: Case[] = [
  {
    api: 'apiVersions',
    key: ApiKey.ApiVersions,
    versions: range(0, 2),
    args: {},
    request: () => ({}),
    response: () => ({ errorCode: 0, apiKeys: [{ apiKey: 1, minVersion: 4, maxVersion: 17 }], throttleTimeMs: 9 }),
    kafkajs: (v) => ({ errorCode: 0, apiVersions: [{ apiKey: 1, minVersion: 4, maxVersion: 17 }], ...(v === 1 ? { throttleTime: 9 } : {}), ...since(v, 2, { clientSideThrottleTime: 9 }) }),
  },
  {
    api: 'metadata',
    key: ApiKey.Metadata,
    versions: range(0, 6),
    args: { topics: ['a', 'b'], allowAutoTopicCreation: false },
    request: (v) => ({ topics: [{ name: 'a' }, { name: 'b' }], ...since(v, 4, { allowAutoTopicCreation: false }) }),
    response: () => ({
      throttleTimeMs: 0,
      brokers: [{ nodeId: 0, host: 'localhost', port: 9092, rack: null }],
      clusterId: 'cluster',
      controllerId: 0,
      topics: [
        { errorCode: 0, name: 'a', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 3, leaderId: 0, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] }] },
      ],
    }),
    kafkajs: (v) => ({
      brokers: [{ nodeId: 0, host: 'localhost', port: 9092 }],
      ...since(v, 1, { controllerId: 0 }),
      ...since(v, 2, { clusterId: 'cluster' }),
      topicMetadata: [{ topicErrorCode: 0, topic: 'a', partitionMetadata: [{ partitionErrorCode: 0, partitionId: 3, leader: 0, replicas: [0], isr: [0] }] }],
    }),
  },
  {
    api: 'produce',
    key: ApiKey.Produce,
    versions: range(3, 7),
    args: {
      acks: -1,
      timeout: 30000,
      transactionalId: null,
      topicData: [{ topic: 't', partitions: [{ partition: 1, messages: [{ key: 'k', value: 'v', timestamp: 1700000000000 }] }] }],
    },
    request: () => ({ transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 't', partitionData: [{ index: 1, records: expect.any(Buffer) }] }] }),
    response: () => ({
      responses: [{ name: 't', partitionResponses: [{ index: 1, errorCode: 0, baseOffset: 42n, logAppendTimeMs: -1n, logStartOffset: 5n }] }],
      throttleTimeMs: 0,
    }),
    kafkajs: (v) => ({
      topics: [{ topicName: 't', partitions: [{ partition: 1, errorCode: 0, baseOffset: '42', logAppendTime: '-1', ...since(v, 5, { logStartOffset: '5' }) }] }],
    }),
  },
  {
    api: 'fetch',
    key: ApiKey.Fetch,
    versions: range(4, 11),
    args: {
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 10485760,
      rackId: 'rack',
      topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: '5', maxBytes: 1048576 }] }],
    },
    request: (v) => ({
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 10485760,
      isolationLevel: 1,
      topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 5n, partitionMaxBytes: 1048576, ...since(v, 5, { logStartOffset: -1n }), ...since(v, 9, { currentLeaderEpoch: -1 }) }] }],
      ...since(v, 7, { sessionId: 0, sessionEpoch: -1, forgottenTopicsData: [] }),
      ...since(v, 11, { rackId: 'rack' }),
    }),
    response: () => ({}), // built from a kafkajs-encoded batch in its own test below
    kafkajs: () => ({}),
  },
  {
    api: 'listOffsets',
    key: ApiKey.ListOffsets,
    versions: range(1, 3),
    args: { replicaId: -1, isolationLevel: 1, topics: [{ topic: 't', partitions: [{ partition: 2, timestamp: -2 }] }] },
    request: (v) => ({ replicaId: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 2, timestamp: -2n }] }], ...since(v, 2, { isolationLevel: 1 }) }),
    response: () => ({ throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 2, errorCode: 0, timestamp: -1n, offset: 17n }] }] }),
    kafkajs: () => ({ responses: [{ topic: 't', partitions: [{ partition: 2, errorCode: 0, timestamp: '-1', offset: '17' }] }] }),
  },
  {
    api: 'createTopics',
    key: ApiKey.CreateTopics,
    versions: range(0, 3),
    args: {
      topics: [{ topic: 't', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      timeout: 4000,
      validateOnly: true,
    },
    request: (v) => ({
      topics: [{ name: 't', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [{ name: 'cleanup.policy', value: 'compact' }] }],
      timeoutMs: 4000,
      ...since(v, 1, { validateOnly: true }),
    }),
    response: () => ({ throttleTimeMs: 0, topics: [{ name: 't', errorCode: 36, errorMessage: 'exists' }] }),
    kafkajs: (v) => ({ topicErrors: [{ topic: 't', errorCode: 36, ...since(v, 1, { errorMessage: 'exists' }) }] }),
  },
  {
    api: 'deleteRecords',
    key: ApiKey.DeleteRecords,
    versions: range(0, 1),
    args: { topics: [{ topic: 't', partitions: [{ partition: 0, offset: '7' }] }], timeout: 5000 },
    request: () => ({ topics: [{ name: 't', partitions: [{ partitionIndex: 0, offset: 7n }] }], timeoutMs: 5000 }),
    response: () => ({ throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, lowWatermark: 7n, errorCode: 0 }] }] }),
    kafkajs: () => ({ topics: [{ topic: 't', partitions: [{ partition: 0, errorCode: 0 }] }] }),
  },
  {
    api: 'initProducerId',
    key: ApiKey.InitProducerId,
    versions: range(0, 1),
    args: { transactionalId: null, transactionTimeout: 60000 },
    request: () => ({ transactionalId: null, transactionTimeoutMs: 60000 }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, producerId: 1000n, producerEpoch: 2 }),
    kafkajs: () => ({ errorCode: 0, producerId: '1000', producerEpoch: 2 }),
  },
  {
    api: 'findCoordinator',
    key: ApiKey.FindCoordinator,
    versions: range(0, 2),
    args: { groupId: 'g', coordinatorKey: 'g', coordinatorType: 0 },
    request: (v) => ({ key: 'g', ...since(v, 1, { keyType: 0 }) }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 0, host: 'localhost', port: 9092 }),
    kafkajs: () => ({ errorCode: 0, coordinator: { nodeId: 0, host: 'localhost', port: 9092 } }),
  },
  {
    api: 'joinGroup',
    key: ApiKey.JoinGroup,
    versions: range(0, 5),
    args: {
      groupId: 'g',
      sessionTimeout: 30000,
      rebalanceTimeout: 60000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata: bytes }],
    },
    request: (v) => ({
      groupId: 'g',
      sessionTimeoutMs: 30000,
      memberId: '',
      protocolType: 'consumer',
      protocols: [{ name: 'RoundRobinAssigner', metadata: bytes }],
      ...since(v, 1, { rebalanceTimeoutMs: 60000 }),
      ...since(v, 5, { groupInstanceId: null }),
    }),
    response: () => ({
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 4,
      protocolName: 'RoundRobinAssigner',
      leader: 'm1',
      memberId: 'm2',
      members: [{ memberId: 'm1', groupInstanceId: null, metadata: bytes }],
    }),
    kafkajs: () => ({ errorCode: 0, generationId: 4, groupProtocol: 'RoundRobinAssigner', leaderId: 'm1', memberId: 'm2', members: [{ memberId: 'm1', memberMetadata: bytes }] }),
  },
  {
    api: 'syncGroup',
    key: ApiKey.SyncGroup,
    versions: range(0, 3),
    args: { groupId: 'g', generationId: 4, memberId: 'm1', groupInstanceId: null, groupAssignment: [{ memberId: 'm1', memberAssignment: bytes }] },
    request: (v) => ({ groupId: 'g', generationId: 4, memberId: 'm1', assignments: [{ memberId: 'm1', assignment: bytes }], ...since(v, 3, { groupInstanceId: null }) }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, assignment: bytes }),
    kafkajs: () => ({ errorCode: 0, memberAssignment: bytes }),
  },
  {
    api: 'heartbeat',
    key: ApiKey.Heartbeat,
    versions: range(0, 3),
    args: { groupId: 'g', groupGenerationId: 4, memberId: 'm1', groupInstanceId: null },
    request: (v) => ({ groupId: 'g', generationId: 4, memberId: 'm1', ...since(v, 3, { groupInstanceId: null }) }),
    response: () => ({ throttleTimeMs: 0, errorCode: 27 }),
    kafkajs: () => ({ errorCode: 27 }),
  },
  {
    api: 'leaveGroup',
    key: ApiKey.LeaveGroup,
    versions: range(0, 3),
    args: { groupId: 'g', memberId: 'm1', members: [{ memberId: 'm1', groupInstanceId: null }] },
    request: (v) => (v < 3 ? { groupId: 'g', memberId: 'm1' } : { groupId: 'g', members: [{ memberId: 'm1', groupInstanceId: null }] }),
    response: () => ({ throttleTimeMs: 0, errorCode: 0, members: [{ memberId: 'm1', groupInstanceId: null, errorCode: 0 }] }),
    kafkajs: (v) => ({ errorCode: 0, ...since(v, 3, { members: [{ memberId: 'm1', groupInstanceId: null, errorCode: 0 }] }) }),
  },
  {
    api: 'offsetCommit',
    key: ApiKey.OffsetCommit,
    versions: range(0, 5),
    args: {
      groupId: 'g',
      groupGenerationId: 4,
      memberId: 'm1',
      retentionTime: -1,
      topics: [{ topic: 't', partitions: [{ partition: 0, offset: '12', timestamp: 99, metadata: null }] }],
    },
    request: (v) => ({
      groupId: 'g',
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 12n, committedMetadata: null, ...(v === 1 ? { commitTimestamp: 99n } : {}) }] }],
      ...since(v, 1, { generationIdOrMemberEpoch: 4, memberId: 'm1' }),
      ...(v >= 2 && v <= 4 ? { retentionTimeMs: -1n } : {}),
    }),
    response: () => ({ throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0 }] }] }),
    kafkajs: () => ({ responses: [{ topic: 't', partitions: [{ partition: 0, errorCode: 0 }] }] }),
  },
  {
    api: 'offsetFetch',
    key: ApiKey.OffsetFetch,
    versions: range(1, 4),
    args: { groupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 0 }, { partition: 1 }] }] },
    request: () => ({ groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 1] }] }),
    response: () => ({
      throttleTimeMs: 0,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 12n, metadata: '', errorCode: 0 }] }],
      errorCode: 0,
    }),
    kafkajs: (v) => ({ responses: [{ topic: 't', partitions: [{ partition: 0, offset: '12', metadata: '', errorCode: 0 }] }], ...since(v, 2, { errorCode: 0 }) }),
  },
];

describe.each(CASES)('$api', (c) => {
  test.each(c.versions)('kafkajs request v%i decodes', async (v) => {
    const frame = (await frameRequest({ correlationId: 77, clientId: 'kafkajs', request: kjsRequest(c.api, v)(c.args) })).buffer;
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    const header = decodeRequestHeader(frame.subarray(4));
    expect(header).toMatchObject({ apiKey: c.key, apiVersion: v, correlationId: 77, clientId: 'kafkajs' });
    expect(decodeRequest(c.key, v, frame.subarray(4), header.bodyOffset)).toEqual(c.request(v));
  });

  if (c.api === 'fetch') return;
  test.each(c.versions)('response v%i decodes in kafkajs', async (v) => {
    const frame = Buffer.concat(encodeResponse(c.key, v, 77, c.response(v)));
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    expect(frame.readInt32BE(4)).toBe(77);
    // kafkajs reads a response header v0: the body follows the correlation id.
    expect(await kjsResponse(c.api, v, c.args).decode(frame.subarray(8))).toMatchObject(c.kafkajs(v));
  });
});

describe('record batches through kafkajs', () => {
  test.each(range(3, 7))('produce v%i: the records field is the batch kafkajs built', async (v) => {
    const request = kjsRequest('produce', v)({
      acks: 1,
      timeout: 1000,
      topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k0', value: 'v0' }, { key: 'k1', value: 'v1' }] }] }],
    });
    const frame = (await frameRequest({ correlationId: 1, clientId: 'kafkajs', request })).buffer.subarray(4);
    const body = decodeRequest(ApiKey.Produce, v, frame, decodeRequestHeader(frame).bodyOffset);
    const records = body.topicData[0]!.partitionData[0]!.records!;
    const batch = await decodeBatch(new Decoder(records));
    expect(batch.records.map((r) => [r.key.toString(), r.value.toString()])).toEqual([
      ['k0', 'v0'],
      ['k1', 'v1'],
    ]);
  });

  test.each(range(4, 11))('fetch v%i: kafkajs reads the records sent as slices', async (v) => {
    const batch = await kafkajsBatch();
    const body = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 't',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: 2n,
              lastStableOffset: 2n,
              logStartOffset: 0n,
              abortedTransactions: [],
              preferredReadReplica: -1,
              records: [batch.subarray(0, 20), batch.subarray(20)],
            },
          ],
        },
      ],
    };
    const frame = Buffer.concat(encodeResponse(ApiKey.Fetch, v, 5, body));
    const decoded = (await kjsResponse('fetch', v).decode(frame.subarray(8))) as {
      responses: { topicName: string; partitions: { partition: number; highWatermark: string; messages: { key: Buffer; value: Buffer; offset: string }[] }[] }[];
    };
    expect(decoded.responses[0]).toMatchObject({ topicName: 't', partitions: [{ partition: 0, highWatermark: '2', lastStableOffset: '2' }] });
    const messages = decoded.responses[0]!.partitions[0]!.messages;
    expect(messages.map((m) => [m.offset, m.key.toString(), m.value.toString()])).toEqual([
      ['0', 'k0', 'v0'],
      ['1', 'k1', 'v1'],
    ]);
  });
});
