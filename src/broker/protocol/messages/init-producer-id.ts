// Kafka's InitProducerId API (key 22) as data: every field of InitProducerIdRequest.json and
// InitProducerIdResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-5 are served; flexible from 2+.
import type { ApiSchema } from '../schema.js';

export const INIT_PRODUCER_ID: ApiSchema = {
  name: 'InitProducerId',
  apiKey: 22,
  minVersion: 0,
  maxVersion: 5,
  flexibleVersions: '2+',
  request: [
    { name: 'transactionalId', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '3+', default: -1n },
    { name: 'producerEpoch', type: 'int16', versions: '3+', default: -1 },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+', default: -1n },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
  ],
};

export interface InitProducerIdResponse {
  throttleTimeMs: number;
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

export interface InitProducerIdRequest {
  transactionalId: string | null;
  transactionTimeoutMs: number;
  producerId?: bigint;
  producerEpoch?: number;
}
