import { HapgError } from '../../errors.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import type { Session } from '../../run/session.js';
import type { Stage } from '../../stages/stage.js';
import { waitForWritesRoutedTo } from '../haproxy/routing.js';
import { memberStates } from '../patroni/facts.js';
import { writeReadStage } from '../postgres/verify.js';
import { waitForLeader } from '../patroni/waits.js';
import { standbyClusterNamed } from './rebuild.js';

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
    const state = await session.facts.fresh(host, api.state()).catch(() => undefined);
    if (state?.role === 'leader' && state.state === 'running') probe.leaders.push(host);
  }
  return probe;
}

/** What `standby promote` found and did; filled in as its stages plan. */
export interface PromoteOutcome {
  leader?: string;
  probe?: SourceProbe;
}

/**
 * Disaster recovery: turns a standby cluster into a primary cluster. Refused while its source
 * has a running leader (two primaries is split brain) unless forced. Removes standby_cluster
 * from the dynamic configuration, so Patroni promotes the standby leader; then verifies that
 * the cluster takes writes through its read-write endpoint.
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
      const live = answering ? await session.facts.get(answering, api.config()) : undefined;
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
      if (probe.leaders.length > 0) session.sink({ kind: 'warn', message: `--force: promoting ${name} while ${sourceName}'s leader ${probe.leaders.join(', ')} still runs; keep its clients away from it` });
      outcome.leader = standbyLeader;
      return {
        blocks: [
          {
            items: [api.patchConfig(standbyLeader, { standby_cluster: null }, 'PATCH /config: standby_cluster → (removed)')],
            // HAProxy sends writes to the new primary once its health check sees it (a few seconds).
            waits: [waitForLeader(model, name, standbyLeader, 120_000), ...waitForWritesRoutedTo(model, name, standbyLeader, 60_000)],
          },
        ],
        notes: [],
      };
    },
  };
  return [promote, writeReadStage(model, name)];
}

/** What the operator changes in the inventory next, line by line. */
export function promoteNextSteps(inventoryPath: string, name: string, sourceName: string): string[] {
  return [
    `remove clusters.${name}.standby from ${inventoryPath}: ${name} is a primary cluster now`,
    `to make ${sourceName} a standby of ${name}: add \`standby: { cluster: ${name} }\` to clusters.${sourceName} (and drop superuser, replication and rewind from its secrets, if set: a standby uses its source's), then run \`hapg standby rebuild -i ${inventoryPath} --cluster ${sourceName} --yes-wipe-data\` (it wipes ${sourceName}'s data)`,
    `until then keep ${sourceName} stopped: its members would start as a second primary`,
  ];
}
