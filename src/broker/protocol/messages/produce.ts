// Kafka's Produce API (key 0) as data: every field of ProduceRequest.json and
// ProduceResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 3-11 are served; flexible from 9+.
import type { ApiSchema } from '../schema.js';

export const PRODUCE: ApiSchema = {
  name: 'Produce',
  apiKey: 0,
  minVersion: 3,
  maxVersion: 11,
  flexibleVersions: '9+',
  request: [
    { name: 'transactionalId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    { name: 'acks', type: 'int16', versions: '0+' },
    { name: 'timeoutMs', type: 'int32', versions: '0+' },
    {
      name: 'topicData', type: '[]TopicProduceData', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitionData', type: '[]PartitionProduceData', versions: '0+',
          fields: [
            { name: 'index', type: 'int32', versions: '0+' },
            { name: 'records', type: 'records', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
  ],
  response: [
    {
      name: 'responses', type: '[]TopicProduceResponse', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitionResponses', type: '[]PartitionProduceResponse', versions: '0+',
          fields: [
            { name: 'index', type: 'int32', versions: '0+' },
            { name: 'errorCode', type: 'int16', versions: '0+' },
            { name: 'baseOffset', type: 'int64', versions: '0+' },
            { name: 'logAppendTimeMs', type: 'int64', versions: '2+', default: -1n },
            { name: 'logStartOffset', type: 'int64', versions: '5+', default: -1n },
            {
              name: 'recordErrors', type: '[]BatchIndexAndErrorMessage', versions: '8+',
              fields: [
                { name: 'batchIndex', type: 'int32', versions: '8+' },
                { name: 'batchIndexErrorMessage', type: 'string', versions: '8+', nullableVersions: '8+', default: null },
              ],
            },
            { name: 'errorMessage', type: 'string', versions: '8+', nullableVersions: '8+', default: null },
            {
              name: 'currentLeader', type: 'LeaderIdAndEpoch', versions: '10+', taggedVersions: '10+', tag: 0,
              fields: [
                { name: 'leaderId', type: 'int32', versions: '10+', default: -1 },
                { name: 'leaderEpoch', type: 'int32', versions: '10+', default: -1 },
              ],
            },
          ],
        },
      ],
    },
    { name: 'throttleTimeMs', type: 'int32', versions: '1+', default: 0 },
    {
      name: 'nodeEndpoints', type: '[]NodeEndpoint', versions: '10+', taggedVersions: '10+', tag: 0,
      fields: [
        { name: 'nodeId', type: 'int32', versions: '10+' },
        { name: 'host', type: 'string', versions: '10+' },
        { name: 'port', type: 'int32', versions: '10+' },
        { name: 'rack', type: 'string', versions: '10+', nullableVersions: '10+', default: null },
      ],
    },
  ],
};

export interface ProduceResponse {
  responses: ProduceTopicProduceResponse[];
  throttleTimeMs: number;
  nodeEndpoints?: ProduceNodeEndpoint[];
}

export interface ProduceNodeEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface ProduceTopicProduceResponse {
  name: string;
  partitionResponses: ProducePartitionProduceResponse[];
}

export interface ProducePartitionProduceResponse {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  logStartOffset?: bigint;
  recordErrors?: ProduceBatchIndexAndErrorMessage[];
  errorMessage?: string | null;
  currentLeader?: ProduceLeaderIdAndEpoch;
}

export interface ProduceLeaderIdAndEpoch {
  leaderId: number;
  leaderEpoch: number;
}

export interface ProduceBatchIndexAndErrorMessage {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topicData: ProduceTopicProduceData[];
}

export interface ProduceTopicProduceData {
  name: string;
  partitionData: ProducePartitionProduceData[];
}

export interface ProducePartitionProduceData {
  index: number;
  records: Buffer | null;
}
