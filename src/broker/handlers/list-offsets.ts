import type { Log } from '../../log/log.js';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import type { EncodeInput, ListOffsetsPartitionResponse } from '../protocol/index.js';
import { errorCodeOf, toNumber, type Handler } from './context.js';

/** Kafka's special timestamps of ListOffsets. */
const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

/**
 * ListOffsets: the earliest offset (-2, -4), the latest (-1, -5), the record with the largest
 * timestamp (-3), or the first record at or after a timestamp (`Log.offsetForTimestamp`;
 * offset -1 when there is none).
 */
export const listOffsets: Handler<typeof ApiKey.ListOffsets> = (ctx, request) => ({
  throttleTimeMs: 0,
  topics: request.topics.map((t) => {
    const served = ctx.topics.get(t.name);
    return {
      name: t.name,
      partitions: t.partitions.map((p): EncodeInput<ListOffsetsPartitionResponse> => {
        if (served === undefined || p.partitionIndex < 0 || p.partitionIndex >= served.topic.partitions) {
          return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1n, offset: -1n, leaderEpoch: -1 };
        }
        try {
          const found = lookup(served.topic.partition(p.partitionIndex), toNumber(p.timestamp));
          return { partitionIndex: p.partitionIndex, errorCode: 0, timestamp: BigInt(found.timestamp), offset: BigInt(found.offset), leaderEpoch: 0 };
        } catch (err) {
          return { partitionIndex: p.partitionIndex, errorCode: errorCodeOf(err), timestamp: -1n, offset: -1n, leaderEpoch: -1 };
        }
      }),
    };
  }),
});

function lookup(log: Log, timestamp: number): { offset: number; timestamp: number } {
  switch (timestamp) {
    case LATEST:
    case LATEST_TIERED:
      return { offset: log.endOffset, timestamp: -1 };
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { offset: log.startOffset, timestamp: -1 };
    case MAX_TIMESTAMP:
      return maxTimestamp(log);
    default: {
      const offset = log.offsetForTimestamp(Math.max(0, timestamp));
      if (offset === null) return { offset: -1, timestamp: -1 };
      return { offset, timestamp: log.read(offset, { maxRecords: 1 })[0]?.timestamp ?? -1 };
    }
  }
}

/** The offset of the record with the largest timestamp (the first such record), from the segments' largest timestamps. */
function maxTimestamp(log: Log): { offset: number; timestamp: number } {
  let best = -1;
  for (const segment of log.segments()) best = Math.max(best, segment.maxTimestamp);
  if (best < 0) return { offset: -1, timestamp: -1 };
  const offset = log.offsetForTimestamp(best);
  return offset === null ? { offset: -1, timestamp: -1 } : { offset, timestamp: best };
}
