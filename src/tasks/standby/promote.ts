import { HapgError } from '../../errors.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import type { Session } from '../../run/session.js';
import type { Stage } from '../../stages/stage.js';
import { waitForWritesRoutedTo } from '../haproxy/routing.js';
import { controlData, memberStates, ranAsPrimary, type ControlData } from '../patroni/facts.js';
import { writeReadStage } from '../postgres/verify.js';
import { waitForLeader } from '../patroni/waits.js';
import { standbyClusterNamed } from './rebuild.js';
import { scopeKey } from '../patroni/cluster-state.js';
import { configuredUpstream, replayPosition, walReceiver } from './facts.js';
import { service } from '../../run/steps.js';

export interface SourceProbe {
  /** Source members whose Patroni reports a running leader. */
  leaders: string[];
  /** Source hosts that answered over SSH. */
  reachable: string[];
  unreachable: { host: string; reason: string }[];
}

/**
 * What the source cluster looks like from here, tolerating hosts that are gone: in a
 * disaster the source's datacenter does not answer, and that is the case promotion is for.
 * The session connects to the source's hosts as optional ones.
 */
export async function probeSource(session: Session, source: string): Promise<SourceProbe> {
  const { model } = session;
  const hosts = model.inventory.clusters[source]!.hosts;
  const api = patroniApi(model, source);
  const probe: SourceProbe = { leaders: [], reachable: [], unreachable: [] };
  for (const host of hosts) {
    const why = session.unreachable.get(host);
    if (why !== undefined || !session.remotes.has(host)) {
      probe.unreachable.push({ host, reason: why ?? 'not connected' });
      continue;
    }
    probe.reachable.push(host);
    const state = await session.facts.fresh(host, api.state(host)).catch(() => undefined);
    if (state?.role === 'leader' && state.state === 'running') probe.leaders.push(host);
  }
  return probe;
}

/** What `standby promote` found and did; filled in as its stages plan. */
export interface PromoteOutcome {
  leader?: string;
  probe?: SourceProbe;
  /**
   * The source's last leader: its etcd leader key, or, once that has expired (every source
   * Patroni stopped), the reachable member whose pg_control says it ran as a primary.
   */
  lastSourceLeader?: string;
  /** Where lastSourceLeader comes from. */
  lastSourceLeaderFrom?: 'etcd' | 'pg_control';
  /** The host the standby leader streams through (its WAL receiver's sender, HAProxy or a member), or is configured to. */
  streamedThrough?: string;
  /** Whether the standby leader's WAL receiver was connected when it was promoted. */
  streaming?: boolean;
  /** How far the standby leader had replayed when it was promoted. */
  replayedUpTo?: string;
  /** Source members whose Patroni was stopped and disabled before the promotion. */
  fenced?: string[];
}

/**
 * Disaster recovery: turns a standby cluster into a primary cluster. First it fences what it
 * can: Patroni is stopped and disabled on every source member it reaches, so none of them
 * runs, or comes back at boot, as a second primary. Refused while a source leader runs, and
 * while any source member cannot be reached (it may still run a primary), unless forced. Then
 * standby_cluster is removed from the dynamic configuration, Patroni promotes the standby
 * leader, and a write through the cluster's read-write endpoint is verified.
 */
