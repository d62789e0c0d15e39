// Kafka's Heartbeat API (key 12) as data: every field of HeartbeatRequest.json and
// HeartbeatResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-4 are served; flexible from 4+.
import type { ApiSchema } from '../schema.js';

export const HEARTBEAT: ApiSchema = {
  name: 'Heartbeat',
  apiKey: 12,
  minVersion: 0,
  maxVersion: 4,
  flexibleVersions: '4+',
  request: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
  ],
};

export interface HeartbeatResponse {
  throttleTimeMs?: number;
  errorCode: number;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
}
