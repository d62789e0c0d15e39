// Kafka's LeaveGroup API (key 13) as data: every field of LeaveGroupRequest.json and
// LeaveGroupResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-5 are served; flexible from 4+.
import type { ApiSchema } from '../schema.js';

export const LEAVE_GROUP: ApiSchema = {
  name: 'LeaveGroup',
  apiKey: 13,
  minVersion: 0,
  maxVersion: 5,
  flexibleVersions: '4+',
  request: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0-2' },
    {
      name: 'members', type: '[]MemberIdentity', versions: '3+',
      fields: [
        { name: 'memberId', type: 'string', versions: '3+' },
        { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
        { name: 'reason', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
      ],
    },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    {
      name: 'members', type: '[]MemberResponse', versions: '3+',
      fields: [
        { name: 'memberId', type: 'string', versions: '3+' },
        { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+' },
        { name: 'errorCode', type: 'int16', versions: '3+' },
      ],
    },
  ],
};

export interface LeaveGroupResponse {
  throttleTimeMs?: number;
  errorCode: number;
  members?: LeaveGroupMemberResponse[];
}

export interface LeaveGroupMemberResponse {
  memberId: string;
  groupInstanceId: string | null;
  errorCode: number;
}

export interface LeaveGroupRequest {
  groupId: string;
  memberId?: string;
  members?: LeaveGroupMemberIdentity[];
}

export interface LeaveGroupMemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
  reason?: string | null;
}
