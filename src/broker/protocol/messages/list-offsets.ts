// Kafka's ListOffsets API (key 2) as data: every field of ListOffsetsRequest.json and
// ListOffsetsResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 1-9 are served; flexible from 6+.
import type { ApiSchema } from '../schema.js';

export const LIST_OFFSETS: ApiSchema = {
  name: 'ListOffsets',
  apiKey: 2,
  minVersion: 1,
  maxVersion: 9,
  flexibleVersions: '6+',
  request: [
    { name: 'replicaId', type: 'int32', versions: '0+' },
    { name: 'isolationLevel', type: 'int8', versions: '2+' },
    {
      name: 'topics', type: '[]ListOffsetsTopic', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]ListOffsetsPartition', versions: '0+',
          fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'currentLeaderEpoch', type: 'int32', versions: '4+', default: -1 },
            { name: 'timestamp', type: 'int64', versions: '0+' },
            { name: 'maxNumOffsets', type: 'int32', versions: '0', default: 1 },
          ],
        },
      ],
    },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    {
      name: 'topics', type: '[]ListOffsetsTopicResponse', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]ListOffsetsPartitionResponse', versions: '0+',
          fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'errorCode', type: 'int16', versions: '0+' },
            { name: 'oldStyleOffsets', type: '[]int64', versions: '0' },
            { name: 'timestamp', type: 'int64', versions: '1+', default: -1n },
            { name: 'offset', type: 'int64', versions: '1+', default: -1n },
            { name: 'leaderEpoch', type: 'int32', versions: '4+', default: -1 },
          ],
        },
      ],
    },
  ],
};

export interface ListOffsetsResponse {
  throttleTimeMs?: number;
  topics: ListOffsetsTopicResponse[];
}

export interface ListOffsetsTopicResponse {
  name: string;
  partitions: ListOffsetsPartitionResponse[];
}

export interface ListOffsetsPartitionResponse {
  partitionIndex: number;
  errorCode: number;
  timestamp: bigint;
  offset: bigint;
  leaderEpoch?: number;
}

export interface ListOffsetsRequest {
  replicaId: number;
  isolationLevel?: number;
  topics: ListOffsetsTopic[];
}

export interface ListOffsetsTopic {
  name: string;
  partitions: ListOffsetsPartition[];
}

export interface ListOffsetsPartition {
  partitionIndex: number;
  currentLeaderEpoch?: number;
  timestamp: bigint;
}
