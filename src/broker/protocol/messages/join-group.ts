// Kafka's JoinGroup API (key 11) as data: every field of JoinGroupRequest.json and
// JoinGroupResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-9 are served; flexible from 6+.
import type { ApiSchema } from '../schema.js';

export const JOIN_GROUP: ApiSchema = {
  name: 'JoinGroup',
  apiKey: 11,
  minVersion: 0,
  maxVersion: 9,
  flexibleVersions: '6+',
  request: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'sessionTimeoutMs', type: 'int32', versions: '0+' },
    { name: 'rebalanceTimeoutMs', type: 'int32', versions: '1+', default: -1 },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'protocolType', type: 'string', versions: '0+' },
    {
      name: 'protocols', type: '[]JoinGroupRequestProtocol', versions: '0+',
      fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'metadata', type: 'bytes', versions: '0+' },
      ],
    },
    { name: 'reason', type: 'string', versions: '8+', nullableVersions: '8+', default: null },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+', default: -1 },
    { name: 'protocolType', type: 'string', versions: '7+', nullableVersions: '7+', default: null },
    { name: 'protocolName', type: 'string', versions: '0+', nullableVersions: '7+' },
    { name: 'leader', type: 'string', versions: '0+' },
    { name: 'skipAssignment', type: 'bool', versions: '9+', default: false },
    { name: 'memberId', type: 'string', versions: '0+' },
    {
      name: 'members', type: '[]JoinGroupResponseMember', versions: '0+',
      fields: [
        { name: 'memberId', type: 'string', versions: '0+' },
        { name: 'groupInstanceId', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
        { name: 'metadata', type: 'bytes', versions: '0+' },
      ],
    },
  ],
};

export interface JoinGroupResponse {
  throttleTimeMs?: number;
  errorCode: number;
  generationId: number;
  protocolType?: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment?: boolean;
  memberId: string;
  members: JoinGroupResponseMember[];
}

export interface JoinGroupResponseMember {
  memberId: string;
  groupInstanceId?: string | null;
  metadata: Buffer;
}

export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs?: number;
  memberId: string;
  groupInstanceId?: string | null;
  protocolType: string;
  protocols: JoinGroupRequestProtocol[];
  reason?: string | null;
}

export interface JoinGroupRequestProtocol {
  name: string;
  metadata: Buffer;
}
