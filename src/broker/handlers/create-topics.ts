import { ApiKey, ErrorCode } from '../protocol/index.js';
import type { CreateTopicsCreatableTopic, CreateTopicsCreatableTopicResult, EncodeInput } from '../protocol/index.js';
import { code, NODE_ID, type BrokerContext, type Handler } from './context.js';

type TopicResult = EncodeInput<CreateTopicsCreatableTopicResult>;

/**
 * CreateTopics: each topic with its partition count (-1: the broker's `numPartitions`) and
 * Kafka topic configs (see `topic-configs.ts`). Replication factor must be -1 or 1, and
 * explicit replica assignments may name only this node.
 */
export const createTopics: Handler<typeof ApiKey.CreateTopics> = (ctx, request) => ({
  throttleTimeMs: 0,
  topics: request.topics.map((topic) => createOne(ctx, topic, request.validateOnly === true)),
});

function createOne(ctx: BrokerContext, topic: CreateTopicsCreatableTopic, validateOnly: boolean): TopicResult {
  const fail = (errorCode: number, errorMessage: string): TopicResult => ({ name: topic.name, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null });
  if (topic.replicationFactor !== -1 && topic.replicationFactor !== 1) {
    return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${topic.replicationFactor}: a single seglog node keeps one replica`);
  }
  let partitions = topic.numPartitions;
  if (topic.assignments.length > 0) {
    if (partitions !== -1) return fail(ErrorCode.INVALID_REQUEST, 'both numPartitions and assignments given');
    if (topic.assignments.some((a) => a.brokerIds.some((id) => id !== NODE_ID))) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `only node ${NODE_ID} exists`);
    partitions = topic.assignments.length;
  }
  const configs: Record<string, string> = {};
  for (const c of topic.configs) if (c.value !== null) configs[c.name] = c.value;
  const result = ctx.topics.create(topic.name, partitions, configs, validateOnly);
  if (result !== null && 'error' in result) return fail(code(result.error), result.message);
  if (result !== null) ctx.log(`created topic ${topic.name} with ${result.topic.partitions} partitions`);
  return {
    name: topic.name,
    topicId: result?.id ?? Buffer.alloc(16),
    errorCode: 0,
    errorMessage: null,
    numPartitions: result?.topic.partitions ?? partitions,
    replicationFactor: 1,
    configs: [],
  };
}
