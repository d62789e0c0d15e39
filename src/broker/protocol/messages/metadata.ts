// Kafka's Metadata API (key 3) as data: every field of MetadataRequest.json and
// MetadataResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-12 are served; flexible from 9+.
import type { ApiSchema } from '../schema.js';

export const METADATA: ApiSchema = {
  name: 'Metadata',
  apiKey: 3,
  minVersion: 0,
  maxVersion: 12,
  flexibleVersions: '9+',
  request: [
    {
      name: 'topics', type: '[]MetadataRequestTopic', versions: '0+', nullableVersions: '1+',
      fields: [
        { name: 'topicId', type: 'uuid', versions: '10+' },
        { name: 'name', type: 'string', versions: '0+', nullableVersions: '10+' },
      ],
    },
    { name: 'allowAutoTopicCreation', type: 'bool', versions: '4+', default: true },
    { name: 'includeClusterAuthorizedOperations', type: 'bool', versions: '8-10' },
    { name: 'includeTopicAuthorizedOperations', type: 'bool', versions: '8+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '3+' },
    {
      name: 'brokers', type: '[]MetadataResponseBroker', versions: '0+',
      fields: [
        { name: 'nodeId', type: 'int32', versions: '0+' },
        { name: 'host', type: 'string', versions: '0+' },
        { name: 'port', type: 'int32', versions: '0+' },
        { name: 'rack', type: 'string', versions: '1+', nullableVersions: '1+', default: null },
      ],
    },
    { name: 'clusterId', type: 'string', versions: '2+', nullableVersions: '2+', default: null },
    { name: 'controllerId', type: 'int32', versions: '1+', default: -1 },
    {
      name: 'topics', type: '[]MetadataResponseTopic', versions: '0+',
      fields: [
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'name', type: 'string', versions: '0+', nullableVersions: '12+' },
        { name: 'topicId', type: 'uuid', versions: '10+' },
        { name: 'isInternal', type: 'bool', versions: '1+', default: false },
        {
          name: 'partitions', type: '[]MetadataResponsePartition', versions: '0+',
          fields: [
            { name: 'errorCode', type: 'int16', versions: '0+' },
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'leaderId', type: 'int32', versions: '0+' },
            { name: 'leaderEpoch', type: 'int32', versions: '7+', default: -1 },
            { name: 'replicaNodes', type: '[]int32', versions: '0+' },
            { name: 'isrNodes', type: '[]int32', versions: '0+' },
            { name: 'offlineReplicas', type: '[]int32', versions: '5+' },
          ],
        },
        { name: 'topicAuthorizedOperations', type: 'int32', versions: '8+', default: -2147483648 },
      ],
    },
    { name: 'clusterAuthorizedOperations', type: 'int32', versions: '8-10', default: -2147483648 },
  ],
};

export interface MetadataResponse {
  throttleTimeMs?: number;
  brokers: MetadataResponseBroker[];
  clusterId?: string | null;
  controllerId?: number;
  topics: MetadataResponseTopic[];
  clusterAuthorizedOperations?: number;
}

export interface MetadataResponseTopic {
  errorCode: number;
  name: string | null;
  topicId?: Buffer;
  isInternal?: boolean;
  partitions: MetadataResponsePartition[];
  topicAuthorizedOperations?: number;
}

export interface MetadataResponsePartition {
  errorCode: number;
  partitionIndex: number;
  leaderId: number;
  leaderEpoch?: number;
  replicaNodes: number[];
  isrNodes: number[];
  offlineReplicas?: number[];
}

export interface MetadataResponseBroker {
  nodeId: number;
  host: string;
  port: number;
  rack?: string | null;
}

export interface MetadataRequest {
  topics: MetadataRequestTopic[] | null;
  allowAutoTopicCreation?: boolean;
  includeClusterAuthorizedOperations?: boolean;
  includeTopicAuthorizedOperations?: boolean;
}

export interface MetadataRequestTopic {
  topicId?: Buffer;
  name: string | null;
}
