import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { ApiKey, ErrorCode, SUPPORTED_VERSIONS, apiName, errorName, isFlexible } from '../../../src/broker/protocol/index.js';

describe('served versions', () => {
  // The contract with clients (what ApiVersions advertises), as docs/PROTOCOL.md states it:
  // [key, min, max, first flexible version].
  const TABLE: [string, number, number, number, number][] = [
    ['Produce', 0, 3, 11, 9],
    ['Fetch', 1, 4, 17, 12],
    ['ListOffsets', 2, 1, 9, 6],
    ['Metadata', 3, 0, 12, 9],
    ['OffsetCommit', 8, 0, 9, 8],
    ['OffsetFetch', 9, 0, 9, 6],
    ['FindCoordinator', 10, 0, 6, 3],
    ['JoinGroup', 11, 0, 9, 6],
    ['Heartbeat', 12, 0, 4, 4],
    ['LeaveGroup', 13, 0, 5, 4],
    ['SyncGroup', 14, 0, 5, 4],
    ['ApiVersions', 18, 0, 4, 3],
    ['CreateTopics', 19, 0, 7, 5],
    ['DeleteRecords', 21, 0, 2, 2],
    ['InitProducerId', 22, 0, 5, 2],
  ];

  test('SUPPORTED_VERSIONS lists exactly these APIs and ranges, in key order', () => {
    expect([...SUPPORTED_VERSIONS]).toEqual(TABLE.map(([, key, min, max]) => [key, { min, max }]));
  });

  test.each(TABLE)('%s (key %i): name, key and the flexible boundary', (name, key, min, max, flexible) => {
    expect(ApiKey[name as keyof typeof ApiKey]).toBe(key);
    expect(apiName(key)).toBe(name);
    for (let v = min; v <= max; v++) expect(isFlexible(key, v)).toBe(v >= flexible);
    expect(isFlexible(key, max + 1)).toBe(true); // a too-new version keeps the newest rule
  });

  test('the group APIs advertise version 0 (older librdkafka checks for it)', () => {
    for (const key of [ApiKey.FindCoordinator, ApiKey.JoinGroup, ApiKey.SyncGroup, ApiKey.Heartbeat, ApiKey.LeaveGroup, ApiKey.OffsetCommit, ApiKey.OffsetFetch]) {
      expect(SUPPORTED_VERSIONS.get(key)!.min).toBe(0);
    }
  });

  test('unknown keys are not flexible and have a readable name', () => {
    expect(isFlexible(99, 5)).toBe(false);
    expect(apiName(99)).toBe('api 99');
  });
});

describe('error codes', () => {
  test('the codes the broker answers with', () => {
    expect(ErrorCode).toMatchObject({
      UNKNOWN_SERVER_ERROR: -1,
      NONE: 0,
      OFFSET_OUT_OF_RANGE: 1,
      CORRUPT_MESSAGE: 2,
      UNKNOWN_TOPIC_OR_PARTITION: 3,
      NOT_LEADER_OR_FOLLOWER: 6,
      MESSAGE_TOO_LARGE: 10,
      COORDINATOR_NOT_AVAILABLE: 15,
      NOT_COORDINATOR: 16,
      INVALID_TOPIC_EXCEPTION: 17,
      ILLEGAL_GENERATION: 22,
      INCONSISTENT_GROUP_PROTOCOL: 23,
      INVALID_GROUP_ID: 24,
      UNKNOWN_MEMBER_ID: 25,
      INVALID_SESSION_TIMEOUT: 26,
      REBALANCE_IN_PROGRESS: 27,
      UNSUPPORTED_VERSION: 35,
      TOPIC_ALREADY_EXISTS: 36,
      INVALID_PARTITIONS: 37,
      INVALID_REPLICATION_FACTOR: 38,
      INVALID_CONFIG: 40,
      INVALID_REQUEST: 42,
      OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
      DUPLICATE_SEQUENCE_NUMBER: 46,
      INVALID_PRODUCER_EPOCH: 47,
      UNKNOWN_PRODUCER_ID: 59,
      GROUP_ID_NOT_FOUND: 69,
      FENCED_LEADER_EPOCH: 74,
      MEMBER_ID_REQUIRED: 79,
      INVALID_RECORD: 87,
      UNKNOWN_TOPIC_ID: 100,
    });
    expect(errorName(27)).toBe('REBALANCE_IN_PROGRESS');
    expect(errorName(12345)).toBe('UNKNOWN');
  });

  test("every code kafkajs knows by the same name has kafkajs's number", () => {
    const require = createRequire(import.meta.url);
    const { errorCodes } = require('kafkajs/src/protocol/error') as { errorCodes: { type: string; code: number }[] };
    const shared = errorCodes.filter((e) => e.type in ErrorCode);
    expect(shared.length).toBeGreaterThan(80);
    for (const e of shared) expect([e.type, ErrorCode[e.type as keyof typeof ErrorCode]]).toEqual([e.type, e.code]);
  });
});