export function promoteStages(model: DesiredState, inventoryPath: string, name: string, opts: { force: boolean }, outcome: PromoteOutcome): Stage[] {
  const cluster = standbyClusterNamed(model, inventoryPath, name, 'standby promote');
  const sourceName = cluster.standby.cluster;
  const promote: Stage = {
    id: `promote:${name}`,
    title: `Promoting ${name}`,
    async plan({ session, secrets }) {
      const api = patroniApi(model, name, secrets);
      const states = await memberStates(session.facts, model, name);
      const answering = cluster.hosts.find((h) => states.get(h));
      const live = answering ? await session.facts.get(answering, api.config(answering)) : undefined;
      if (!live) throw new HapgError('CLUSTER_UNHEALTHY', `no member of cluster ${name} answers on its REST API: nothing to promote`);
      if (!live['standby_cluster']) {
        throw new HapgError('UNSAFE_OPERATION', `cluster ${name} already runs as a primary cluster: nothing to promote`, { hint: `remove clusters.${name}.standby from ${inventoryPath}` });
      }
      const standbyLeader = [...states].find(([, s]) => s?.role === 'standby_leader' && s.state === 'running')?.[0];
      if (!standbyLeader) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} has no running standby leader: nothing was changed`, { hint: `see \`hapg status -i ${inventoryPath}\`` });

      const probe = await probeSource(session, sourceName);
      outcome.probe = probe;
      const seen = `${sourceName}: ${probe.reachable.length} of ${model.inventory.clusters[sourceName]!.hosts.length} hosts reachable${probe.leaders.length ? `, leader ${probe.leaders.join(', ')} running` : ', no running leader'}`;
      session.sink({ kind: 'info', message: seen });
      if (probe.leaders.length > 0 && !opts.force) {
        throw new HapgError(
          'UNSAFE_OPERATION',
          `source cluster ${sourceName} is reachable and its leader ${probe.leaders.join(', ')} runs: promoting ${name} now would leave two primaries (split brain); nothing was changed`,
          { hint: `fence ${sourceName} first (stop Patroni on its members), or pass --force if its clients are already cut off` },
        );
      }
      if (probe.unreachable.length > 0 && !opts.force) {
        throw new HapgError(
          'UNSAFE_OPERATION',
          `source cluster ${sourceName}: ${probe.unreachable.map((u) => u.host).join(', ')} cannot be reached and may still run a primary: promoting ${name} now risks two primaries (split brain); nothing was changed`,
          { hint: `make sure ${sourceName} is down (power off or cut off its hosts), then re-run with --force` },
        );
      }
      if (probe.leaders.length > 0) session.sink({ kind: 'warn', message: `--force: ${sourceName}'s leader ${probe.leaders.join(', ')} runs: fencing it (Patroni stopped) before promoting ${name}` });
      if (probe.unreachable.length > 0) {
        session.sink({ kind: 'warn', message: `--force: ${probe.unreachable.map((u) => u.host).join(', ')} of ${sourceName} cannot be reached and may still run; keep its clients away from it` });
      }
      const receiver = await session.facts.fresh(standbyLeader, walReceiver(cluster.postgres.port));
      const upstream = receiver?.senderHost || (await session.facts.fresh(standbyLeader, configuredUpstream(cluster.postgres.port)));
      outcome.streaming = Boolean(receiver?.senderHost);
      outcome.streamedThrough = upstream ? (Object.entries(model.inventory.hosts).find(([, h]) => h.address === upstream)?.[0] ?? upstream) : undefined;
      Object.assign(outcome, await lastSourceLeader(session, model, sourceName, probe.reachable));
      outcome.replayedUpTo = await session.facts.fresh(standbyLeader, replayPosition(cluster.postgres.port));
      outcome.leader = standbyLeader;
      outcome.fenced = probe.reachable;
      return {
        blocks: [
          // Fenced first: a source member that comes back must not find itself a primary.
          { items: probe.reachable.map((h) => ({ ...service(h, 'patroni', 'stopped', false), title: `fence: stop and disable patroni (${sourceName})` })) },
          {
            items: [api.patchConfig(standbyLeader, { standby_cluster: null }, 'PATCH /config: standby_cluster → (removed)')],
            // HAProxy sends writes to the new primary once its health check sees it (a few seconds).
            waits: [waitForLeader(model, name, standbyLeader, 120_000), ...waitForWritesRoutedTo(model, name, standbyLeader, 60_000)],
          },
        ],
        notes: [
          `last known leader of ${sourceName}: ${describeLastLeader(outcome)}; ${describeStream(outcome)}`,
        ],
      };
    },
  };
  return [promote, writeReadStage(model, name)];
}

/**
 * The source's last leader. Its etcd leader key names it while a source Patroni holds it;
 * once every source Patroni stopped the key expires, and pg_control still tells: a primary
 * shuts down "shut down" (or crashes "in production"), a replica "shut down in recovery".
 */
async function lastSourceLeader(session: Session, model: DesiredState, source: string, reachable: string[]): Promise<Pick<PromoteOutcome, 'lastSourceLeader' | 'lastSourceLeaderFrom'>> {
  const fromEtcd = await scopeKey(session.facts, model, source, 'leader', (h) => session.remotes.has(h));
  if (fromEtcd) return { lastSourceLeader: fromEtcd, lastSourceLeaderFrom: 'etcd' };
  const cm = model.cluster(source);
  const primaries: { host: string; control: ControlData }[] = [];
  for (const host of reachable) {
    const control = await session.facts.fresh(host, controlData(cm.binDir, cm.spec.postgres.data_dir)).catch(() => undefined);
    if (control && ranAsPrimary(control)) primaries.push({ host, control });
  }
  // Two that ran as primaries (a failover the old one never rejoined from): the later timeline wins.
  const [last] = primaries.sort((a, b) => b.control.timeline - a.control.timeline);
  return last ? { lastSourceLeader: last.host, lastSourceLeaderFrom: 'pg_control' } : {};
}

export function describeLastLeader(outcome: PromoteOutcome): string {
  if (!outcome.lastSourceLeader) return 'unknown (no leader key in its etcd, and no reachable member ran as a primary)';
  return `${outcome.lastSourceLeader} (${outcome.lastSourceLeaderFrom === 'etcd' ? 'its etcd leader key' : 'its pg_control: it ran as the primary'})`;
}

export function describeStream(outcome: PromoteOutcome): string {
  const through = outcome.streamedThrough ? `${outcome.streaming ? 'streamed through' : 'was set to stream through'} ${outcome.streamedThrough}${outcome.streaming ? '' : ' (not connected)'}` : 'had no upstream';
  return `${outcome.leader} ${through} and had replayed up to ${outcome.replayedUpTo ?? 'an unknown position'}`;
}

/** What the operator changes in the inventory next, line by line. */
export function promoteNextSteps(inventoryPath: string, name: string, sourceName: string): string[] {
  return [
    `remove clusters.${name}.standby from ${inventoryPath}: ${name} is a primary cluster now`,
    `to make ${sourceName} a standby of ${name}: add \`standby: { cluster: ${name} }\` to clusters.${sourceName} (and drop superuser, replication and rewind from its secrets, if set: a standby uses its source's), then run \`hapg standby rebuild -i ${inventoryPath} --cluster ${sourceName} --yes-wipe-data\` (it wipes ${sourceName}'s data)`,
    `until then leave ${sourceName} fenced (Patroni stopped and disabled on its members): started, they would run as a second primary`,
  ];
}
