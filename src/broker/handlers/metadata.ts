import { ApiKey, ErrorCode } from '../protocol/index.js';
import type { MetadataResponseTopic } from '../protocol/index.js';
import type { EncodeInput } from '../protocol/index.js';
import type { ServedTopic } from '../topics.js';
import { NODE_ID, type BrokerContext, type Handler } from './context.js';

const NULL_TOPIC_ID = Buffer.alloc(16);
/** Kafka's "authorized operations not requested". */
const OPERATIONS_NOT_REQUESTED = -2147483648;

/**
 * Metadata: this node as the only broker and the controller, and the topics asked for (all of
 * them for a null list, or an empty one before v1), each partition led by this node. Unknown
 * topics are created when auto-creation is on and the request allows it (always before v4).
 */
export const metadata: Handler<typeof ApiKey.Metadata> = (ctx, request, header) => {
  const version = header.apiVersion;
  const allowCreate = version < 4 || request.allowAutoTopicCreation !== false;
  const wanted = request.topics;
  const all = wanted === null || (version === 0 && wanted.length === 0);
  const topics = all ? ctx.topics.list().map(describeTopic) : wanted.map((t) => lookup(ctx, t.name, t.topicId, allowCreate));
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: NODE_ID, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null }],
    clusterId: ctx.clusterId,
    controllerId: NODE_ID,
    topics,
    clusterAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  };
};

function lookup(ctx: BrokerContext, name: string | null, topicId: Buffer | undefined, allowCreate: boolean): EncodeInput<MetadataResponseTopic> {
  if (name === null) {
    const byId = topicId === undefined ? undefined : ctx.topics.getById(topicId);
    if (byId !== undefined) return describeTopic(byId);
    return { errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: topicId ?? NULL_TOPIC_ID, partitions: [] };
  }
  const served = allowCreate ? ctx.topics.getOrAutoCreate(name) : ctx.topics.get(name);
  if (served !== undefined) return describeTopic(served);
  const legal = /^[a-zA-Z0-9._-]{1,249}$/.test(name) && name !== '.' && name !== '..';
  return {
    errorCode: legal ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION,
    name,
    topicId: NULL_TOPIC_ID,
    partitions: [],
  };
}

function describeTopic(served: ServedTopic): EncodeInput<MetadataResponseTopic> {
  return {
    errorCode: 0,
    name: served.name,
    topicId: served.id,
    isInternal: false,
    partitions: Array.from({ length: served.topic.partitions }, (_, p) => ({
      errorCode: 0,
      partitionIndex: p,
      leaderId: NODE_ID,
      leaderEpoch: 0,
      replicaNodes: [NODE_ID],
      isrNodes: [NODE_ID],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  };
}
