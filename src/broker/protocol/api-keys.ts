import { ApiPlans } from './plan.js';
import type { ApiSchema } from './schema.js';
import { API_VERSIONS } from './messages/api-versions.js';
import { CREATE_TOPICS } from './messages/create-topics.js';
import { DELETE_RECORDS } from './messages/delete-records.js';
import { FETCH } from './messages/fetch.js';
import { FIND_COORDINATOR } from './messages/find-coordinator.js';
import { HEARTBEAT } from './messages/heartbeat.js';
import { INIT_PRODUCER_ID } from './messages/init-producer-id.js';
import { JOIN_GROUP } from './messages/join-group.js';
import { LEAVE_GROUP } from './messages/leave-group.js';
import { LIST_OFFSETS } from './messages/list-offsets.js';
import { METADATA } from './messages/metadata.js';
import { OFFSET_COMMIT } from './messages/offset-commit.js';
import { OFFSET_FETCH } from './messages/offset-fetch.js';
import { PRODUCE } from './messages/produce.js';
import { SYNC_GROUP } from './messages/sync-group.js';

/** The Kafka API keys this broker serves. */
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteRecords: 21,
  InitProducerId: 22,
} as const;
export type ApiKey = (typeof ApiKey)[keyof typeof ApiKey];

const SCHEMAS: readonly ApiSchema[] = [
  PRODUCE,
  FETCH,
  LIST_OFFSETS,
  METADATA,
  OFFSET_COMMIT,
  OFFSET_FETCH,
  FIND_COORDINATOR,
  JOIN_GROUP,
  HEARTBEAT,
  LEAVE_GROUP,
  SYNC_GROUP,
  API_VERSIONS,
  CREATE_TOPICS,
  DELETE_RECORDS,
  INIT_PRODUCER_ID,
];

const PLANS = new Map<number, ApiPlans>(SCHEMAS.map((s) => [s.apiKey, new ApiPlans(s)]));

/**
 * The version range of each API this broker advertises in ApiVersions: from the oldest version
 * clients in use ask for up to the newest version Kafka 3.9 serves.
 */
export const SUPPORTED_VERSIONS: ReadonlyMap<number, { readonly min: number; readonly max: number }> = new Map(
  SCHEMAS.map((s) => [s.apiKey, Object.freeze({ min: s.minVersion, max: s.maxVersion })]),
);

/** The compiled schema of an API key, or undefined for a key this broker does not serve. */
export function apiPlans(apiKey: number): ApiPlans | undefined {
  return PLANS.get(apiKey);
}

/** The name of an API key (`Produce`), or `api <key>` for one this broker does not serve. */
export function apiName(apiKey: number): string {
  return PLANS.get(apiKey)?.schema.name ?? `api ${apiKey}`;
}

/**
 * Whether a request of this key and version uses the flexible encoding (compact types, tagged
 * fields, request header v2). Versions above the served range keep the rule of the newest one,
 * so the header of a too-new request still parses; unknown keys are not flexible.
 */
export function isFlexible(apiKey: number, apiVersion: number): boolean {
  const plans = PLANS.get(apiKey);
  return plans !== undefined && plans.isFlexible(apiVersion);
}
