// A running etcd cluster's members as hapg finds them, and the blocks that change them: a
// learner added, started and promoted one at a time; a member that is down removed before its
// replacement joins; a member that still runs removed last (its leadership handed over first),
// then stopped and its data moved aside.
import { fileContent, fileStates, type RemoteFileState } from '../../facts/files.js';
import { serviceStates, type ServiceState } from '../../facts/services.js';
import type { CommandFact, Fact } from '../../facts/fact.js';
import { HapgError } from '../../errors.js';
import { etcdClient, type EtcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { service, wait, type PlanItem, type WaitStep } from '../../run/steps.js';
import type { Session } from '../../run/session.js';
import type { Block, StageContext } from '../../stages/stage.js';
import { moveAside } from '../move-aside.js';
import { ETCD_ENV_PATH, etcdClusterOfEnvFile, etcdPeerUrl, type EtcdInitialCluster } from './context.js';
import { learnerCaughtUp, memberLabel, memberOf, planMembership, type LiveMember, type MemberAddition, type MemberRemoval, type MembershipPlan, type WantedMember } from './members.js';
import type { EtcdHealth, EtcdMember } from './facts.js';
import { etcdEnvFile } from './plan.js';

/** Whether an etcd data directory holds a member (`member/` exists): it started before. */
export function etcdData(dataDir: string): CommandFact<boolean> {
  return { id: `etcd-data:${dataDir}`, argv: ['test', '-d', `${dataDir}/member`], sudo: true, parse: (r) => r.exitCode === 0 };
}

/** What hapg reads on a host that runs (or ran) an etcd member. */
export interface EtcdHostFacts {
  envFile: RemoteFileState | null | undefined;
  envContent: string;
  service: ServiceState | undefined;
  hasData: boolean;
}

export async function etcdHostFacts(session: Session, host: string, dataDir: string, fresh = false): Promise<EtcdHostFacts> {
  const ask = <T>(f: Fact<T>) => (fresh ? session.facts.fresh(host, f) : session.facts.get(host, f));
  const [files, content, services, hasData] = await Promise.all([ask(fileStates([ETCD_ENV_PATH])), ask(fileContent(ETCD_ENV_PATH)), ask(serviceStates(['etcd'])), ask(etcdData(dataDir))]);
  return { envFile: files.get(ETCD_ENV_PATH), envContent: content, service: services.get('etcd'), hasData };
}

/** A running (or not) etcd cluster as hapg finds it. */
export interface EtcdView {
  name: string;
  client: EtcdClient;
  /** The live members with their health; undefined when no member of the inventory answers. */
  live: LiveMember[] | undefined;
  /** An inventory host whose etcd is a healthy voting member: membership requests go there. */
  asker: string | undefined;
  /** The raft leader's member ID. */
  leaderId: string | undefined;
  /** Facts of the inventory's member hosts. */
  hosts: Map<string, EtcdHostFacts>;
  /** The inventory's members, with their data. */
  wanted: WantedMember[];
  /** Each inventory member's own health (undefined: not answering). */
  own: Map<string, EtcdHealth | undefined>;
}

const urlParts = (url: string): { address: string; port: number } | undefined => {
  try {
    const u = new URL(url);
    return { address: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
  } catch {
    return undefined;
  }
};

/** Reads the cluster afresh: every inventory member's host, the member list, each member's health, the leader. */
export async function etcdView(session: Session, model: DesiredState, name: string): Promise<EtcdView> {
  const client = etcdClient(model, name);
  const spec = model.inventory.etcd[name]!;
  const hosts = new Map(await Promise.all(client.hosts.map(async (h) => [h, await etcdHostFacts(session, h, spec.data_dir, true)] as const)));
  const wanted = client.hosts.map((h) => ({ host: h, peerUrl: etcdPeerUrl(model.inventory, name, h), hasData: hosts.get(h)!.hasData }));
  const own = new Map(await Promise.all(client.hosts.map(async (h) => [h, await session.facts.fresh(h, client.health()).catch(() => undefined)] as const)));
  let listed: EtcdMember[] | undefined;
  let from: string | undefined;
  for (const h of client.hosts.filter((h) => own.get(h)?.healthy)) {
    listed = await session.facts.fresh(h, client.members()).catch(() => undefined);
    if (listed) {
      from = h;
      break;
    }
  }
  if (!listed || !from) return { name, client, live: undefined, asker: undefined, leaderId: undefined, hosts, wanted, own };
  const asker0 = from;
  const live = await Promise.all(
    listed.map(async (m): Promise<LiveMember> => {
      const host = client.hosts.includes(m.name) ? m.name : model.inventory.hosts[m.name] && session.remotes.has(m.name) ? m.name : undefined;
      const at = m.clientUrls[0] ? urlParts(m.clientUrls[0]) : undefined;
      const health = host
        ? host === asker0 || own.has(host)
          ? own.get(host)
          : await session.facts.fresh(host, client.health()).catch(() => undefined)
        : at
          ? await session.facts.fresh(asker0, client.healthAt(at.address, at.port)).catch(() => undefined)
          : undefined;
      // A member whose host hapg cannot reach either (powered off, taken out of hosts:) is unreachable.
      const detail = !m.name && m.clientUrls.length === 0 ? 'never started' : health ? health.detail : host && session.remotes.has(host) ? 'not answering' : 'unreachable';
      return { ...m, healthy: health?.healthy === true, detail: health?.healthy ? 'healthy' : detail };
    }),
  );
  const voting = (h: string) => live.some((m) => m.name === h && !m.isLearner && m.healthy);
  const asker = client.hosts.find((h) => voting(h) && session.remotes.has(h));
  const status = asker ? await session.facts.fresh(asker, client.status()).catch(() => undefined) : undefined;
  return { name, client, live, asker, leaderId: status?.leader, hosts, wanted, own };
}

/** The membership plan of a running cluster (refusals raised here), or undefined when it is not running. */
export function membershipOf(view: EtcdView, opts: { allowEven: boolean }): MembershipPlan | undefined {
  return view.live ? planMembership(view.name, view.wanted, view.live, opts) : undefined;
}

/**
 * A member that still runs must be stopped once removed: hapg must reach its host. One it
 * cannot reach (not under hosts:, or down for SSH while etcd answers) is refused.
 */
export function assertRetirable(session: Session, view: EtcdView, plan: MembershipPlan): void {
  for (const r of plan.retire) {
    if (!reachableHostOf(session, r.member)) {
      throw new HapgError(
        'UNSAFE_OPERATION',
        `etcd member ${r.label} still runs, but hapg cannot reach its host${session.model.inventory.hosts[r.member.name] ? '' : ' (it is not under hosts:)'}: removed from cluster ${view.name} without being stopped, it would keep its data and start again at boot`,
        { hint: `keep ${r.label} under hosts: (with no role) until hapg has removed it, or stop its etcd for good first` },
      );
    }
  }
}

/** The inventory host a live member runs on, when hapg can reach it. */
export function reachableHostOf(session: Session, member: LiveMember): string | undefined {
  return member.name && session.model.inventory.hosts[member.name] && session.remotes.has(member.name) ? member.name : undefined;
}

/**
 * Where a promotion is asked: the raft leader's host when hapg reaches it, else the member it
 * reads from. A follower forwards a promotion to the leader without the caller's login, so
 * with authentication on the leader refuses it and the follower answers "request timed out"
 * (etcd issue 20757, fixed after the etcd releases Debian ships).
 */
function promoterOf(session: Session, view: EtcdView): string {
  const leader = view.live?.find((m) => m.id === view.leaderId);
  return (leader && reachableHostOf(session, leader)) ?? view.asker!;
}

/** The member with this ID has left the list every healthy inventory member reads. */
function waitForMemberGone(model: DesiredState, name: string, id: string, label: string, timeoutMs = 60_000): WaitStep {
  const client = etcdClient(model, name);
  return wait(
    client.hosts[0]!,
    `${label} gone from etcd cluster ${name}'s member list`,
    async (facts) => {
      for (const h of client.hosts) {
        if (!(await facts.fresh(h, client.health()).catch(() => undefined))?.healthy) continue;
        const list = await facts.fresh(h, client.members()).catch(() => undefined);
        if (!list) continue;
        const still = list.some((m) => m.id === id);
        return { done: !still, status: still ? `${h} still lists ${label}` : `members ${list.map(memberLabel).join(', ')}` };
      }
      return { done: false, status: 'no member of the inventory answers' };
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** `host` is a healthy voting member (no longer a learner). */
function waitForVoter(model: DesiredState, name: string, host: string, timeoutMs = 60_000): WaitStep {
  const client = etcdClient(model, name);
  return wait(
    host,
    `${host} a healthy voting member of etcd cluster ${name}`,
    async (facts) => {
      const health = await facts.fresh(host, client.health()).catch(() => undefined);
      const list = await facts.fresh(host, client.members()).catch(() => undefined);
      const me = list?.find((m) => m.name === host);
      const done = health?.healthy === true && me !== undefined && !me.isLearner;
      return { done, status: !me ? 'not in the member list' : me.isLearner ? 'still a learner' : health?.healthy ? 'healthy' : (health?.detail ?? 'not answering') };
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** The learner on `host` has caught up with the leader's log (what etcd requires to promote it). */
function waitForLearner(model: DesiredState, name: string, host: string, asker: string, timeoutMs = 120_000): WaitStep {
  const client = etcdClient(model, name);
  return wait(
    host,
    `learner ${host} to catch up with etcd cluster ${name}'s log`,
    async (facts) => {
      const mine = await facts.fresh(host, client.status()).catch(() => undefined);
      if (!mine) return { done: false, status: `${host}: etcd not answering` };
      const theirs = await facts.fresh(asker, client.status()).catch(() => undefined);
      if (!theirs) return { done: false, status: `${asker}: etcd not answering` };
      const done = learnerCaughtUp(mine.raftAppliedIndex, theirs.raftIndex) && mine.errors.length === 0;
      return { done, status: `applied ${mine.raftAppliedIndex} of ${theirs.raftIndex}${mine.errors.length ? `; ${mine.errors.join('; ')}` : ''}` };
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** The members named in a member list, the way `ETCD_INITIAL_CLUSTER` lists them (a joining member by its host name). */
function initialClusterOf(live: readonly LiveMember[], joining: MemberAddition): EtcdInitialCluster {
  const entries = live
    .filter((m) => !(m.name === joining.host || (m.name === '' && m.peerUrls.includes(joining.peerUrl))))
    .map((m) => `${m.name}=${m.peerUrls[0] ?? ''}`);
  return { cluster: [...entries, `${joining.host}=${joining.peerUrl}`].join(','), state: 'existing' };
}

/** Refuses a step whose quorum check fails on fresh facts (deploy re-plans each membership block right before it runs). */
async function recheck(ctx: StageContext, model: DesiredState, name: string): Promise<EtcdView & { plan: MembershipPlan }> {
  const view = await etcdView(ctx.session, model, name);
  const plan = membershipOf(view, { allowEven: ctx.options.allowEven ?? false });
  if (!plan || !view.asker) throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${name}: no healthy member of the inventory answers; membership changes stopped`);
  return { ...view, plan };
}

const removalTitle = (name: string, r: MemberRemoval) => `remove member ${r.label} from etcd cluster ${name} (${r.why}${r.member.healthy ? '' : `; ${r.member.detail}`})`;

/**
 * The dcs-phase blocks of a running cluster: members that are down removed (quorum checked
 * first, each on its own), then every new member joins as a learner, is promoted once caught up
 * and is healthy before the next one is added.
 */
export function joinBlocks(ctx: StageContext, model: DesiredState, view: EtcdView, plan: MembershipPlan, stamp: string): { blocks: Block[]; notes: string[] } {
  const { name, client } = view;
  const dataDir = model.inventory.etcd[name]!.data_dir;
  const blocks: Block[] = [];
  const notes: string[] = [];
  let members = view.live!.map(memberLabel);
  const asker = view.asker!;
  for (const r of plan.replace) {
    members = members.filter((m) => m !== r.label);
    const host = reachableHostOf(ctx.session, r.member);
    const items: PlanItem[] = [client.memberRemove(asker, r.member.id, removalTitle(name, r))];
    blocks.push({
      items,
      waits: [waitForMemberGone(model, name, r.member.id, r.label)],
      says: `replace ${r.label} (${r.member.detail})`,
      replan: async (run) => {
        const fresh = await recheck(run, model, name);
        const still = fresh.live!.find((m) => m.id === r.member.id);
        return { items: still ? [client.memberRemove(fresh.asker!, r.member.id, removalTitle(name, r))] : [] };
      },
    });
    if (host) blocks.push({ items: [service(host, 'etcd', 'stopped', false), moveAside(host, dataDir, stamp)] });
    notes.push(`replace ${r.label} (${r.member.detail}): remove it from etcd cluster ${name} first, with quorum checked; ${host ? `stop its etcd and move its data aside` : 'its host is not reachable and is left as it is'}`);
  }
  for (const a of plan.add) {
    const before = [...members];
    members = [...members.filter((m) => m !== a.host), a.host];
    const facts = view.hosts.get(a.host)!;
    const joinItems = (live: readonly LiveMember[]): PlanItem[] => [
      ...(facts.hasData ? [moveAside(a.host, dataDir, stamp)] : []),
      etcdEnvFile(model.inventory, name, a.host, initialClusterOf(live, a)),
      service(a.host, 'etcd', 'started', true),
    ];
    // What plan predicts: the members now, plus the ones this run adds before this one (deploy re-reads the list).
    const joinedEarlier = plan.add.slice(0, plan.add.indexOf(a)).filter((e) => !view.live!.some((m) => m.name === e.host));
    const predicted: LiveMember[] = [
      ...view.live!.filter((m) => before.includes(memberLabel(m))),
      ...joinedEarlier.map((e): LiveMember => ({ id: '', name: e.host, peerUrls: [e.peerUrl], clientUrls: [], isLearner: false, healthy: true, detail: 'healthy' })),
    ];
    const addTitle = `add ${a.host} to etcd cluster ${name} as a learner (${a.peerUrl})`;
    const addStep = client.memberAddLearner(asker, a.peerUrl, addTitle);
    if (!a.learner) {
      blocks.push({
        items: [addStep],
        replan: async (run) => {
          const fresh = await recheck(run, model, name);
          return { items: memberOf(fresh.live!, a) ? [] : [client.memberAddLearner(fresh.asker!, a.peerUrl, addTitle)] };
        },
      });
    }
    const started = a.learner?.name === a.host;
    blocks.push({
      items: started ? [] : joinItems(predicted),
      waits: [waitForLearner(model, name, a.host, asker)],
      says: `start ${a.host} as a learner of etcd cluster ${name}`,
      replan: async (run) => {
        const fresh = await recheck(run, model, name);
        const learner = memberOf(fresh.live!, a);
        if (!learner) throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${name}: ${a.host} is not in the member list after it was added`, { host: a.host });
        const running = learner.name === a.host && learner.healthy;
        return { items: running ? [] : joinItems(fresh.live!), waits: [waitForLearner(model, name, a.host, fresh.asker!)] };
      },
    });
    const promoteTitle = `promote learner ${a.host} to a voting member of etcd cluster ${name}`;
    blocks.push({
      items: [client.memberPromote(promoterOf(ctx.session, view), a.learner?.id ?? '(its new ID)', promoteTitle)],
      waits: [waitForVoter(model, name, a.host)],
      replan: async (run) => {
        const fresh = await recheck(run, model, name);
        const learner = memberOf(fresh.live!, a);
        if (!learner) throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${name}: ${a.host} left the member list before its promotion`, { host: a.host });
        return { items: learner.isLearner ? [client.memberPromote(promoterOf(run.session, fresh), learner.id, promoteTitle)] : [] };
      },
    });
    notes.push(
      `add ${a.host} to etcd cluster ${name}: ${a.learner ? `its learner (added before) ${started ? 'runs' : 'starts'}` : 'as a learner'} with an empty data directory and initial-cluster-state existing; promoted once it has caught up, healthy before the next step`,
    );
  }
  return { blocks, notes };
}

/**
 * The retire-phase blocks: each member that still runs but left the inventory is removed in
 * turn (quorum checked on fresh facts; its raft leadership handed to a staying member first, so
 * no election is needed), then its etcd is stopped and disabled and its data moved aside.
 */
export function retireBlocks(ctx: StageContext, model: DesiredState, view: EtcdView, plan: MembershipPlan, stamp: string): { blocks: Block[]; notes: string[] } {
  const { name, client } = view;
  const dataDir = model.inventory.etcd[name]!.data_dir;
  const asker = view.asker!;
  const blocks: Block[] = [];
  const notes: string[] = [];
  // The raft leader leaves last: one leadership move at most.
  const order = [...plan.retire].sort((a, b) => Number(a.member.id === view.leaderId) - Number(b.member.id === view.leaderId));
  for (const r of order) {
    const host = reachableHostOf(ctx.session, r.member)!;
    const target = [...plan.staying.values()].find((m) => m.healthy);
    if (r.member.id === view.leaderId && target) {
      blocks.push({
        items: [client.moveLeader(host, target.id, `hand etcd cluster ${name}'s leadership from ${r.label} to ${target.name}`)],
        waits: [waitForLeaderNot(model, name, r.member.id, asker)],
        replan: async (run) => {
          const fresh = await recheck(run, model, name);
          const staying = [...fresh.plan.staying.values()].find((m) => m.healthy);
          const leads = fresh.leaderId === r.member.id;
          return {
            items: leads && staying ? [client.moveLeader(host, staying.id, `hand etcd cluster ${name}'s leadership from ${r.label} to ${staying.name}`)] : [],
            waits: [waitForLeaderNot(model, name, r.member.id, fresh.asker!)],
          };
        },
      });
    }
    blocks.push({
      items: [client.memberRemove(asker, r.member.id, removalTitle(name, r))],
      waits: [waitForMemberGone(model, name, r.member.id, r.label)],
      says: `remove ${r.label} from etcd cluster ${name}`,
      replan: async (run) => {
        const fresh = await recheck(run, model, name);
        const still = fresh.live!.find((m) => m.id === r.member.id);
        return { items: still ? [client.memberRemove(fresh.asker!, r.member.id, removalTitle(name, r))] : [], waits: [waitForMemberGone(model, name, r.member.id, r.label)] };
      },
    });
    blocks.push({ items: [service(host, 'etcd', 'stopped', false), moveAside(host, dataDir, stamp)] });
    notes.push(
      `remove ${r.label} from etcd cluster ${name} (quorum checked first${r.member.id === view.leaderId ? '; it leads, so its leadership moves first' : ''}), then stop its etcd for good and move its data aside; Patroni already lists only the remaining members`,
    );
  }
  return { blocks, notes };
}

function waitForLeaderNot(model: DesiredState, name: string, id: string, asker: string): WaitStep {
  const client = etcdClient(model, name);
  return wait(
    asker,
    `etcd cluster ${name} led by another member`,
    async (facts) => {
      const s = await facts.fresh(asker, client.status()).catch(() => undefined);
      return { done: !!s && s.leader !== '0' && s.leader !== id, status: s ? `leader ${s.leader}` : 'not answering' };
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

/**
 * Hosts under hosts: that ran a member of this cluster and no longer are members (a previous
 * run removed it and stopped before cleaning up, or the member was removed by hand): their etcd
 * is stopped for good and their data moved aside.
 */
export async function leftoverHosts(session: Session, model: DesiredState, view: EtcdView): Promise<string[]> {
  const dataDir = model.inventory.etcd[view.name]!.data_dir;
  const members = new Set((view.live ?? []).map((m) => m.name));
  const candidates = Object.keys(model.inventory.hosts).filter((h) => !view.client.hosts.includes(h) && !members.has(h) && session.remotes.has(h));
  const found = await Promise.all(
    candidates.map(async (h) => {
      const content = await session.facts.get(h, fileContent(ETCD_ENV_PATH)).catch(() => '');
      if (etcdClusterOfEnvFile(content) !== view.name) return undefined;
      const facts = await etcdHostFacts(session, h, dataDir);
      const active = facts.service?.active === 'active' || facts.service?.enabled === 'enabled';
      return active || facts.hasData ? h : undefined;
    }),
  );
  return found.filter((h): h is string => h !== undefined);
}
