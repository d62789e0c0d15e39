/**
 * The classic consumer-group APIs over the group coordinator (`../group/`): JoinGroup,
 * SyncGroup, Heartbeat and LeaveGroup. Held joins and syncs resolve when the coordinator decides.
 */
import { ApiKey, ErrorCode } from '../protocol/index.js';
import { code, type Handler } from './context.js';

export const joinGroup: Handler<typeof ApiKey.JoinGroup> = async (ctx, request, header) => {
  const result = await ctx.groups.join(
    request.groupId,
    {
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId ?? null,
      clientId: header.clientId ?? '',
      sessionTimeoutMs: request.sessionTimeoutMs,
      // Before v1 there is no rebalance timeout: Kafka uses the session timeout.
      rebalanceTimeoutMs: (request.rebalanceTimeoutMs ?? -1) < 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs!,
      protocolType: request.protocolType,
      protocols: request.protocols,
    },
    header.apiVersion >= 4,
    ctx.now(),
  );
  return {
    throttleTimeMs: 0,
    errorCode: code(result.error),
    generationId: result.generationId,
    protocolType: result.protocolType,
    // Nullable only from v7; before, Kafka sends an empty name with an error.
    protocolName: result.protocolName ?? (header.apiVersion < 7 ? '' : null),
    leader: result.leader,
    skipAssignment: false,
    memberId: result.memberId,
    members: result.members,
  };
};

export const syncGroup: Handler<typeof ApiKey.SyncGroup> = async (ctx, request) => {
  const group = ctx.groups.group(request.groupId);
  const mismatch =
    group !== undefined &&
    ((request.protocolType != null && group.protocolType !== null && request.protocolType !== group.protocolType) ||
      (request.protocolName != null && group.protocolName !== null && request.protocolName !== group.protocolName));
  if (mismatch) return { throttleTimeMs: 0, errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
  const result = await ctx.groups.sync(request.groupId, request.memberId, request.generationId, request.assignments, ctx.now());
  return { throttleTimeMs: 0, errorCode: code(result.error), protocolType: result.protocolType, protocolName: result.protocolName, assignment: result.assignment };
};

export const heartbeat: Handler<typeof ApiKey.Heartbeat> = (ctx, request) => ({
  throttleTimeMs: 0,
  errorCode: code(ctx.groups.heartbeat(request.groupId, request.memberId, request.generationId, ctx.now())),
});

/** LeaveGroup: one member before v3, a list of members from v3 (each with its own error). */
export const leaveGroup: Handler<typeof ApiKey.LeaveGroup> = (ctx, request, header) => {
  if (header.apiVersion < 3) {
    return { throttleTimeMs: 0, errorCode: code(ctx.groups.leave(request.groupId, request.memberId ?? '', ctx.now())) };
  }
  const members = (request.members ?? []).map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    errorCode: code(ctx.groups.leave(request.groupId, m.memberId, ctx.now())),
  }));
  return { throttleTimeMs: 0, errorCode: ctx.groups.group(request.groupId) === undefined ? ErrorCode.UNKNOWN_MEMBER_ID : 0, members };
};
