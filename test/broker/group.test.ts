import { describe, expect, it } from 'vitest';
import { GroupCoordinator } from '../../src/broker/group/coordinator.js';
import type { JoinRequest, JoinResult, SyncResult } from '../../src/broker/group/group.js';

const meta = (s: string): Buffer => Buffer.from(s);

function joinRequest(memberId: string, over: Partial<JoinRequest> = {}): JoinRequest {
  return {
    memberId,
    groupInstanceId: null,
    clientId: 'client',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: meta(`m-${memberId}`) }],
    ...over,
  };
}

/** Tracks whether a promise settled, without waiting for it. */
function track<T>(promise: Promise<T>): { value: T | undefined; settled: boolean } {
  const box: { value: T | undefined; settled: boolean } = { value: undefined, settled: false };
  promise.then((v) => {
    box.value = v;
    box.settled = true;
  });
  return box;
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Joins a new member the v4+ way (MEMBER_ID_REQUIRED first) and returns the held join. */
async function joinNew(c: GroupCoordinator, group: string, now: number, over: Partial<JoinRequest> = {}): Promise<{ memberId: string; join: Promise<JoinResult> }> {
  const first = await c.join(group, joinRequest('', over), true, now);
  expect(first.error).toBe('MEMBER_ID_REQUIRED');
  expect(first.memberId).not.toBe('');
  return { memberId: first.memberId, join: c.join(group, joinRequest(first.memberId, over), true, now) };
}

async function stableGroupOfOne(c: GroupCoordinator, now = 0): Promise<{ a: string; gen: number }> {
  const { memberId: a, join } = await joinNew(c, 'g', now);
  const joined = await join;
  expect(joined).toMatchObject({ error: 'NONE', generationId: 1, leader: a, protocolName: 'range' });
  expect(joined.members).toEqual([{ memberId: a, groupInstanceId: null, metadata: meta(`m-${a}`) }]);
  const synced = await c.sync('g', a, 1, [{ memberId: a, assignment: meta('A') }], now);
  expect(synced).toMatchObject({ error: 'NONE', assignment: meta('A') });
  return { a, gen: 1 };
}

describe('GroupCoordinator', () => {
  it('gives a member id with MEMBER_ID_REQUIRED from JoinGroup v4 on, and joins at once before v4', async () => {
    const c = new GroupCoordinator();
    const { a } = await stableGroupOfOne(c);
    expect(a.startsWith('client-')).toBe(true);
    const old = await c.join('h', joinRequest(''), false, 0);
    expect(old).toMatchObject({ error: 'NONE', generationId: 1 });
    expect(old.leader).toBe(old.memberId);
  });

  it('holds the first member\'s rejoin until the second joins, then both get generation 2 and one leader', async () => {
    const c = new GroupCoordinator();
    const { a } = await stableGroupOfOne(c);
    const { memberId: b, join: bJoin } = await joinNew(c, 'g', 10);
    const held = track(bJoin);
    await flush();
    expect(held.settled).toBe(false);
    expect(c.heartbeat('g', a, 1, 20)).toBe('REBALANCE_IN_PROGRESS');
    const aJoin = await c.join('g', joinRequest(a), true, 30);
    await flush();
    expect(held.settled).toBe(true);
    expect(aJoin).toMatchObject({ error: 'NONE', generationId: 2, leader: a });
    expect(aJoin.members.map((m) => m.memberId)).toEqual([a, b]);
    expect(held.value).toMatchObject({ error: 'NONE', generationId: 2, leader: a, members: [] });

    // The follower's sync waits for the leader's.
    const bSync = track(c.sync('g', b, 2, [], 40));
    await flush();
    expect(bSync.settled).toBe(false);
    expect(c.heartbeat('g', b, 2, 41)).toBe('NONE');
    const aSync = await c.sync('g', a, 2, [{ memberId: a, assignment: meta('A') }, { memberId: b, assignment: meta('B') }], 50);
    await flush();
    expect(aSync.assignment).toEqual(meta('A'));
    expect((bSync.value as SyncResult).assignment).toEqual(meta('B'));
    expect(c.heartbeat('g', a, 1, 60)).toBe('ILLEGAL_GENERATION');
    expect(c.heartbeat('g', 'nobody', 2, 60)).toBe('UNKNOWN_MEMBER_ID');
    expect(c.group('g')!.state).toBe('Stable');
  });

  it('completes a rebalance without the members that did not rejoin within the rebalance timeout', async () => {
    const c = new GroupCoordinator();
    const { a } = await stableGroupOfOne(c);
    const { join: bJoin } = await joinNew(c, 'g', 100);
    const held = track(bJoin);
    // a stays alive by heartbeating but never rejoins.
    for (let t = 9000; t < 30_000; t += 9000) expect(c.heartbeat('g', a, 1, t)).toBe('REBALANCE_IN_PROGRESS');
    c.expire(100 + 29_999);
    await flush();
    expect(held.settled).toBe(false);
    c.expire(100 + 30_000);
    await flush();
    expect(held.value).toMatchObject({ error: 'NONE', generationId: 2 });
    expect(c.group('g')!.hasMember(a)).toBe(false);
    expect(c.heartbeat('g', a, 2, 30_200)).toBe('UNKNOWN_MEMBER_ID');
  });

  it('expires a member whose session times out and rebalances the rest', async () => {
    const c = new GroupCoordinator();
    const { a } = await stableGroupOfOne(c);
    const { memberId: b, join: bJoin } = await joinNew(c, 'g', 0);
    const aJoin = await c.join('g', joinRequest(a), true, 0);
    await bJoin;
    await c.sync('g', a, 2, [], 0);
    // a keeps heartbeating, b goes silent.
    for (let t = 3000; t <= 9000; t += 3000) expect(c.heartbeat('g', a, aJoin.generationId, t)).toBe('NONE');
    c.expire(10_000);
    expect(c.group('g')!.hasMember(b)).toBe(false);
    expect(c.heartbeat('g', a, 2, 10_001)).toBe('REBALANCE_IN_PROGRESS');
    const again = await c.join('g', joinRequest(a), true, 10_002);
    expect(again).toMatchObject({ error: 'NONE', generationId: 3, leader: a });
    expect(again.members.map((m) => m.memberId)).toEqual([a]);
  });

  it('lets a pending member id lapse after the session timeout', async () => {
    const c = new GroupCoordinator();
    const first = await c.join('g', joinRequest(''), true, 0);
    c.expire(10_000);
    const late = await c.join('g', joinRequest(first.memberId), true, 10_001);
    expect(late.error).toBe('UNKNOWN_MEMBER_ID');
  });

  it('rebalances when a member leaves, and goes Empty when the last one leaves', async () => {
    const c = new GroupCoordinator();
    const { a } = await stableGroupOfOne(c);
    const { memberId: b, join: bJoin } = await joinNew(c, 'g', 0);
    await c.join('g', joinRequest(a), true, 0);
    await bJoin;
    await c.sync('g', a, 2, [], 0);
    expect(c.leave('g', a, 5)).toBe('NONE');
    const group = c.group('g')!;
    expect(group.state).toBe('PreparingRebalance');
    const bAgain = await c.join('g', joinRequest(b), true, 6);
    expect(bAgain).toMatchObject({ error: 'NONE', generationId: 3, leader: b });
    expect(c.leave('g', b, 7)).toBe('NONE');
    expect(group.state).toBe('Empty');
    expect(c.leave('g', b, 8)).toBe('UNKNOWN_MEMBER_ID');
    // An empty group takes commits from outside the group protocol again.
    expect(c.checkCommit('g', '', -1, 9)).toBe('NONE');
  });

  it('chooses a protocol every member supports, by vote, and refuses a member with none in common', async () => {
    const c = new GroupCoordinator();
    const both = [
      { name: 'roundrobin', metadata: meta('r') },
      { name: 'range', metadata: meta('g') },
    ];
    const a = await c.join('g', joinRequest('', { protocols: both }), false, 0);
    expect(a.protocolName).toBe('roundrobin');
    const bJoin = c.join('g', joinRequest('', { protocols: [{ name: 'range', metadata: meta('x') }] }), false, 1);
    const aJoin = await c.join('g', joinRequest(a.memberId, { protocols: both }), false, 2);
    const b = await bJoin;
    expect(aJoin.protocolName).toBe('range');
    expect(b.protocolName).toBe('range');
    // The leader gets each member's metadata for the chosen protocol.
    expect(aJoin.members.map((m) => m.metadata.toString())).toEqual(['g', 'x']);
    const odd = await c.join('g', joinRequest('', { protocols: [{ name: 'sticky', metadata: meta('s') }] }), false, 3);
    expect(odd.error).toBe('INCONSISTENT_GROUP_PROTOCOL');
    const wrongType = await c.join('g', joinRequest('', { protocolType: 'connect' }), false, 3);
    expect(wrongType.error).toBe('INCONSISTENT_GROUP_PROTOCOL');
  });

  it('answers a waiting sync with REBALANCE_IN_PROGRESS when a new member arrives before the leader syncs', async () => {
    const c = new GroupCoordinator();
    const { a } = await stableGroupOfOne(c);
    const { memberId: b, join: bJoin } = await joinNew(c, 'g', 0);
    await c.join('g', joinRequest(a), true, 0);
    await bJoin;
    const bSync = c.sync('g', b, 2, [], 1);
    await joinNew(c, 'g', 2);
    expect((await bSync).error).toBe('REBALANCE_IN_PROGRESS');
    expect(c.checkCommit('g', a, 2, 3)).toBe('NONE');
    expect(c.checkCommit('g', a, 1, 3)).toBe('ILLEGAL_GENERATION');
  });

  it('refuses commits while the new assignment is being synced, and from strangers', async () => {
    const c = new GroupCoordinator();
    const { a } = await stableGroupOfOne(c);
    const { join: bJoin } = await joinNew(c, 'g', 0);
    await c.join('g', joinRequest(a), true, 0);
    await bJoin;
    expect(c.checkCommit('g', a, 2, 1)).toBe('REBALANCE_IN_PROGRESS');
    expect(c.checkCommit('g', 'stranger', 2, 1)).toBe('UNKNOWN_MEMBER_ID');
    expect(c.checkCommit('g', '', -1, 1)).toBe('UNKNOWN_MEMBER_ID');
    expect(c.checkCommit('fresh', '', -1, 1)).toBe('NONE');
  });

  it('checks session timeouts and group ids, and answers held requests on close', async () => {
    const c = new GroupCoordinator({ minSessionTimeoutMs: 6000 });
    expect((await c.join('g', joinRequest('', { sessionTimeoutMs: 5999 }), true, 0)).error).toBe('INVALID_SESSION_TIMEOUT');
    expect((await c.join('', joinRequest(''), true, 0)).error).toBe('INVALID_GROUP_ID');
    expect((await c.join('g', joinRequest('ghost'), true, 0)).error).toBe('UNKNOWN_MEMBER_ID');
    const { a } = await stableGroupOfOne(c);
    const { join: bJoin } = await joinNew(c, 'g', 0);
    void a;
    c.close();
    expect((await bJoin).error).toBe('COORDINATOR_NOT_AVAILABLE');
  });

  it('resends the same answer to a member that joins again unchanged while the assignment is synced', async () => {
    const c = new GroupCoordinator();
    const { a } = await stableGroupOfOne(c);
    const { memberId: b, join: bJoin } = await joinNew(c, 'g', 0);
    await c.join('g', joinRequest(a), true, 0);
    const first = await bJoin;
    const again = await c.join('g', joinRequest(b), true, 1);
    expect(again).toEqual(first);
    // In Stable, a follower rejoining unchanged does not cause a rebalance.
    await c.sync('g', a, 2, [], 2);
    expect((await c.join('g', joinRequest(b), true, 3)).generationId).toBe(2);
    expect(c.group('g')!.state).toBe('Stable');
  });
});
