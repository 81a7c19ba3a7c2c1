import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { learnerCaughtUp, planMembership, type LiveMember, type WantedMember } from '../../src/tasks/etcd/members.js';
import { parseEtcdStatus } from '../../src/tasks/etcd/facts.js';
import { parseInventory } from '../../src/inventory/load.js';
import { etcdClient } from '../../src/model/endpoints.js';
import { runStep } from '../../src/run/executor.js';
import type { Step } from '../../src/run/steps.js';
import { fakeSession } from '../support/fake-hosts.js';

const loadInventoryText = (text: string) => parseInventory(text, 'inv.yml');

const peer = (h: string) => `http://192.0.2.${Number(h.slice(1)) + 10}:2380`;
const wanted = (...hosts: string[]): WantedMember[] => hosts.map((h) => ({ host: h, peerUrl: peer(h), hasData: true }));
const member = (h: string, over: Partial<LiveMember> = {}): LiveMember => ({
  id: `id-${h}`,
  name: h,
  peerUrls: [peer(h)],
  clientUrls: [peer(h).replace('2380', '2379')],
  isLearner: false,
  healthy: true,
  detail: 'healthy',
  ...over,
});
const live = (...hosts: string[]) => hosts.map((h) => member(h));

const summary = (p: ReturnType<typeof planMembership>) => ({
  replace: p.replace.map((r) => `${r.label} (${r.why})`),
  add: p.add.map((a) => `${a.host}${a.learner ? ' (learner there)' : ''}`),
  retire: p.retire.map((r) => r.label),
  staying: [...p.staying.keys()],
});

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof HapgError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('not refused');
}

describe('etcd membership plan', () => {
  it('unchanged: nothing to do', () => {
    expect(summary(planMembership('dc1', wanted('s1', 's2', 's3'), live('s1', 's2', 's3'), { allowEven: false }))).toEqual({ replace: [], add: [], retire: [], staying: ['s1', 's2', 's3'] });
  });

  it('3 → 5: two additions in inventory order', () => {
    expect(summary(planMembership('dc1', wanted('s1', 's2', 's3', 's4', 's5'), live('s1', 's2', 's3'), { allowEven: false })).add).toEqual(['s4', 's5']);
  });

  it('a learner a previous run added is reused, not added again', () => {
    const p = planMembership('dc1', wanted('s1', 's2', 's3', 's4'), [...live('s1', 's2', 's3'), member('s4', { isLearner: true, name: '', clientUrls: [], healthy: false, detail: 'never started' })], { allowEven: true });
    expect(summary(p).add).toEqual(['s4 (learner there)']);
  });

  it('5 → 3: running members retire', () => {
    expect(summary(planMembership('dc1', wanted('s1', 's2', 's5'), live('s1', 's2', 's3', 's4', 's5'), { allowEven: false }))).toEqual({ replace: [], add: [], retire: ['s3', 's4'], staying: ['s1', 's2', 's5'] });
  });

  it('a dead member not in the inventory is replaced first, before its successor joins', () => {
    const p = planMembership('dc1', wanted('s1', 's2', 's4'), [...live('s1', 's2'), member('s3', { healthy: false, detail: 'not answering' })], { allowEven: false });
    expect(summary(p)).toEqual({ replace: ['s3 (not in the inventory)'], add: ['s4'], retire: [], staying: ['s1', 's2'] });
  });

  it('a member whose data is gone rejoins anew', () => {
    const p = planMembership('dc1', [...wanted('s1', 's2'), { host: 's3', peerUrl: peer('s3'), hasData: false }], [...live('s1', 's2'), member('s3', { healthy: false, detail: 'not answering' })], { allowEven: false });
    expect(summary(p)).toEqual({ replace: ['s3 (its data is gone)'], add: ['s3'], retire: [], staying: ['s1', 's2'] });
  });

  it.each<[string, WantedMember[], LiveMember[], boolean, RegExp]>([
    ['two members without --allow-even', wanted('s1', 's2'), live('s1', 's2', 's3'), false, /^UNSAFE_OPERATION: etcd cluster dc1 would end with 2 members: /],
    ['a cluster without quorum', wanted('s1', 's2', 's3'), [member('s1'), member('s2', { healthy: false, detail: 'not answering' }), member('s3', { healthy: false, detail: 'not answering' })], false, /^CLUSTER_UNHEALTHY: etcd cluster dc1 has lost quorum \(1 of 3 members healthy; s2: not answering; s3: not answering\)/],
    ['a step below quorum (members that are down stay listed)', wanted('s1', 's2', 's4', 's5'), [...live('s1', 's2', 's3'), member('s4', { healthy: false, detail: 'not answering' }), member('s5', { healthy: false, detail: 'not answering' })], false, /^UNSAFE_OPERATION: etcd cluster dc1: removing s3 would leave 2 healthy of 4 members, below its quorum of 3: nothing was changed$/],
    ['a running member moving to another address', [{ host: 's1', peerUrl: 'http://192.0.2.99:2380', hasData: true }, ...wanted('s2', 's3')], live('s1', 's2', 's3'), false, /^UNSAFE_OPERATION: etcd member s1 of cluster dc1 runs at http:\/\/192\.0\.2\.11:2380, but the inventory gives it http:\/\/192\.0\.2\.99:2380/],
  ])('refuses %s', (_, w, l, allowEven, expected) => {
    expect(refusal(() => planMembership('dc1', w, l, { allowEven }))).toMatch(expected);
  });

  it('two members with --allow-even', () => {
    expect(summary(planMembership('dc1', wanted('s1', 's2'), live('s1', 's2', 's3'), { allowEven: true })).retire).toEqual(['s3']);
  });

  it('a learner is caught up within 10 % of the leader’s log', () => {
    expect(learnerCaughtUp(95, 100)).toBe(true);
    expect(learnerCaughtUp(80, 100)).toBe(false);
  });

  it('parses etcd 3.5 and 3.4 status answers', () => {
    expect(parseEtcdStatus('{"header":{"member_id":"123"},"leader":"456","raftIndex":"120","raftAppliedIndex":"118","isLearner":true}')).toEqual({ memberId: '123', leader: '456', raftIndex: 120, raftAppliedIndex: 118, isLearner: true, errors: [] });
    expect(parseEtcdStatus('{"header":{"member_id":"123"},"leader":"456","raftIndex":"120"}').raftAppliedIndex).toBe(120);
  });
});

