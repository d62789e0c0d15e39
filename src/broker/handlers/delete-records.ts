import { ApiKey, ErrorCode } from '../protocol/index.js';
import { errorCodeOf, toNumber, type Handler } from './context.js';

/** DeleteRecords: `Log.deleteRecordsBefore` per partition (-1: up to the high watermark); answers the new low watermark. */
export const deleteRecords: Handler<typeof ApiKey.DeleteRecords> = (ctx, request) => ({
  throttleTimeMs: 0,
  topics: request.topics.map((t) => {
    const served = ctx.topics.get(t.name);
    return {
      name: t.name,
      partitions: t.partitions.map((p) => {
        if (served === undefined || p.partitionIndex < 0 || p.partitionIndex >= served.topic.partitions) {
          return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        }
        const log = served.topic.partition(p.partitionIndex);
        try {
          const offset = toNumber(p.offset);
          const start = log.deleteRecordsBefore(offset === -1 ? log.endOffset : offset);
          return { partitionIndex: p.partitionIndex, lowWatermark: BigInt(start), errorCode: 0 };
        } catch (err) {
          return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: errorCodeOf(err) };
        }
      }),
    };
  }),
});
