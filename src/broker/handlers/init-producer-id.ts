import { ApiKey, ErrorCode } from '../protocol/index.js';
import { toNumber, type Handler } from './context.js';

const MAX_EPOCH = 32767;

/**
 * InitProducerId for idempotent producers: a new producer id at epoch 0, or (v3+, a producer
 * naming its id and epoch) the same id with the next epoch. Transactions are not supported.
 */
export const initProducerId: Handler<typeof ApiKey.InitProducerId> = (ctx, request) => {
  if (request.transactionalId !== null) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1 };
  }
  const givenId = toNumber(request.producerId);
  const givenEpoch = request.producerEpoch ?? -1;
  if (givenId >= 0 && givenEpoch >= 0 && givenEpoch < MAX_EPOCH) {
    return { throttleTimeMs: 0, errorCode: 0, producerId: BigInt(givenId), producerEpoch: givenEpoch + 1 };
  }
  const fresh = ctx.producers.newProducerId();
  return { throttleTimeMs: 0, errorCode: 0, producerId: BigInt(fresh.producerId), producerEpoch: fresh.producerEpoch };
};
