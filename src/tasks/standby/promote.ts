import { HapgError } from '../../errors.js';
import { clusterSecretKey, type InventorySecrets } from '../../inventory/secrets.js';
import { sshTargets } from '../../inventory/ssh-targets.js';
import { PATRONI_ROLES } from '../../render/roles.js';
import { applyPlan } from '../../run/apply-plan.js';
import type { Session } from '../../run/session.js';
import type { HttpStep } from '../../run/steps.js';
import { waitUntil } from '../../run/wait.js';
import { connect } from '../../ssh/connect.js';
import { patroniState, parsePatroniState } from '../patroni/rest.js';
import { memberStates, waitForLeader } from '../patroni/wait.js';
import { verifyWriteRead, type VerifyResult } from '../verify/write-read.js';
import { standbyClusterNamed } from './rebuild.js';
import { liveDynamicConfig } from './guard.js';

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
 */
export async function probeSource(session: Session, source: string): Promise<SourceProbe> {
  const { inventory, path } = session.loaded;
  const cluster = inventory.clusters[source]!;
  const targets = sshTargets(inventory, path).filter((t) => cluster.hosts.includes(t.host));
  const probe: SourceProbe = { leaders: [], reachable: [], unreachable: [] };
  await Promise.all(
    targets.map(async (target) => {
      const remote = await connect(target, {}).catch((err: unknown) => err as Error);
      if (remote instanceof Error) {
        probe.unreachable.push({ host: target.host, reason: remote.message });
        return;
      }
      try {
        probe.reachable.push(target.host);
        const res = await remote.http({ method: 'GET', port: cluster.patroni.rest_api_port, path: '/patroni', timeoutMs: 5000 }).catch(() => undefined);
        const state = res ? (() => { try { return parsePatroniState(res.body); } catch { return undefined; } })() : undefined;
        if (state?.role === 'leader' && state.state === 'running') probe.leaders.push(target.host);
      } finally {
        remote.close();
      }
    }),
  );
  return probe;
}

export interface PromoteResult {
  cluster: string;
  leader: string;
  timeline: number | undefined;
  verify: VerifyResult;
  /** What the user changes in the inventory next, line by line. */
  next: string[];
}

/**
 * Disaster recovery: turns a standby cluster into a primary cluster. Refused while its source
 * has a running leader (two primaries is split brain) unless forced. Removes standby_cluster
 * from the dynamic configuration, so Patroni promotes the standby leader; then verifies that
 * the cluster takes writes through its read-write endpoint.
 */
export async function promoteStandby(session: Session, secrets: InventorySecrets, name: string, opts: { force: boolean }): Promise<PromoteResult> {
  const { inventory, path } = session.loaded;
  const cluster = standbyClusterNamed(session, name, 'standby promote');
  const sourceName = cluster.standby.cluster;

  const live = await liveDynamicConfig(session, name);
  if (!live) throw new HapgError('CLUSTER_UNHEALTHY', `no member of cluster ${name} answers on its REST API: nothing to promote`);
  if (!live['standby_cluster']) {
    throw new HapgError('UNSAFE_OPERATION', `cluster ${name} already runs as a primary cluster: nothing to promote`, {
      hint: `remove clusters.${name}.standby from ${path}`,
    });
  }
  const states = await memberStates(session.facts, cluster);
  const standbyLeader = [...states].find(([, s]) => s?.role === 'standby_leader' && s.state === 'running')?.[0];
  if (!standbyLeader) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} has no running standby leader: nothing was changed`, { hint: `see \`hapg status -i ${path}\`` });

  session.sink({ kind: 'phase', title: `Checking source cluster ${sourceName}` });
  const probe = await probeSource(session, sourceName);
  const seen = `${sourceName}: ${probe.reachable.length} of ${inventory.clusters[sourceName]!.hosts.length} hosts reachable${probe.leaders.length ? `, leader ${probe.leaders.join(', ')} running` : ', no running leader'}`;
  session.sink({ kind: 'info', message: seen });
  if (probe.leaders.length > 0 && !opts.force) {
    throw new HapgError(
      'UNSAFE_OPERATION',
      `source cluster ${sourceName} is reachable and its leader ${probe.leaders.join(', ')} runs: promoting ${name} now would leave two primaries (split brain); nothing was changed`,
      { hint: `fence ${sourceName} first (stop Patroni on its members), or pass --force if its clients are already cut off` },
    );
  }
  if (probe.leaders.length > 0) session.sink({ kind: 'warn', message: `--force: promoting ${name} while ${sourceName}'s leader ${probe.leaders.join(', ')} still runs; keep its clients away from it` });

  session.sink({ kind: 'phase', title: `Promoting ${name}` });
  const patch: HttpStep = {
    kind: 'http',
    host: standbyLeader,
    title: 'PATCH /config: standby_cluster → (removed)',
    port: cluster.patroni.rest_api_port,
    method: 'PATCH',
    path: '/config',
    body: { standby_cluster: null },
    basicAuth: { user: PATRONI_ROLES.restApi, password: secrets.get(clusterSecretKey(name, 'rest_api'))! },
  };
  await applyPlan([patch], session, `patroni ${name}`);
  await waitForLeader(session.facts, cluster, standbyLeader, 120_000);
  const superuser = secrets.get(clusterSecretKey(name, 'superuser'))!;
  let verify: VerifyResult | undefined;
  // HAProxy sends writes to the new primary once its health check sees it (a few seconds).
  await waitUntil(
    `cluster ${name} to accept writes`,
    async () => {
      verify = await verifyWriteRead(session, name, standbyLeader, superuser);
      return { done: true, status: 'write accepted' };
    },
    { timeoutMs: 60_000, intervalMs: 1000 },
  );
  const state = await session.facts.fresh(standbyLeader, patroniState(cluster.patroni.rest_api_port));
  const next = [
    `remove clusters.${name}.standby from ${path}: ${name} is a primary cluster now`,
    `to make ${sourceName} a standby of ${name}: add \`standby: { cluster: ${name} }\` to clusters.${sourceName} (and drop superuser, replication and rewind from its secrets, if set: a standby uses its source's), then run \`hapg standby rebuild -i ${path} --cluster ${sourceName} --yes-wipe-data\` (it wipes ${sourceName}'s data)`,
    `until then keep ${sourceName} stopped: its members would start as a second primary`,
  ];
  return { cluster: name, leader: standbyLeader, timeline: state?.timeline, verify: verify!, next };
}