describe('membership requests when etcd is slow to commit', () => {
  const loaded = loadInventoryText(
    `hosts:\n  pg1: { address: 192.0.2.11 }\n  pg2: { address: 192.0.2.12 }\n  pg3: { address: 192.0.2.13 }\netcd:\n  dc1: { hosts: [pg1, pg2, pg3] }\nclusters:\n  main: { hosts: [pg1, pg2, pg3] }\n`,
  );

  /** Runs `step` against a member that answers `answers` in turn (the last one repeated). */
  async function answered(step: (client: ReturnType<typeof etcdClient>) => Step, answers: { status: number; body: string }[]) {
    let n = 0;
    const session = fakeSession(loaded, { http: (_h, req) => (req.path.startsWith('/v3/cluster/member/') ? answers[Math.min(n++, answers.length - 1)] : { status: 200, body: '{}' }) });
    const outcome = await runStep(step(etcdClient(session.model, 'dc1')), session);
    return { changed: outcome.changed, requests: n };
  }
  const timedOut = { status: 503, body: '{"code":14, "message":"etcdserver: request timed out"}' };

  it('a promotion whose proposal timed out is retried; finding a voting member then is success, unchanged', async () => {
    expect(await answered((c) => c.memberPromote('pg1', '42', 'promote'), [timedOut, { status: 400, body: '{"code":9, "message":"etcdserver: can only promote a learner member"}' }])).toEqual({ changed: false, requests: 2 });
    expect(await answered((c) => c.memberPromote('pg1', '42', 'promote'), [timedOut, { status: 200, body: '{}' }])).toEqual({ changed: true, requests: 2 });
  });

  it('an addition whose proposal timed out is retried; finding the peer URL there then is success, unchanged', async () => {
    expect(await answered((c) => c.memberAddLearner('pg1', 'https://192.0.2.14:2380', 'add'), [timedOut, { status: 400, body: '{"code":9, "message":"etcdserver: Peer URLs already exists"}' }])).toEqual({ changed: false, requests: 2 });
  });

  it('any other refusal fails the step at once', async () => {
    await expect(answered((c) => c.memberPromote('pg1', '42', 'promote'), [{ status: 400, body: '{"code":9, "message":"etcdserver: member not found"}' }])).rejects.toThrow(/answered 400/);
  });
});
