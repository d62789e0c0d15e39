// Kafka's CreateTopics API (key 19) as data: every field of CreateTopicsRequest.json and
// CreateTopicsResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-7 are served; flexible from 5+.
import type { ApiSchema } from '../schema.js';

export const CREATE_TOPICS: ApiSchema = {
  name: 'CreateTopics',
  apiKey: 19,
  minVersion: 0,
  maxVersion: 7,
  flexibleVersions: '5+',
  request: [
    {
      name: 'topics', type: '[]CreatableTopic', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'numPartitions', type: 'int32', versions: '0+' },
        { name: 'replicationFactor', type: 'int16', versions: '0+' },
        {
          name: 'assignments', type: '[]CreatableReplicaAssignment', versions: '0+',
          fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'brokerIds', type: '[]int32', versions: '0+' },
          ],
        },
        {
          name: 'configs', type: '[]CreatableTopicConfig', versions: '0+',
          fields: [
            { name: 'name', type: 'string', versions: '0+' },
            { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
    { name: 'timeoutMs', type: 'int32', versions: '0+', default: 60000 },
    { name: 'validateOnly', type: 'bool', versions: '1+', default: false },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    {
      name: 'topics', type: '[]CreatableTopicResult', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'topicId', type: 'uuid', versions: '7+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '1+', nullableVersions: '0+' },
        { name: 'topicConfigErrorCode', type: 'int16', versions: '5+', taggedVersions: '5+', tag: 0 },
        { name: 'numPartitions', type: 'int32', versions: '5+', default: -1 },
        { name: 'replicationFactor', type: 'int16', versions: '5+', default: -1 },
        {
          name: 'configs', type: '[]CreatableTopicConfigs', versions: '5+', nullableVersions: '5+',
          fields: [
            { name: 'name', type: 'string', versions: '5+' },
            { name: 'value', type: 'string', versions: '5+', nullableVersions: '5+' },
            { name: 'readOnly', type: 'bool', versions: '5+' },
            { name: 'configSource', type: 'int8', versions: '5+', default: -1 },
            { name: 'isSensitive', type: 'bool', versions: '5+' },
          ],
        },
      ],
    },
  ],
};

export interface CreateTopicsResponse {
  throttleTimeMs?: number;
  topics: CreateTopicsCreatableTopicResult[];
}

export interface CreateTopicsCreatableTopicResult {
  name: string;
  topicId?: Buffer;
  errorCode: number;
  errorMessage?: string | null;
  topicConfigErrorCode?: number;
  numPartitions?: number;
  replicationFactor?: number;
  configs?: CreateTopicsCreatableTopicConfigs[] | null;
}

export interface CreateTopicsCreatableTopicConfigs {
  name: string;
  value: string | null;
  readOnly: boolean;
  configSource: number;
  isSensitive: boolean;
}

export interface CreateTopicsRequest {
  topics: CreateTopicsCreatableTopic[];
  timeoutMs: number;
  validateOnly?: boolean;
}

export interface CreateTopicsCreatableTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: CreateTopicsCreatableReplicaAssignment[];
  configs: CreateTopicsCreatableTopicConfig[];
}

export interface CreateTopicsCreatableTopicConfig {
  name: string;
  value: string | null;
}

export interface CreateTopicsCreatableReplicaAssignment {
  partitionIndex: number;
  brokerIds: number[];
}
