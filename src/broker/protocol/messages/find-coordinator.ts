// Kafka's FindCoordinator API (key 10) as data: every field of FindCoordinatorRequest.json and
// FindCoordinatorResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-6 are served; flexible from 3+.
import type { ApiSchema } from '../schema.js';

export const FIND_COORDINATOR: ApiSchema = {
  name: 'FindCoordinator',
  apiKey: 10,
  minVersion: 0,
  maxVersion: 6,
  flexibleVersions: '3+',
  request: [
    { name: 'key', type: 'string', versions: '0-3' },
    { name: 'keyType', type: 'int8', versions: '1+', default: 0 },
    { name: 'coordinatorKeys', type: '[]string', versions: '4+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0-3' },
    { name: 'errorMessage', type: 'string', versions: '1-3', nullableVersions: '1-3' },
    { name: 'nodeId', type: 'int32', versions: '0-3' },
    { name: 'host', type: 'string', versions: '0-3' },
    { name: 'port', type: 'int32', versions: '0-3' },
    {
      name: 'coordinators', type: '[]Coordinator', versions: '4+',
      fields: [
        { name: 'key', type: 'string', versions: '4+' },
        { name: 'nodeId', type: 'int32', versions: '4+' },
        { name: 'host', type: 'string', versions: '4+' },
        { name: 'port', type: 'int32', versions: '4+' },
        { name: 'errorCode', type: 'int16', versions: '4+' },
        { name: 'errorMessage', type: 'string', versions: '4+', nullableVersions: '4+' },
      ],
    },
  ],
};

export interface FindCoordinatorResponse {
  throttleTimeMs?: number;
  errorCode?: number;
  errorMessage?: string | null;
  nodeId?: number;
  host?: string;
  port?: number;
  coordinators?: FindCoordinatorCoordinator[];
}

export interface FindCoordinatorCoordinator {
  key: string;
  nodeId: number;
  host: string;
  port: number;
  errorCode: number;
  errorMessage: string | null;
}

export interface FindCoordinatorRequest {
  key?: string;
  keyType?: number;
  coordinatorKeys?: string[];
}
