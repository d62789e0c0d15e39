/**
 * Kafka's wire protocol as pure functions: framing, headers, and the request and response of
 * every API the broker serves at every version, from bytes to objects and back. No sockets, no
 * I/O; malformed input ends in a `ProtocolError`.
 */
export { ApiKey, SUPPORTED_VERSIONS, apiName, isFlexible } from './api-keys.js';
export { ErrorCode, errorName, type ErrorName } from './error-codes.js';
export {
  decodeRequestHeader,
  decodeRequest,
  encodeResponse,
  encodeRequest,
  decodeResponse,
  encodeUnsupportedApiVersions,
  type RequestHeader,
} from './frame.js';
export { ProtocolError } from '../../errors.js';
export type { Records, EncodeInput, ApiSchema, FieldSpec } from './schema.js';
export type * from './types.js';
export type * from './messages/api-versions.js';
export type * from './messages/create-topics.js';
export type * from './messages/delete-records.js';
export type * from './messages/fetch.js';
export type * from './messages/find-coordinator.js';
export type * from './messages/heartbeat.js';
export type * from './messages/init-producer-id.js';
export type * from './messages/join-group.js';
export type * from './messages/leave-group.js';
export type * from './messages/list-offsets.js';
export type * from './messages/metadata.js';
export type * from './messages/offset-commit.js';
export type * from './messages/offset-fetch.js';
export type * from './messages/produce.js';
export type * from './messages/sync-group.js';
