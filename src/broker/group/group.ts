/**
 * One consumer group of Kafka's classic group protocol, as a state machine with time passed in
 * (every method takes `now` in ms; `expire(now)` fires the deadlines), modelled on Kafka's
 * `GroupMetadata` and `GroupCoordinator`:
 *
 * ```
 *   Empty --join--> PreparingRebalance --all joined or rebalance timeout--> CompletingRebalance
 *     ^                 ^        |                                             | leader's SyncGroup
 *     |                 |        +--no member left--> Empty                    v
 *     +--last leaves----+--------- a member joins, leaves, changes or expires -- Stable
 * ```
 *
 * JoinGroup and SyncGroup answers are held: a join until every member has rejoined (or the
 * largest rebalance timeout passes, and those that did not rejoin are removed), a sync until the
 * leader's SyncGroup brings the assignment. The held answers are callbacks; the coordinator
 * wraps them in promises. Errors are Kafka's error names; the handlers turn them into codes.
 */

/** Kafka's error names that the group protocol answers with. */
export type GroupErrorName =
  | 'NONE'
  | 'UNKNOWN_MEMBER_ID'
  | 'ILLEGAL_GENERATION'
  | 'REBALANCE_IN_PROGRESS'
  | 'INCONSISTENT_GROUP_PROTOCOL'
  | 'MEMBER_ID_REQUIRED'
  | 'INVALID_SESSION_TIMEOUT'
  | 'INVALID_GROUP_ID'
  | 'GROUP_MAX_SIZE_REACHED'
  | 'COORDINATOR_NOT_AVAILABLE';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface JoinProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinRequest {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: readonly JoinProtocol[];
}

export interface JoinMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinResult {
  error: GroupErrorName;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  /** The members and their metadata for the chosen protocol: only the leader gets them. */
  members: JoinMember[];
}

export interface SyncResult {
  error: GroupErrorName;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

/** A member's assignment from the leader's SyncGroup. */
export interface SyncAssignment {
  memberId: string;
  assignment: Buffer;
}

class Member {
  joinCallback: ((result: JoinResult) => void) | null = null;
  syncCallback: ((result: SyncResult) => void) | null = null;
  assignment: Buffer = EMPTY;
  /** When the member is removed unless it heartbeats (or joins, syncs, commits) before. */
  sessionDeadline = 0;

  constructor(
    readonly memberId: string,
    public groupInstanceId: string | null,
    public clientId: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    public protocols: readonly JoinProtocol[],
  ) {}

  /** A member waiting for a held answer is alive: its deadline does not run. */
  get isWaiting(): boolean {
    return this.joinCallback !== null || this.syncCallback !== null;
  }

  metadataFor(protocol: string): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  private readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, and when they lapse unless the member joins with them. */
  private readonly pendingMembers = new Map<string, number>();
  /** When PreparingRebalance gives up on members that have not rejoined. */
  private joinDeadline = 0;
  private nextMemberNumber = 0;

  constructor(readonly groupId: string) {}

  get size(): number {
    return this.members.size;
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId);
  }

  /** The member ids, in join order. */
  memberIds(): string[] {
    return [...this.members.keys()];
  }

  /**
   * JoinGroup. `requireKnownMemberId` (JoinGroup v4+): a member joining without an id first gets
   * one with MEMBER_ID_REQUIRED and must join again with it.
   */
  join(request: JoinRequest, requireKnownMemberId: boolean, now: number, respond: (result: JoinResult) => void): void {
    if (!this.protocolsFit(request)) {
      respond(failedJoin('INCONSISTENT_GROUP_PROTOCOL', request.memberId));
      return;
    }
    if (request.memberId === '') {
      this.joinUnknownMember(request, requireKnownMemberId, now, respond);
      return;
    }
    if (this.pendingMembers.delete(request.memberId)) {
      this.addMemberAndRebalance(request.memberId, request, now, respond);
      return;
    }
    const member = this.members.get(request.memberId);
    if (member === undefined) {
      respond(failedJoin('UNKNOWN_MEMBER_ID', request.memberId));
      return;
    }
    this.joinKnownMember(member, request, now, respond);
  }

