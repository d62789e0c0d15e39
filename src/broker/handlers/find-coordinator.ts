import { ApiKey, ErrorCode } from '../protocol/index.js';
import { NODE_ID, type Handler } from './context.js';

/** Kafka's key types: 0 a consumer group, 1 a transactional id. */
const GROUP_KEY = 0;

/** FindCoordinator: this node coordinates every group; transactions are not supported. */
export const findCoordinator: Handler<typeof ApiKey.FindCoordinator> = (ctx, request) => {
  const supported = (request.keyType ?? GROUP_KEY) === GROUP_KEY;
  const errorCode = supported ? 0 : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  const errorMessage = supported ? null : 'transactions are not supported by seglog';
  const node = supported ? { nodeId: NODE_ID, host: ctx.advertisedHost, port: ctx.advertisedPort } : { nodeId: -1, host: '', port: -1 };
  return {
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    ...node,
    coordinators: (request.coordinatorKeys ?? []).map((key) => ({ key, ...node, errorCode, errorMessage })),
  };
};
