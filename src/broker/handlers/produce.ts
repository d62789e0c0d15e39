import type { Log } from '../../log/log.js';
import { RECORD_BATCH_OVERHEAD, readBaseSequence, readBatchSize, readLastOffsetDelta, readProducerEpoch, readProducerId } from '../../record/batch-layout.js';
import { lastSequence } from '../producer-state.js';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import type { EncodeInput, ProducePartitionProduceResponse, ProduceTopicProduceData } from '../protocol/index.js';
import { code, errorCodeOf, type BrokerContext, type Handler } from './context.js';

type PartitionResult = EncodeInput<ProducePartitionProduceResponse>;
type TopicResult = { name: string; partitionResponses: PartitionResult[] };

/**
 * Produce: each partition's record set is checked and appended as it came (see
 * `Log.appendEncoded`), with errors per partition. acks=0 gets no response; acks=1 and acks=-1
 * are answered once the batches are in the page cache, or with `flushOnAck` an acks=-1 produce
 * once they are on disk. Batches of idempotent producers go through their producer's sequence
 * check first: a retry is acknowledged with the offsets it got the first time.
 *
 * Synchronous up to the answer (a promise only while flushOnAck waits for the disk): the records
 * are a view into the connection's reused frame buffer (see `FrameReader`), so they must be
 * appended before this returns, and nothing may keep them.
 */
export const produce: Handler<typeof ApiKey.Produce> = (ctx, request) => {
  const acks = request.acks;
  if (acks !== 0 && acks !== 1 && acks !== -1) {
    return respond(request.topicData.map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => failed(p.index, ErrorCode.INVALID_REQUIRED_ACKS)) })));
  }
  // Only an acks=-1 produce with flushOnAck waits for the disk, so only it tracks the logs it touched.
  const touched = acks === -1 && ctx.flushOnAck ? new Set<Log>() : null;
  const responses: TopicResult[] = [];
  for (const topicData of request.topicData) responses.push(appendTopic(ctx, request.transactionalId, topicData, touched));
  if (acks === 0) return null;
  if (touched !== null && touched.size > 0) return flushAll(ctx, touched, responses).then(() => respond(responses));
  return respond(responses);
};

/** One topic's partitions, appended in request order (a loop, not closures: this runs for every produce). */
function appendTopic(ctx: BrokerContext, transactionalId: string | null, topicData: ProduceTopicProduceData, touched: Set<Log> | null): TopicResult {
  const served = ctx.topics.get(topicData.name);
  const partitionResponses: PartitionResult[] = [];
  for (const data of topicData.partitionData) {
    let result: PartitionResult;
    if (transactionalId !== null) result = failed(data.index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactions are not supported by seglog');
    else if (served === undefined || !Number.isInteger(data.index) || data.index < 0 || data.index >= served.topic.partitions) {
      result = failed(data.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    } else if (data.records === null || data.records.length === 0) result = failed(data.index, ErrorCode.CORRUPT_MESSAGE, 'no records');
    else {
      const log = served.topic.partition(data.index);
      result = appendPartition(ctx, log, data.index, data.records);
      if (result.errorCode === 0) touched?.add(log);
    }
    partitionResponses.push(result);
  }
  return { name: topicData.name, partitionResponses };
}

function respond(responses: TopicResult[]) {
  return { responses, throttleTimeMs: 0 };
}

function failed(index: number, errorCode: number, errorMessage: string | null = null): PartitionResult {
  return { index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, errorMessage };
}

function appendPartition(ctx: BrokerContext, log: Log, index: number, records: Buffer): PartitionResult {
  try {
    const producerId = records.length >= RECORD_BATCH_OVERHEAD ? readProducerId(records, 0) : -1;
    const appended = producerId >= 0 ? appendIdempotent(ctx, log, records) : log.appendEncoded(records);
    if ('error' in appended) return failed(index, code(appended.error));
    return {
      index,
      errorCode: 0,
      baseOffset: BigInt(appended.baseOffset),
      logAppendTimeMs: BigInt(appended.logAppendTime),
      logStartOffset: BigInt(log.startOffset),
      errorMessage: null,
    };
  } catch (err) {
    return failed(index, errorCodeOf(err), (err as Error).message);
  }
}

/**
 * The batches of an idempotent producer, one by one: a retry of a batch already written is
 * answered with its first offsets, an out-of-order or fenced one stops the record set there.
 */
function appendIdempotent(
  ctx: BrokerContext,
  log: Log,
  records: Buffer,
): { baseOffset: number; logAppendTime: number } | { error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' | 'INVALID_PRODUCER_EPOCH' } {
  const state = ctx.producers.of(log);
  let first: { baseOffset: number; logAppendTime: number } | null = null;
  let pos = 0;
  while (pos < records.length) {
    const size = records.length - pos >= RECORD_BATCH_OVERHEAD ? readBatchSize(records, pos) : records.length - pos;
    const batch = records.subarray(pos, pos + Math.max(size, 1));
    const producerId = batch.length >= RECORD_BATCH_OVERHEAD ? readProducerId(batch, 0) : -1;
    if (producerId < 0 || readBaseSequence(batch, 0) < 0) {
      const plain = log.appendEncoded(batch);
      first ??= plain;
    } else {
      const epoch = readProducerEpoch(batch, 0);
      const firstSeq = readBaseSequence(batch, 0);
      const lastSeq = lastSequence(firstSeq, readLastOffsetDelta(batch, 0));
      const check = state.check(producerId, epoch, firstSeq, lastSeq);
      if (check.kind === 'error') return { error: check.error };
      if (check.kind === 'duplicate') {
        first ??= { baseOffset: check.firstOffset, logAppendTime: -1 };
      } else {
        const appended = log.appendEncoded(batch);
        state.record(producerId, epoch, firstSeq, lastSeq, appended.baseOffset, appended.lastOffset);
        first ??= appended;
      }
    }
    pos += Math.max(size, 1);
  }
  return first!;
}

/** flushOnAck: waits for the touched partitions' group commit; a partition whose flush fails reports KAFKA_STORAGE_ERROR. */
async function flushAll(ctx: BrokerContext, logs: Set<Log>, responses: TopicResult[]): Promise<void> {
  const failedDirs = new Set<string>();
  await Promise.all(
    [...logs].map((log) =>
      log.flush().catch((err: unknown) => {
        ctx.log(`flush of ${log.dir} failed: ${(err as Error).message}`);
        failedDirs.add(log.dir);
      }),
    ),
  );
  if (failedDirs.size === 0) return;
  for (const topic of responses) {
    const served = ctx.topics.get(topic.name);
    for (const p of topic.partitionResponses) {
      if (served !== undefined && p.errorCode === 0 && failedDirs.has(served.topic.partition(p.index!).dir)) {
        p.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
      }
    }
  }
}
