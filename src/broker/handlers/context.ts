/**
 * What every handler gets: the broker's state (topics, groups, producers, options) and the
 * request's header. Handlers are functions from a decoded request to a response body (or null:
 * no response, as for Produce with acks=0); the server owns sockets, framing and ordering.
 */
import { InvalidArgumentError, InvalidRecordError, LogIOError, OffsetOutOfRangeError, RecordTooLargeError, SeglogError } from '../../errors.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import type { ProducerStates } from '../producer-state.js';
import type { ErrorName, RequestBody, RequestHeader, ResponseInput } from '../protocol/index.js';
import { ErrorCode } from '../protocol/index.js';
import type { BrokerTopics } from '../topics.js';

/** This broker's node id in Metadata and FindCoordinator: the only node, and the controller. */
export const NODE_ID = 0;

export interface BrokerContext {
  readonly topics: BrokerTopics;
  readonly groups: GroupCoordinator;
  readonly producers: ProducerStates;
  /** Host and port clients are told to connect to. */
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  readonly clusterId: string;
  /** With acks=all, answer a produce only once its batches are on disk. */
  readonly flushOnAck: boolean;
  /** Aborted when the broker closes: held fetches answer at once. */
  readonly closing: AbortSignal;
  /** One line to the broker's log. */
  readonly log: (line: string) => void;
  /** The clock of the group coordinator (ms). */
  readonly now: () => number;
}

export type Handler<K extends number> = (
  ctx: BrokerContext,
  request: RequestBody<K>,
  header: RequestHeader,
) => ResponseInput<K> | null | Promise<ResponseInput<K> | null>;

/** Kafka's error code of a seglog error thrown while serving a partition. */
export function errorCodeOf(err: unknown): number {
  if (err instanceof RecordTooLargeError) return ErrorCode.MESSAGE_TOO_LARGE;
  if (err instanceof InvalidRecordError) return ErrorCode.CORRUPT_MESSAGE;
  if (err instanceof OffsetOutOfRangeError) return ErrorCode.OFFSET_OUT_OF_RANGE;
  if (err instanceof InvalidArgumentError) return ErrorCode.INVALID_REQUEST;
  if (err instanceof LogIOError) return ErrorCode.KAFKA_STORAGE_ERROR;
  if (err instanceof SeglogError) return ErrorCode.UNKNOWN_SERVER_ERROR;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

export function code(name: ErrorName): number {
  return ErrorCode[name];
}

/** An int64 field as a number (offsets and timestamps stay far below 2^53). */
export function toNumber(value: bigint | number | undefined, fallback = -1): number {
  return value === undefined ? fallback : Number(value);
}
