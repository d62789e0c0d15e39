/** The handler of every API this broker serves, by API key. */
import { ApiKey } from '../protocol/index.js';
import { apiVersions } from './api-versions.js';
import type { Handler } from './context.js';
import { createTopics } from './create-topics.js';
import { deleteRecords } from './delete-records.js';
import { fetch } from './fetch.js';
import { findCoordinator } from './find-coordinator.js';
import { heartbeat, joinGroup, leaveGroup, syncGroup } from './groups.js';
import { initProducerId } from './init-producer-id.js';
import { listOffsets } from './list-offsets.js';
import { metadata } from './metadata.js';
import { offsetCommit, offsetFetch } from './offsets.js';
import { produce } from './produce.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const HANDLERS: ReadonlyMap<number, Handler<any>> = new Map<number, Handler<any>>([
  [ApiKey.Produce, produce],
  [ApiKey.Fetch, fetch],
  [ApiKey.ListOffsets, listOffsets],
  [ApiKey.Metadata, metadata],
  [ApiKey.OffsetCommit, offsetCommit],
  [ApiKey.OffsetFetch, offsetFetch],
  [ApiKey.FindCoordinator, findCoordinator],
  [ApiKey.JoinGroup, joinGroup],
  [ApiKey.Heartbeat, heartbeat],
  [ApiKey.LeaveGroup, leaveGroup],
  [ApiKey.SyncGroup, syncGroup],
  [ApiKey.ApiVersions, apiVersions],
  [ApiKey.CreateTopics, createTopics],
  [ApiKey.DeleteRecords, deleteRecords],
  [ApiKey.InitProducerId, initProducerId],
]);

export type { BrokerContext, Handler } from './context.js';
