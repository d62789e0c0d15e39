// Kafka's SyncGroup API (key 14) as data: every field of SyncGroupRequest.json and
// SyncGroupResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-5 are served; flexible from 4+.
import type { ApiSchema } from '../schema.js';

export const SYNC_GROUP: ApiSchema = {
  name: 'SyncGroup',
  apiKey: 14,
  minVersion: 0,
  maxVersion: 5,
  flexibleVersions: '4+',
  request: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    { name: 'protocolType', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'protocolName', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    {
      name: 'assignments', type: '[]SyncGroupRequestAssignment', versions: '0+',
      fields: [
        { name: 'memberId', type: 'string', versions: '0+' },
        { name: 'assignment', type: 'bytes', versions: '0+' },
      ],
    },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'protocolType', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'protocolName', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'assignment', type: 'bytes', versions: '0+' },
  ],
};

export interface SyncGroupResponse {
  throttleTimeMs?: number;
  errorCode: number;
  protocolType?: string | null;
  protocolName?: string | null;
  assignment: Buffer;
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
  protocolType?: string | null;
  protocolName?: string | null;
  assignments: SyncGroupRequestAssignment[];
}

export interface SyncGroupRequestAssignment {
  memberId: string;
  assignment: Buffer;
}
