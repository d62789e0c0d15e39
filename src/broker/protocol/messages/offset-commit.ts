// Kafka's OffsetCommit API (key 8) as data: every field of OffsetCommitRequest.json and
// OffsetCommitResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-9 are served; flexible from 8+.
import type { ApiSchema } from '../schema.js';

export const OFFSET_COMMIT: ApiSchema = {
  name: 'OffsetCommit',
  apiKey: 8,
  minVersion: 0,
  maxVersion: 9,
  flexibleVersions: '8+',
  request: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationIdOrMemberEpoch', type: 'int32', versions: '1+', default: -1 },
    { name: 'memberId', type: 'string', versions: '1+' },
    { name: 'groupInstanceId', type: 'string', versions: '7+', nullableVersions: '7+', default: null },
    { name: 'retentionTimeMs', type: 'int64', versions: '2-4', default: -1n },
    {
      name: 'topics', type: '[]OffsetCommitRequestTopic', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]OffsetCommitRequestPartition', versions: '0+',
          fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'committedOffset', type: 'int64', versions: '0+' },
            { name: 'committedLeaderEpoch', type: 'int32', versions: '6+', default: -1 },
            { name: 'commitTimestamp', type: 'int64', versions: '1', default: -1n },
            { name: 'committedMetadata', type: 'string', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '3+' },
    {
      name: 'topics', type: '[]OffsetCommitResponseTopic', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]OffsetCommitResponsePartition', versions: '0+',
          fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'errorCode', type: 'int16', versions: '0+' },
          ],
        },
      ],
    },
  ],
};

export interface OffsetCommitResponse {
  throttleTimeMs?: number;
  topics: OffsetCommitResponseTopic[];
}

export interface OffsetCommitResponseTopic {
  name: string;
  partitions: OffsetCommitResponsePartition[];
}

export interface OffsetCommitResponsePartition {
  partitionIndex: number;
  errorCode: number;
}

export interface OffsetCommitRequest {
  groupId: string;
  generationIdOrMemberEpoch?: number;
  memberId?: string;
  groupInstanceId?: string | null;
  retentionTimeMs?: bigint;
  topics: OffsetCommitRequestTopic[];
}

export interface OffsetCommitRequestTopic {
  name: string;
  partitions: OffsetCommitRequestPartition[];
}

export interface OffsetCommitRequestPartition {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch?: number;
  commitTimestamp?: bigint;
  committedMetadata: string | null;
}
