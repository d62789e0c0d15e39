import type { ApiVersionsRequest, ApiVersionsResponse } from './messages/api-versions.js';
import type { CreateTopicsRequest, CreateTopicsResponse } from './messages/create-topics.js';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from './messages/delete-records.js';
import type { FetchRequest, FetchResponse } from './messages/fetch.js';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from './messages/find-coordinator.js';
import type { HeartbeatRequest, HeartbeatResponse } from './messages/heartbeat.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from './messages/init-producer-id.js';
import type { JoinGroupRequest, JoinGroupResponse } from './messages/join-group.js';
import type { LeaveGroupRequest, LeaveGroupResponse } from './messages/leave-group.js';
import type { ListOffsetsRequest, ListOffsetsResponse } from './messages/list-offsets.js';
import type { MetadataRequest, MetadataResponse } from './messages/metadata.js';
import type { OffsetCommitRequest, OffsetCommitResponse } from './messages/offset-commit.js';
import type { OffsetFetchRequest, OffsetFetchResponse } from './messages/offset-fetch.js';
import type { ProduceRequest, ProduceResponse } from './messages/produce.js';
import type { SyncGroupRequest, SyncGroupResponse } from './messages/sync-group.js';
import type { EncodeInput } from './schema.js';

/** The decoded request body of each API key. */
export interface RequestBodies {
  0: ProduceRequest;
  1: FetchRequest;
  2: ListOffsetsRequest;
  3: MetadataRequest;
  8: OffsetCommitRequest;
  9: OffsetFetchRequest;
  10: FindCoordinatorRequest;
  11: JoinGroupRequest;
  12: HeartbeatRequest;
  13: LeaveGroupRequest;
  14: SyncGroupRequest;
  18: ApiVersionsRequest;
  19: CreateTopicsRequest;
  21: DeleteRecordsRequest;
  22: InitProducerIdRequest;
}

/** The decoded response body of each API key. */
export interface ResponseBodies {
  0: ProduceResponse;
  1: FetchResponse;
  2: ListOffsetsResponse;
  3: MetadataResponse;
  8: OffsetCommitResponse;
  9: OffsetFetchResponse;
  10: FindCoordinatorResponse;
  11: JoinGroupResponse;
  12: HeartbeatResponse;
  13: LeaveGroupResponse;
  14: SyncGroupResponse;
  18: ApiVersionsResponse;
  19: CreateTopicsResponse;
  21: DeleteRecordsResponse;
  22: InitProducerIdResponse;
}

/** The request type of a known key; `any` when the key is only known at run time. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RequestBody<K extends number> = K extends keyof RequestBodies ? RequestBodies[K] : any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ResponseBody<K extends number> = K extends keyof ResponseBodies ? ResponseBodies[K] : any;

/** What `encodeRequest` takes: the request type with every field optional. */
export type RequestInput<K extends number> = K extends keyof RequestBodies ? EncodeInput<RequestBodies[K]> : object;
/** What `encodeResponse` takes: the response type with every field optional. */
export type ResponseInput<K extends number> = K extends keyof ResponseBodies ? EncodeInput<ResponseBodies[K]> : object;