  private joinUnknownMember(request: JoinRequest, requireKnownMemberId: boolean, now: number, respond: (result: JoinResult) => void): void {
    const memberId = this.newMemberId(request.clientId);
    if (requireKnownMemberId) {
      this.pendingMembers.set(memberId, now + request.sessionTimeoutMs);
      respond(failedJoin('MEMBER_ID_REQUIRED', memberId));
      return;
    }
    this.addMemberAndRebalance(memberId, request, now, respond);
  }

  private joinKnownMember(member: Member, request: JoinRequest, now: number, respond: (result: JoinResult) => void): void {
    const changed = !sameProtocols(member.protocols, request.protocols);
    switch (this.state) {
      case 'PreparingRebalance':
        this.updateMember(member, request, respond);
        this.maybeCompleteJoin(now);
        return;
      case 'CompletingRebalance':
        if (!changed) {
          // A join resent after its answer was lost: the same answer again.
          respond(this.joinResultFor(member.memberId));
          return;
        }
        this.updateMember(member, request, respond);
        this.prepareRebalance(now);
        return;
      case 'Stable':
        if (changed || member.memberId === this.leaderId) {
          // The leader rejoining asks for a new assignment (e.g. it saw new partitions).
          this.updateMember(member, request, respond);
          this.prepareRebalance(now);
          return;
        }
        respond(this.joinResultFor(member.memberId));
        return;
      case 'Empty':
        // Unreachable: an Empty group has no members.
        respond(failedJoin('UNKNOWN_MEMBER_ID', member.memberId));
    }
  }

  private addMemberAndRebalance(memberId: string, request: JoinRequest, now: number, respond: (result: JoinResult) => void): void {
    const member = new Member(
      memberId,
      request.groupInstanceId,
      request.clientId,
      request.sessionTimeoutMs,
      request.rebalanceTimeoutMs,
      request.protocols,
    );
    member.joinCallback = respond;
    member.sessionDeadline = now + request.sessionTimeoutMs;
    this.members.set(memberId, member);
    if (this.members.size === 1) this.protocolType = request.protocolType;
    this.leaderId ??= memberId;
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin(now);
    else this.prepareRebalance(now);
  }

  private updateMember(member: Member, request: JoinRequest, respond: (result: JoinResult) => void): void {
    member.protocols = request.protocols;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.clientId = request.clientId;
    member.groupInstanceId = request.groupInstanceId;
    // A second join of the same member replaces the first; the first learns it is stale.
    member.joinCallback?.(failedJoin('UNKNOWN_MEMBER_ID', member.memberId));
    member.joinCallback = respond;
  }

