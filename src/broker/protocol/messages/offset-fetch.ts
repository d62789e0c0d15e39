// Kafka's OffsetFetch API (key 9) as data: every field of OffsetFetchRequest.json and
// OffsetFetchResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-9 are served; flexible from 6+.
import type { ApiSchema } from '../schema.js';

export const OFFSET_FETCH: ApiSchema = {
  name: 'OffsetFetch',
  apiKey: 9,
  minVersion: 0,
  maxVersion: 9,
  flexibleVersions: '6+',
  request: [
    { name: 'groupId', type: 'string', versions: '0-7' },
    {
      name: 'topics', type: '[]OffsetFetchRequestTopic', versions: '0-7', nullableVersions: '2-7',
      fields: [
        { name: 'name', type: 'string', versions: '0-7' },
        { name: 'partitionIndexes', type: '[]int32', versions: '0-7' },
      ],
    },
    {
      name: 'groups', type: '[]OffsetFetchRequestGroup', versions: '8+',
      fields: [
        { name: 'groupId', type: 'string', versions: '8+' },
        { name: 'memberId', type: 'string', versions: '9+', nullableVersions: '9+', default: null },
        { name: 'memberEpoch', type: 'int32', versions: '9+', default: -1 },
        {
          name: 'topics', type: '[]OffsetFetchRequestTopics', versions: '8+', nullableVersions: '8+',
          fields: [
            { name: 'name', type: 'string', versions: '8+' },
            { name: 'partitionIndexes', type: '[]int32', versions: '8+' },
          ],
        },
      ],
    },
    { name: 'requireStable', type: 'bool', versions: '7+', default: false },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '3+' },
    {
      name: 'topics', type: '[]OffsetFetchResponseTopic', versions: '0-7',
      fields: [
        { name: 'name', type: 'string', versions: '0-7' },
        {
          name: 'partitions', type: '[]OffsetFetchResponsePartition', versions: '0-7',
          fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0-7' },
            { name: 'committedOffset', type: 'int64', versions: '0-7' },
            { name: 'committedLeaderEpoch', type: 'int32', versions: '5-7', default: -1 },
            { name: 'metadata', type: 'string', versions: '0-7', nullableVersions: '0-7' },
            { name: 'errorCode', type: 'int16', versions: '0-7' },
          ],
        },
      ],
    },
    { name: 'errorCode', type: 'int16', versions: '2-7', default: 0 },
    {
      name: 'groups', type: '[]OffsetFetchResponseGroup', versions: '8+',
      fields: [
        { name: 'groupId', type: 'string', versions: '8+' },
        {
          name: 'topics', type: '[]OffsetFetchResponseTopics', versions: '8+',
          fields: [
            { name: 'name', type: 'string', versions: '8+' },
            {
              name: 'partitions', type: '[]OffsetFetchResponsePartitions', versions: '8+',
              fields: [
                { name: 'partitionIndex', type: 'int32', versions: '8+' },
                { name: 'committedOffset', type: 'int64', versions: '8+' },
                { name: 'committedLeaderEpoch', type: 'int32', versions: '8+', default: -1 },
                { name: 'metadata', type: 'string', versions: '8+', nullableVersions: '8+' },
                { name: 'errorCode', type: 'int16', versions: '8+' },
              ],
            },
          ],
        },
        { name: 'errorCode', type: 'int16', versions: '8+', default: 0 },
      ],
    },
  ],
};

export interface OffsetFetchResponse {
  throttleTimeMs?: number;
  topics?: OffsetFetchResponseTopic[];
  errorCode?: number;
  groups?: OffsetFetchResponseGroup[];
}

export interface OffsetFetchResponseGroup {
  groupId: string;
  topics: OffsetFetchResponseTopics[];
  errorCode: number;
}

export interface OffsetFetchResponseTopics {
  name: string;
  partitions: OffsetFetchResponsePartitions[];
}

export interface OffsetFetchResponsePartitions {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface OffsetFetchResponseTopic {
  name: string;
  partitions: OffsetFetchResponsePartition[];
}

export interface OffsetFetchResponsePartition {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch?: number;
  metadata: string | null;
  errorCode: number;
}

export interface OffsetFetchRequest {
  groupId?: string;
  topics?: OffsetFetchRequestTopic[] | null;
  groups?: OffsetFetchRequestGroup[];
  requireStable?: boolean;
}

export interface OffsetFetchRequestGroup {
  groupId: string;
  memberId?: string | null;
  memberEpoch?: number;
  topics: OffsetFetchRequestTopics[] | null;
}

export interface OffsetFetchRequestTopics {
  name: string;
  partitionIndexes: number[];
}

export interface OffsetFetchRequestTopic {
  name: string;
  partitionIndexes: number[];
}
