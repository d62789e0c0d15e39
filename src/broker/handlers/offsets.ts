/**
 * OffsetCommit and OffsetFetch. A group's committed offset for a partition is that partition's
 * named consumer with the group's name (`Log.consumer(groupId)`), so `consumer.committed()`
 * sees what a Kafka consumer committed, and a Kafka consumer starts where `consumer.commit` left
 * off. Commit metadata strings are not kept (OffsetFetch answers an empty one).
 */
import { requireConsumerName } from '../../log/consumer-offsets.js';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import type { EncodeInput, OffsetFetchResponsePartition } from '../protocol/index.js';
import type { ServedTopic } from '../topics.js';
import { code, errorCodeOf, toNumber, type BrokerContext, type Handler } from './context.js';

function validGroupName(groupId: string): boolean {
  try {
    requireConsumerName(groupId);
    return true;
  } catch {
    return false;
  }
}

export const offsetCommit: Handler<typeof ApiKey.OffsetCommit> = async (ctx, request) => {
  const generationId = request.generationIdOrMemberEpoch ?? -1;
  const check = validGroupName(request.groupId) ? code(ctx.groups.checkCommit(request.groupId, request.memberId ?? '', generationId, ctx.now())) : ErrorCode.INVALID_GROUP_ID;
  const topics = await Promise.all(
    request.topics.map(async (t) => {
      const served = ctx.topics.get(t.name);
      const partitions = await Promise.all(
        t.partitions.map(async (p) => ({ partitionIndex: p.partitionIndex, errorCode: check !== 0 ? check : await commitOne(served, request.groupId, p.partitionIndex, toNumber(p.committedOffset)) })),
      );
      return { name: t.name, partitions };
    }),
  );
  return { throttleTimeMs: 0, topics };
};

async function commitOne(served: ServedTopic | undefined, groupId: string, partition: number, offset: number): Promise<number> {
  if (served === undefined || partition < 0 || partition >= served.topic.partitions) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  try {
    await served.topic.partition(partition).consumer(groupId).commit(offset);
    return 0;
  } catch (err) {
    return errorCodeOf(err);
  }
}

type FetchedPartition = EncodeInput<OffsetFetchResponsePartition>;

/** OffsetFetch: one group before v8, a list of groups from v8; a null topic list means every partition the group committed. */
export const offsetFetch: Handler<typeof ApiKey.OffsetFetch> = (ctx, request, header) => {
  if (header.apiVersion < 8) {
    const groupId = request.groupId ?? '';
    const { topics, errorCode } = fetchGroup(ctx, groupId, request.topics ?? null);
    return { throttleTimeMs: 0, topics, errorCode };
  }
  return {
    throttleTimeMs: 0,
    groups: (request.groups ?? []).map((g) => {
      const { topics, errorCode } = fetchGroup(ctx, g.groupId, g.topics === null ? null : g.topics.map((t) => ({ name: t.name, partitionIndexes: t.partitionIndexes })));
      return { groupId: g.groupId, topics, errorCode };
    }),
  };
};

function fetchGroup(ctx: BrokerContext, groupId: string, wanted: { name: string; partitionIndexes: number[] }[] | null) {
  if (!validGroupName(groupId)) return { topics: [], errorCode: ErrorCode.INVALID_GROUP_ID };
  if (wanted === null) {
    const topics = ctx.topics.list().map((served) => ({
      name: served.name,
      partitions: range(served.topic.partitions).map((p) => committedOf(served, groupId, p)).filter((p) => p.committedOffset !== -1n),
    }));
    return { topics: topics.filter((t) => t.partitions.length > 0), errorCode: 0 };
  }
  return {
    topics: wanted.map((t) => {
      const served = ctx.topics.get(t.name);
      return { name: t.name, partitions: t.partitionIndexes.map((p) => committedOf(served, groupId, p)) };
    }),
    errorCode: 0,
  };
}

function committedOf(served: ServedTopic | undefined, groupId: string, partition: number): FetchedPartition {
  const none: FetchedPartition = { partitionIndex: partition, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: 0 };
  // Kafka answers an unknown partition with offset -1 and no error.
  if (served === undefined || partition < 0 || partition >= served.topic.partitions) return none;
  try {
    const committed = served.topic.partition(partition).consumer(groupId).committed();
    return committed === null ? none : { ...none, committedOffset: BigInt(committed) };
  } catch (err) {
    return { ...none, errorCode: errorCodeOf(err) };
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
