// Kafka's DeleteRecords API (key 21) as data: every field of DeleteRecordsRequest.json and
// DeleteRecordsResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-2 are served; flexible from 2+.
import type { ApiSchema } from '../schema.js';

export const DELETE_RECORDS: ApiSchema = {
  name: 'DeleteRecords',
  apiKey: 21,
  minVersion: 0,
  maxVersion: 2,
  flexibleVersions: '2+',
  request: [
    {
      name: 'topics', type: '[]DeleteRecordsTopic', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]DeleteRecordsPartition', versions: '0+',
          fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'offset', type: 'int64', versions: '0+' },
          ],
        },
      ],
    },
    { name: 'timeoutMs', type: 'int32', versions: '0+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    {
      name: 'topics', type: '[]DeleteRecordsTopicResult', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]DeleteRecordsPartitionResult', versions: '0+',
          fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'lowWatermark', type: 'int64', versions: '0+' },
            { name: 'errorCode', type: 'int16', versions: '0+' },
          ],
        },
      ],
    },
  ],
};

export interface DeleteRecordsResponse {
  throttleTimeMs: number;
  topics: DeleteRecordsTopicResult[];
}

export interface DeleteRecordsTopicResult {
  name: string;
  partitions: DeleteRecordsPartitionResult[];
}

export interface DeleteRecordsPartitionResult {
  partitionIndex: number;
  lowWatermark: bigint;
  errorCode: number;
}

export interface DeleteRecordsRequest {
  topics: DeleteRecordsTopic[];
  timeoutMs: number;
}

export interface DeleteRecordsTopic {
  name: string;
  partitions: DeleteRecordsPartition[];
}

export interface DeleteRecordsPartition {
  partitionIndex: number;
  offset: bigint;
}
