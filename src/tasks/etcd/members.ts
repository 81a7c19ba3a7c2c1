// Who belongs to a running etcd cluster and how it gets from the members it has to the hosts
// the inventory lists: pure functions of the live member list and the inventory, shared by
// the gate (refusals before anything changes), `plan` and `deploy`.
import { HapgError } from '../../errors.js';
import type { EtcdMember } from './facts.js';
import { quorumOf } from './health.js';

/** A member of the live cluster with its own health (asked on its host, or from a peer at its client URL). */
export interface LiveMember extends EtcdMember {
  healthy: boolean;
  /** Why it is not healthy ("not answering", "never started", etcd's reason); "healthy" otherwise. */
  detail: string;
}

/** A host the inventory lists as a member. */
export interface WantedMember {
  host: string;
  peerUrl: string;
  /** Its data directory holds a member (it started before). */
  hasData: boolean;
}

export interface MemberRemoval {
  member: LiveMember;
  /** How plan and errors name it: its name, or its peer URL when it never started. */
  label: string;
  /** Why it goes: "not in the inventory", "its data is gone", "its address changed". */
  why: string;
}

export interface MemberAddition {
  host: string;
  peerUrl: string;
  /** The learner a previous run added (started or not): added again only when absent. */
  learner: LiveMember | undefined;
}

/**
 * The membership changes of one etcd cluster, in the order deploy makes them: members that are
 * down leave first (they serve no client; a replacement takes their place), then new members
 * join one at a time, then members that still run leave one at a time, last, once every client
 * has been pointed at the others.
 */
export interface MembershipPlan {
  replace: MemberRemoval[];
  add: MemberAddition[];
  retire: MemberRemoval[];
  /** Inventory hosts already voting members, by host. */
  staying: Map<string, LiveMember>;
  /** Staying members whose peer URL changes scheme only (a conversion to TLS): the URL each gets. */
  rescheme: Map<string, string>;
}

/** A URL without its scheme (`http://a:2380` and `https://a:2380` are the same place). */
const place = (url: string) => url.replace(/^[a-z]+:\/\//, '');

export const memberLabel = (m: EtcdMember) => m.name || m.peerUrls[0] || `ID ${m.id}`;

/** Whether the plan changes anything. */
export const changesMembership = (p: MembershipPlan) => p.replace.length + p.add.length + p.retire.length > 0;

/** The live member that is this inventory host: by name, or by peer URL for one that never started. */
export function memberOf(live: readonly LiveMember[], wanted: Pick<WantedMember, 'host' | 'peerUrl'>): LiveMember | undefined {
  return live.find((m) => m.name === wanted.host) ?? live.find((m) => m.name === '' && m.peerUrls.includes(wanted.peerUrl));
}

/**
 * Plans the changes from `live` to `wanted`, checking quorum at every intermediate step, and
 * refuses (one line, nothing changed) what cannot be done safely: a cluster without quorum, a
 * step that would lose it, a result of two members without `allowEven`, a running member that
 * would have to change its address.
 */
export function planMembership(name: string, wanted: readonly WantedMember[], live: readonly LiveMember[], opts: { allowEven: boolean }): MembershipPlan {
  const voters = live.filter((m) => !m.isLearner);
  const healthyVoters = voters.filter((m) => m.healthy);
  if (healthyVoters.length < quorumOf(voters.length)) {
    throw new HapgError(
      'CLUSTER_UNHEALTHY',
      `etcd cluster ${name} has lost quorum (${healthyVoters.length} of ${voters.length} members healthy; ${voters.filter((m) => !m.healthy).map((m) => `${memberLabel(m)}: ${m.detail}`).join('; ')}): its membership cannot change`,
      { hint: 'bring the failed etcd members back before deploying' },
    );
  }
  const replace: MemberRemoval[] = [];
  const add: MemberAddition[] = [];
  const retire: MemberRemoval[] = [];
  const staying = new Map<string, LiveMember>();
  const rescheme = new Map<string, string>();
  const matched = new Set<LiveMember>();
  for (const w of wanted) {
    const m = memberOf(live, w);
    if (m) matched.add(m);
    if (m && !m.isLearner && m.peerUrls.length === 1 && !m.peerUrls.includes(w.peerUrl) && place(m.peerUrls[0]!) === place(w.peerUrl)) {
      // Same address, other scheme: the member stays and its peer URL is updated in place.
      staying.set(w.host, m);
      rescheme.set(w.host, w.peerUrl);
    } else if (m && !m.peerUrls.includes(w.peerUrl)) {
      if (m.healthy) {
        throw new HapgError(
          'UNSAFE_OPERATION',
          `etcd member ${w.host} of cluster ${name} runs at ${m.peerUrls.join(', ')}, but the inventory gives it ${w.peerUrl}: hapg does not move a running member to another address`,
          { hint: `stop etcd on the old machine first (hapg then replaces the member), or keep its old address in hosts.${w.host}.address` },
        );
      }
      replace.push({ member: m, label: memberLabel(m), why: `its address changed to ${w.peerUrl}` });
      add.push({ host: w.host, peerUrl: w.peerUrl, learner: undefined });
    } else if (m && !m.isLearner && !m.healthy && !w.hasData) {
      // Its disk was replaced (or wiped): a member cannot come back without its data; it joins anew.
      replace.push({ member: m, label: memberLabel(m), why: 'its data is gone' });
      add.push({ host: w.host, peerUrl: w.peerUrl, learner: undefined });
    } else if (m && !m.isLearner) {
      staying.set(w.host, m);
    } else {
      add.push({ host: w.host, peerUrl: w.peerUrl, learner: m });
    }
  }
  for (const m of live.filter((l) => !matched.has(l))) {
    const removal = { member: m, label: memberLabel(m), why: 'not in the inventory' };
    (m.healthy ? retire : replace).push(removal);
  }
  // A learner leaves without touching quorum; a voting member that is down leaves first.
  replace.sort((a, b) => Number(b.member.isLearner) - Number(a.member.isLearner));

  const plan: MembershipPlan = { replace, add, retire, staying, rescheme };
  if (changesMembership(plan) && wanted.length === 2 && !opts.allowEven) {
    throw new HapgError(
      'UNSAFE_OPERATION',
      `etcd cluster ${name} would end with 2 members: two members tolerate no failure (no better than one), and losing either stops every Patroni cluster on it`,
      { hint: `list 3 (or 1) hosts under etcd.${name}.hosts, or re-run with --allow-even` },
    );
  }
  let v = voters.length;
  let h = healthyVoters.length;
  const check = (step: string) => {
    if (h < quorumOf(v)) {
      throw new HapgError('UNSAFE_OPERATION', `etcd cluster ${name}: ${step} would leave ${h} healthy of ${v} members, below its quorum of ${quorumOf(v)}: nothing was changed`, {
        hint: 'bring the failed etcd members back first, or change the membership in smaller steps',
      });
    }
  };
  for (const r of replace) {
    if (r.member.isLearner) continue;
    v -= 1;
    check(`removing ${r.label}`);
  }
  v += add.length;
  h += add.length;
  for (const r of retire) {
    if (r.member.isLearner) continue;
    v -= 1;
    h -= 1;
    check(`removing ${r.label}`);
  }
  return plan;
}

/** Whether a learner has caught up enough for etcd to promote it: its log within 10 % of the leader's (etcd's own rule). */
export function learnerCaughtUp(learnerApplied: number, leaderCommitted: number): boolean {
  return learnerApplied >= leaderCommitted * 0.9;
}
