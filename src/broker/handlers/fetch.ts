import type { Log } from '../../log/log.js';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import type { EncodeInput, FetchPartitionData, FetchRequest, FetchableTopicResponse } from '../protocol/index.js';
import type { ServedTopic } from '../topics.js';
import { errorCodeOf, toNumber, type BrokerContext, type Handler } from './context.js';

type PartitionData = EncodeInput<FetchPartitionData>;
type TopicResponse = EncodeInput<FetchableTopicResponse>;

/** Kafka's `FetchRequest.INVALID_SESSION_ID`/`INITIAL_EPOCH`: a client not asking for a session. */
const NO_SESSION = 0;

/**
 * Fetch: whole stored batches from each partition's fetch offset (the first may start before
 * it; clients skip those records), within the partition's and the response's byte limits but
 * always at least one batch for the first partition with data. When fewer than `minBytes` are
 * ready it waits, woken by appends, until `maxWaitMs`; a fetch that times out returns what there
 * is, with no error. Fetch sessions (KIP-227) are declined: session id 0, full fetches only.
 * Topics are named by name up to v12 and by topic id from v13.
 */
export const fetch: Handler<typeof ApiKey.Fetch> = async (ctx, request, header) => {
  const byId = header.apiVersion >= 13;
  if ((request.sessionId ?? NO_SESSION) !== NO_SESSION) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
  }
  const deadline = Date.now() + Math.max(0, request.maxWaitMs);
  for (;;) {
    const { responses, bytes, logs } = readAll(ctx, request, byId);
    const remaining = deadline - Date.now();
    if (bytes >= request.minBytes || remaining <= 0 || logs.length === 0 || ctx.closing.aborted) {
      return { throttleTimeMs: 0, errorCode: 0, sessionId: NO_SESSION, responses };
    }
    await waitForAppend(ctx, logs, remaining);
  }
};

interface FetchRound {
  responses: TopicResponse[];
  bytes: number;
  /** The partitions read, which an append may give more. */
  logs: Log[];
}

function readAll(ctx: BrokerContext, request: FetchRequest, byId: boolean): FetchRound {
  const round: FetchRound = { responses: [], bytes: 0, logs: [] };
  let budget = Math.max(0, request.maxBytes);
  for (const wanted of request.topics) {
    const served = byId ? (wanted.topicId === undefined ? undefined : ctx.topics.getById(wanted.topicId)) : ctx.topics.get(wanted.topic ?? '');
    const unknown = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const partitions = wanted.partitions.map((p): PartitionData => {
      const log = partitionLog(served, p.partition);
      if (log === undefined) return empty(p.partition, unknown);
      const data = readPartition(log, p.partition, toNumber(p.fetchOffset), Math.min(p.partitionMaxBytes, budget), round.bytes === 0);
      const size = data.records === undefined || data.records === null ? 0 : (data.records as Buffer).length;
      budget = Math.max(0, budget - size);
      round.bytes += size;
      round.logs.push(log);
      return data;
    });
    round.responses.push(byId ? { topicId: wanted.topicId, partitions } : { topic: wanted.topic, partitions });
  }
  return round;
}

function partitionLog(served: ServedTopic | undefined, partition: number): Log | undefined {
  if (served === undefined || !Number.isInteger(partition) || partition < 0 || partition >= served.topic.partitions) return undefined;
  return served.topic.partition(partition);
}

function readPartition(log: Log, partition: number, offset: number, maxBytes: number, mayExceed: boolean): PartitionData {
  const start = log.startOffset;
  const end = log.endOffset;
  const marks = { highWatermark: BigInt(end), lastStableOffset: BigInt(end), logStartOffset: BigInt(start) };
  if (offset < start || offset > end) return { ...empty(partition, ErrorCode.OFFSET_OUT_OF_RANGE), ...marks };
  if (offset === end || (maxBytes <= 0 && !mayExceed)) return { ...empty(partition, 0), ...marks };
  let records: Buffer;
  try {
    records = log.readBatches(offset, { maxBytes: Math.max(1, maxBytes) });
  } catch (err) {
    return { ...empty(partition, errorCodeOf(err)), ...marks };
  }
  // readBatches always returns a whole first batch; only the response's first data may exceed the limits.
  if (records.length > maxBytes && !mayExceed) records = Buffer.alloc(0);
  return { ...empty(partition, 0), ...marks, records };
}

function empty(partitionIndex: number, errorCode: number): PartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: Buffer.alloc(0),
  };
}

/** Resolves at the first append to any of `logs`, after `ms`, or when the broker closes. */
function waitForAppend(ctx: BrokerContext, logs: Log[], ms: number): Promise<void> {
  const stop = new AbortController();
  const onClose = (): void => stop.abort();
  ctx.closing.addEventListener('abort', onClose, { once: true });
  const timer = setTimeout(() => stop.abort(), ms);
  const waits = logs.map((log) => log.waitForAppend(stop.signal));
  return Promise.race(waits).finally(() => {
    clearTimeout(timer);
    stop.abort();
    ctx.closing.removeEventListener('abort', onClose);
  });
}