  /** A protocol type matching the group's, and at least one protocol every member supports. */
  private protocolsFit(request: JoinRequest): boolean {
    if (request.protocolType === '' || request.protocols.length === 0) return false;
    const others = [...this.members.values()].filter((m) => m.memberId !== request.memberId);
    if (others.length === 0) return true;
    if (request.protocolType !== this.protocolType) return false;
    return request.protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  private prepareRebalance(now: number): void {
    if (this.state === 'CompletingRebalance') {
      // The assignment being synced is void: members waiting for it must rejoin.
      for (const member of this.members.values()) this.answerSync(member, failedSync('REBALANCE_IN_PROGRESS'));
    }
    this.state = 'PreparingRebalance';
    let timeout = 0;
    for (const member of this.members.values()) timeout = Math.max(timeout, member.rebalanceTimeoutMs);
    this.joinDeadline = now + timeout;
    this.maybeCompleteJoin(now);
  }

  private maybeCompleteJoin(now: number): void {
    if (this.state !== 'PreparingRebalance') return;
    for (const member of this.members.values()) if (member.joinCallback === null) return;
    this.completeJoin(now);
  }

  /** Ends PreparingRebalance: members that did not rejoin are out, the rest get the new generation. */
  private completeJoin(now: number): void {
    for (const member of [...this.members.values()]) {
      if (member.joinCallback === null) this.removeMember(member.memberId);
    }
    this.generationId++;
    if (this.members.size === 0) {
      this.toEmpty();
      return;
    }
    this.protocolName = this.selectProtocol();
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!;
    this.state = 'CompletingRebalance';
    for (const member of this.members.values()) {
      const respond = member.joinCallback!;
      member.joinCallback = null;
      member.assignment = EMPTY;
      member.sessionDeadline = now + member.sessionTimeoutMs;
      respond(this.joinResultFor(member.memberId));
    }
  }

  private toEmpty(): void {
    this.state = 'Empty';
    this.protocolName = null;
    this.protocolType = null;
    this.leaderId = null;
  }

  /** Kafka's rule: among the protocols all members support, the one most members list first. */
  private selectProtocol(): string {
    const all = [...this.members.values()];
    const candidates = all[0]!.protocols.map((p) => p.name).filter((name) => all.every((m) => m.protocols.some((q) => q.name === name)));
    const votes = new Map<string, number>(candidates.map((c) => [c, 0]));
    for (const member of all) {
      const choice = member.protocols.find((p) => votes.has(p.name))!.name;
      votes.set(choice, votes.get(choice)! + 1);
    }
    let best = candidates[0]!;
    for (const [name, count] of votes) if (count > votes.get(best)!) best = name;
    return best;
  }

  private joinResultFor(memberId: string): JoinResult {
    const isLeader = memberId === this.leaderId;
    const protocol = this.protocolName!;
    return {
      error: 'NONE',
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: protocol,
      leader: this.leaderId!,
      memberId,
      members: isLeader
        ? [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(protocol) }))
        : [],
    };
  }

  /** SyncGroup: the leader's call brings the assignments; the others wait for it. */
  sync(memberId: string, generationId: number, assignments: readonly SyncAssignment[], now: number, respond: (result: SyncResult) => void): void {
    const member = this.members.get(memberId);
    if (member === undefined) {
      respond(failedSync('UNKNOWN_MEMBER_ID'));
      return;
    }
    if (generationId !== this.generationId) {
      respond(failedSync('ILLEGAL_GENERATION'));
      return;
    }
    member.sessionDeadline = now + member.sessionTimeoutMs;
    switch (this.state) {
      case 'PreparingRebalance':
        respond(failedSync('REBALANCE_IN_PROGRESS'));
        return;
      case 'Stable':
        respond(this.syncResult(member.assignment));
        return;
      case 'CompletingRebalance':
        member.syncCallback?.(failedSync('UNKNOWN_MEMBER_ID'));
        member.syncCallback = respond;
        if (memberId === this.leaderId) this.completeSync(assignments, now);
        return;
      case 'Empty':
        respond(failedSync('UNKNOWN_MEMBER_ID'));
    }
  }

  private completeSync(assignments: readonly SyncAssignment[], now: number): void {
    const given = new Map(assignments.map((a) => [a.memberId, a.assignment]));
    this.state = 'Stable';
    for (const member of this.members.values()) {
      member.assignment = given.get(member.memberId) ?? EMPTY;
      member.sessionDeadline = now + member.sessionTimeoutMs;
      this.answerSync(member, this.syncResult(member.assignment));
    }
  }

  private syncResult(assignment: Buffer): SyncResult {
    return { error: 'NONE', protocolType: this.protocolType, protocolName: this.protocolName, assignment };
  }

  private answerSync(member: Member, result: SyncResult): void {
    const respond = member.syncCallback;
    member.syncCallback = null;
    respond?.(result);
  }

  /** Heartbeat: keeps the member alive and tells it when it must rejoin. */
  heartbeat(memberId: string, generationId: number, now: number): GroupErrorName {
    const member = this.members.get(memberId);
    if (member === undefined) return 'UNKNOWN_MEMBER_ID';
    if (generationId !== this.generationId) return 'ILLEGAL_GENERATION';
    member.sessionDeadline = now + member.sessionTimeoutMs;
    return this.state === 'PreparingRebalance' ? 'REBALANCE_IN_PROGRESS' : 'NONE';
  }

  /**
   * Whether an OffsetCommit of this member at this generation may be stored. Generation -1 with
   * no member id is a commit from outside the group protocol: allowed while the group is Empty.
   */
  checkCommit(memberId: string, generationId: number, now: number): GroupErrorName {
    if (generationId < 0 && memberId === '') return this.state === 'Empty' ? 'NONE' : 'UNKNOWN_MEMBER_ID';
    const member = this.members.get(memberId);
    if (member === undefined) return 'UNKNOWN_MEMBER_ID';
    if (generationId !== this.generationId) return 'ILLEGAL_GENERATION';
    // Kafka takes commits of the current generation while preparing a rebalance (members commit
    // what they processed before giving partitions up), but not before the new assignment is out.
    if (this.state === 'CompletingRebalance') return 'REBALANCE_IN_PROGRESS';
    member.sessionDeadline = now + member.sessionTimeoutMs;
    return 'NONE';
  }

  /** LeaveGroup of one member. */
  leave(memberId: string, now: number): GroupErrorName {
    if (this.pendingMembers.delete(memberId)) return 'NONE';
    const member = this.members.get(memberId);
    if (member === undefined) return 'UNKNOWN_MEMBER_ID';
    member.joinCallback?.(failedJoin('UNKNOWN_MEMBER_ID', memberId));
    member.joinCallback = null;
    this.answerSync(member, failedSync('UNKNOWN_MEMBER_ID'));
    this.memberGone(memberId, now);
    return 'NONE';
  }

  /**
   * Fires the deadlines due at `now`: pending member ids lapse, members past their session
   * timeout are removed (a rebalance follows), and a rebalance past its timeout completes
   * without the members that did not rejoin.
   */
  expire(now: number): void {
    for (const [memberId, deadline] of this.pendingMembers) if (deadline <= now) this.pendingMembers.delete(memberId);
    for (const member of [...this.members.values()]) {
      if (!member.isWaiting && member.sessionDeadline <= now && this.members.has(member.memberId)) this.memberGone(member.memberId, now);
    }
    if (this.state === 'PreparingRebalance' && this.joinDeadline <= now) this.completeJoin(now);
  }

  /** The earliest time at which `expire` would change something, or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    const consider = (t: number): void => {
      if (next === null || t < next) next = t;
    };
    for (const deadline of this.pendingMembers.values()) consider(deadline);
    for (const member of this.members.values()) if (!member.isWaiting) consider(member.sessionDeadline);
    if (this.state === 'PreparingRebalance') consider(this.joinDeadline);
    return next;
  }

  private memberGone(memberId: string, now: number): void {
    this.removeMember(memberId);
    if (this.members.size === 0 && this.state !== 'PreparingRebalance') {
      this.generationId++;
      this.toEmpty();
      return;
    }
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin(now);
    else this.prepareRebalance(now);
  }

  private removeMember(memberId: string): void {
    this.members.delete(memberId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
  }

  /** Answers every held request (the broker is closing); members learn to rejoin elsewhere. */
  shutdown(): void {
    for (const member of this.members.values()) {
      member.joinCallback?.(failedJoin('COORDINATOR_NOT_AVAILABLE', member.memberId));
      member.joinCallback = null;
      this.answerSync(member, failedSync('COORDINATOR_NOT_AVAILABLE'));
    }
  }

  private newMemberId(clientId: string): string {
    // Kafka's form, clientId-UUID; a counter makes it unique within this coordinator.
    this.nextMemberNumber++;
    const suffix = `${Date.now().toString(16)}-${this.nextMemberNumber.toString(16)}-${Math.random().toString(16).slice(2, 10)}`;
    return `${clientId}-${suffix}`;
  }
}

function failedJoin(error: GroupErrorName, memberId: string): JoinResult {
  return { error, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
}

function failedSync(error: GroupErrorName): SyncResult {
  return { error, protocolType: null, protocolName: null, assignment: EMPTY };
}

function sameProtocols(a: readonly JoinProtocol[], b: readonly JoinProtocol[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
