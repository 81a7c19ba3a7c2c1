// PostgreSQL hosts that left a cluster's inventory: the leader hands over first (verified),
// then each leaving member's Patroni stops for good, its member key goes (Patroni then drops
// its slot on the leader: waited for), and its data is moved aside. Runs in the cluster phase
// before the cluster's own stage, so HAProxy and keepalived (edge phase) are reloaded without
// the host only once it no longer leads.
import { HapgError } from '../../errors.js';
import { etcdClient, patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import type { Session } from '../../run/session.js';
import { service, wait, type WaitStep } from '../../run/steps.js';
import { notesOnly, type Block, type Stage } from '../../stages/stage.js';
import { asideStamp, moveAside } from '../move-aside.js';
import { slotState } from '../standby/facts.js';
import { memberStates, pgData } from './facts.js';
import { fileContent } from '../../facts/files.js';
import { serviceStates } from '../../facts/services.js';
import { switchoverCandidate } from './member-health.js';
import { PATRONI_CONFIG_PATH, PATRONI_NAMESPACE } from './model.js';
import type { ClusterMember } from './rest.js';
import { waitForLeader } from './waits.js';

/** The live members of a cluster as the first answering inventory member sees them (undefined: none answers). */
export async function liveClusterMembers(session: Session, model: DesiredState, name: string, fresh = false): Promise<ClusterMember[] | undefined> {
  const api = patroniApi(model, name);
  for (const host of model.inventory.clusters[name]!.hosts.filter((h) => session.remotes.has(h))) {
    const view = await (fresh ? session.facts.fresh(host, api.clusterView(host)) : session.facts.get(host, api.clusterView(host))).catch(() => undefined);
    if (view) return view.members;
  }
  return undefined;
}

/** Members Patroni lists that the inventory no longer does. */
export async function leavingMembers(session: Session, model: DesiredState, name: string): Promise<ClusterMember[]> {
  const hosts = model.inventory.clusters[name]!.hosts;
  return ((await liveClusterMembers(session, model, name)) ?? []).filter((m) => !hosts.includes(m.name));
}

/** Patroni's physical slot name for a member (its name, lower case, other characters as `_`). */
export const memberSlotName = (member: string) => member.toLowerCase().replace(/[^a-z0-9_]/g, '_');

function waitForSlotGone(model: DesiredState, name: string, member: string): WaitStep {
  const spec = model.inventory.clusters[name]!;
  const slot = memberSlotName(member);
  return wait(
    spec.hosts[0]!,
    `slot ${slot} gone from the leader of ${name}`,
    async (facts) => {
      const states = await memberStates(facts, model, name);
      const leader = [...states].find(([, s]) => s?.role === 'leader')?.[0];
      if (!leader) return { done: false, status: 'no running leader' };
      const state = await facts.fresh(leader, slotState(spec.postgres.port, slot));
      return { done: state === undefined, status: state ? `still on ${leader}${state.active ? ' (active)' : ''}` : `gone on ${leader}` };
    },
    { timeoutMs: (spec.patroni.loop_wait * 3 + 30) * 1000 },
  );
}

function waitForStopped(session: Session, model: DesiredState, host: string, name: string): WaitStep {
  return wait(
    host,
    `${host} stopped or gone among the members of ${name}`,
    async () => {
      const members = await liveClusterMembers(session, model, name, true);
      const still = members?.find((m) => m.name === host);
      return { done: members !== undefined && (!still || still.state === 'stopped'), status: still ? `listed, ${still.state}` : members ? 'gone' : 'no member answers' };
    },
    { timeoutMs: 120_000 },
  );
}

/**
 * The leave stage of one cluster: nothing when Patroni lists no member the inventory dropped.
 * Refused with one line: a leaving host hapg cannot reach, or a cluster whose synchronous mode
 * would be left without a synchronous standby.
 */
export function patroniLeaveStage(model: DesiredState, name: string): Stage {
  const spec = model.inventory.clusters[name]!;
  const scope = model.cluster(name).scope;
  return {
    id: `patroni-leave:${name}`,
    title: `Patroni cluster ${name}: members leaving`,
    async plan(ctx) {
      const { session } = ctx;
      const leaving = await leavingMembers(session, model, name);
      const leftovers = await leftoverHosts(session, model, name, leaving);
      if (leaving.length === 0 && leftovers.length === 0) return notesOnly();
      for (const m of leaving) {
        if (!model.inventory.hosts[m.name] || !session.remotes.has(m.name)) {
          throw new HapgError('UNSAFE_OPERATION', `cluster ${name}: member ${m.name} left the inventory, but hapg cannot reach its host${model.inventory.hosts[m.name] ? '' : ' (it is not under hosts:)'} to stop its Patroni`, {
            hint: `keep ${m.name} under hosts: (with no role) until hapg has removed it, or stop its Patroni for good first`,
          });
        }
      }
      if ((spec.patroni.synchronous_mode || spec.patroni.synchronous_mode_strict) && spec.hosts.length < 2) {
        throw new HapgError('UNSAFE_OPERATION', `cluster ${name} runs synchronous_mode: removing ${leaving.map((m) => m.name).join(', ')} would leave it no synchronous standby`, {
          hint: 'add a replica first, or turn synchronous_mode off in the inventory and deploy before removing the host',
        });
      }
      const api = patroniApi(model, name, ctx.secrets);
      const etcd = etcdClient(model, spec.etcd);
      const stamp = asideStamp();
      const blocks: Block[] = [];
      const notes: string[] = [];
      const standbyLeader = leaving.find((m) => m.role === 'standby_leader');
      if (standbyLeader) {
        throw new HapgError('UNSAFE_OPERATION', `cluster ${name}: ${standbyLeader.name} is its standby leader and left the inventory: hapg does not remove a standby leader`, {
          hint: `switch the standby leader to another member first (patronictl switchover), then deploy`,
        });
      }
      const leader = leaving.find((m) => m.role === 'leader');
      if (leader) {
        // The leaving leader's own state too: it names the replicas streaming from it and their lag.
        const states = await memberStates(session.facts, model, name);
        states.set(leader.name, await session.facts.fresh(leader.name, patroniApi(model, name).state(leader.name)).catch(() => undefined));
        const candidate = switchoverCandidate(states, model.inventory, spec, leader.name);
        if (!candidate) {
          throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name}: the leader ${leader.name} leaves, but no healthy replica of the inventory can take over${spec.patroni.synchronous_mode ? ' (synchronous_mode: it must be the synchronous standby)' : ''}`);
        }
        blocks.push({
          items: [api.switchover(leader.name, candidate)],
          waits: [waitForLeader(model, name, candidate)],
          says: `switch over from ${leader.name} to ${candidate} (${leader.name} leaves)`,
        });
        notes.push(`switch over from ${leader.name} to ${candidate} first (${leader.name} leads cluster ${name} and leaves) and wait until ${candidate} leads`);
      }
      const asker = etcd.hosts.find((h) => session.remotes.has(h)) ?? etcd.hosts[0]!;
      const retention = await slotRetention(session, model, name);
      for (const m of leaving) {
        const memberKey = `${PATRONI_NAMESPACE}${scope}/members/${m.name}`;
        blocks.push({ items: [service(m.name, 'patroni', 'stopped', false)], waits: [waitForStopped(session, model, m.name, name)] });
        const slot = memberSlotName(m.name);
        blocks.push({ items: [etcd.deleteKeyStep(asker, memberKey, `delete ${m.name}'s member key ${memberKey}`)], waits: retention ? [] : [waitForSlotGone(model, name, m.name)] });
        blocks.push({ items: [moveAside(m.name, spec.postgres.data_dir, stamp), ...(spec.postgres.wal_dir ? [moveAside(m.name, spec.postgres.wal_dir, stamp)] : [])] });
        notes.push(
          `remove ${m.name} from cluster ${name}: stop its Patroni for good, delete its member key, ${
            retention
              ? `(Patroni ${retention.version} keeps slot ${slot} on the leader for member_slots_ttl ${retention.ttl} after the member left, then drops it)`
              : `wait until the leader has dropped slot ${slot}`
          }, move its data aside; HAProxy and keepalived are reloaded without it afterwards`,
        );
      }
      if (leftovers.length) {
        const stamp2 = stamp;
        blocks.push({
          items: leftovers.flatMap((h) => [service(h, 'patroni', 'stopped', false), moveAside(h, spec.postgres.data_dir, stamp2), ...(spec.postgres.wal_dir ? [moveAside(h, spec.postgres.wal_dir, stamp2)] : [])]),
        });
        notes.push(...leftovers.map((h) => `${h} is no longer a member of cluster ${name}: stop its Patroni for good and move its data aside`));
      }
      return { blocks, notes };
    },
  };
}

/**
 * Hosts under hosts: in no cluster whose Patroni served this cluster and is no longer among
 * its members (a run removed the member and stopped before moving its data aside): their
 * Patroni is stopped for good and their data moved aside.
 */
async function leftoverHosts(session: Session, model: DesiredState, name: string, leaving: readonly ClusterMember[]): Promise<string[]> {
  const spec = model.inventory.clusters[name]!;
  const scope = model.cluster(name).scope;
  const inClusters = new Set(Object.values(model.inventory.clusters).flatMap((c) => c.hosts));
  const candidates = Object.keys(model.inventory.hosts).filter((h) => !inClusters.has(h) && !leaving.some((m) => m.name === h) && session.remotes.has(h));
  const found = await Promise.all(
    candidates.map(async (h) => {
      const config = await session.facts.get(h, fileContent(PATRONI_CONFIG_PATH)).catch(() => '');
      if (!new RegExp(`^scope: ${scope.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').test(config)) return undefined;
      const [services, data] = await Promise.all([session.facts.get(h, serviceStates(['patroni'])), session.facts.get(h, pgData(spec.postgres.data_dir))]);
      const svc = services.get('patroni');
      return svc?.active === 'active' || svc?.enabled === 'enabled' || data.exists ? h : undefined;
    }),
  );
  return found.filter((h): h is string => h !== undefined);
}

/**
 * Patroni 4 keeps the slot of a member that left for `member_slots_ttl` (dynamic
 * configuration, default 30min; 0 turns it off); Patroni 3 drops it at once. Undefined: dropped at once.
 */
async function slotRetention(session: Session, model: DesiredState, name: string): Promise<{ version: string; ttl: string } | undefined> {
  const api = patroniApi(model, name);
  for (const host of model.inventory.clusters[name]!.hosts.filter((h) => session.remotes.has(h))) {
    const state = await session.facts.get(host, api.state(host)).catch(() => undefined);
    if (!state?.version) continue;
    if (Number(state.version.split('.')[0]) < 4) return undefined;
    const config = await session.facts.get(host, api.config(host)).catch(() => undefined);
    const ttl = config?.['member_slots_ttl'];
    if (ttl === 0 || ttl === '0' || ttl === '0s' || ttl === '0min') return undefined;
    return { version: state.version, ttl: ttl === undefined ? '30min (the default)' : String(ttl) };
  }
  return undefined;
}
