/**
 * The group coordinator of a single-node broker: every group is coordinated here (FindCoordinator
 * answers with this node). Membership lives in memory, as Kafka rebuilds it from its offsets topic
 * only for the offsets: after a restart members learn with UNKNOWN_MEMBER_ID that they must join
 * again, and the committed offsets are where `Log.consumer` keeps them (see `GroupOffsets`).
 *
 * Time is passed in: `now` on every call, and `expire(now)` for the deadlines, so tests drive
 * rebalances and session timeouts without sleeping. `startTimer()` drives it from the clock.
 */
import {
  Group,
  type GroupErrorName,
  type JoinRequest,
  type JoinResult,
  type SyncAssignment,
  type SyncResult,
} from './group.js';

export interface CoordinatorOptions {
  /** Kafka's `group.min.session.timeout.ms`; a join asking for less gets INVALID_SESSION_TIMEOUT. Default 1000. */
  minSessionTimeoutMs?: number;
  /** Kafka's `group.max.session.timeout.ms`. Default 1800000 (30 min). */
  maxSessionTimeoutMs?: number;
  /** Kafka's `group.max.size`. Default unlimited. */
  maxGroupSize?: number;
}

export const DEFAULT_MIN_SESSION_TIMEOUT_MS = 1000;
export const DEFAULT_MAX_SESSION_TIMEOUT_MS = 30 * 60 * 1000;
/** How often the timer looks for expired sessions and rebalance timeouts. */
const EXPIRY_CHECK_MS = 100;

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly minSessionTimeoutMs: number;
  private readonly maxSessionTimeoutMs: number;
  private readonly maxGroupSize: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: CoordinatorOptions = {}) {
    this.minSessionTimeoutMs = options.minSessionTimeoutMs ?? DEFAULT_MIN_SESSION_TIMEOUT_MS;
    this.maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? DEFAULT_MAX_SESSION_TIMEOUT_MS;
    this.maxGroupSize = options.maxGroupSize ?? Number.MAX_SAFE_INTEGER;
  }

  /** The group, or undefined when nobody ever joined it. */
  group(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  /** JoinGroup; resolves when the join completes (possibly after other members rejoined). */
  join(groupId: string, request: JoinRequest, requireKnownMemberId: boolean, now: number): Promise<JoinResult> {
    const refused = this.checkJoin(groupId, request);
    if (refused !== 'NONE') return Promise.resolve(refusedJoin(refused, request.memberId));
    let group = this.groups.get(groupId);
    if (group === undefined) {
      if (request.memberId !== '') return Promise.resolve(refusedJoin('UNKNOWN_MEMBER_ID', request.memberId));
      group = new Group(groupId);
      this.groups.set(groupId, group);
    }
    const target = group;
    return new Promise((resolve) => target.join(request, requireKnownMemberId, now, resolve));
  }

  private checkJoin(groupId: string, request: JoinRequest): GroupErrorName {
    if (groupId === '') return 'INVALID_GROUP_ID';
    const timeout = request.sessionTimeoutMs;
    if (timeout < this.minSessionTimeoutMs || timeout > this.maxSessionTimeoutMs) return 'INVALID_SESSION_TIMEOUT';
    const group = this.groups.get(groupId);
    if (group !== undefined && group.size >= this.maxGroupSize && !group.hasMember(request.memberId)) return 'GROUP_MAX_SIZE_REACHED';
    return 'NONE';
  }

  /** SyncGroup; the leader's call resolves everybody's. */
  sync(groupId: string, memberId: string, generationId: number, assignments: readonly SyncAssignment[], now: number): Promise<SyncResult> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.resolve({ error: 'UNKNOWN_MEMBER_ID', protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    return new Promise((resolve) => group.sync(memberId, generationId, assignments, now, resolve));
  }

  heartbeat(groupId: string, memberId: string, generationId: number, now: number): GroupErrorName {
    return this.groups.get(groupId)?.heartbeat(memberId, generationId, now) ?? 'UNKNOWN_MEMBER_ID';
  }

  leave(groupId: string, memberId: string, now: number): GroupErrorName {
    return this.groups.get(groupId)?.leave(memberId, now) ?? 'UNKNOWN_MEMBER_ID';
  }

  /** Whether an OffsetCommit may be stored (see `Group.checkCommit`); a group nobody joined takes plain commits. */
  checkCommit(groupId: string, memberId: string, generationId: number, now: number): GroupErrorName {
    if (groupId === '') return 'INVALID_GROUP_ID';
    const group = this.groups.get(groupId);
    if (group === undefined) return generationId < 0 ? 'NONE' : 'UNKNOWN_MEMBER_ID';
    return group.checkCommit(memberId, generationId, now);
  }

  /** Fires every deadline due at `now` (session timeouts, rebalance timeouts, lapsed member ids). */
  expire(now: number): void {
    for (const group of this.groups.values()) {
      const next = group.nextDeadline();
      if (next !== null && next <= now) group.expire(now);
    }
  }

  /** Runs `expire(Date.now())` every 100 ms until `close()`. */
  startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.expire(Date.now()), EXPIRY_CHECK_MS);
    this.timer.unref();
  }

  /** Stops the timer and answers every held join and sync with COORDINATOR_NOT_AVAILABLE. */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const group of this.groups.values()) group.shutdown();
  }
}

function refusedJoin(error: GroupErrorName, memberId: string): JoinResult {
  return { error, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
}
