import { HapgError } from '../../errors.js';
import { clusterSecretKey, type InventorySecrets } from '../../inventory/secrets.js';
import { PATRONI_ROLES } from '../../render/roles.js';
import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';
import { waitForVip } from '../deploy/converge-proxies.js';
import { haproxyServers } from '../status/haproxy-stats.js';
import { memberStates, waitForStreamingReplicas } from '../patroni/wait.js';
import { verifyWriteRead } from '../verify/write-read.js';

export interface SwitchoverResult {
  from: string;
  to: string;
  /** Milliseconds from the request until the new leader ran as leader. */
  promotedMs: number;
}

/**
 * A planned switchover through Patroni's REST API, then verified: the new member runs as
 * leader, the old one streams from it, every HAProxy routes writes to it, and a write through
 * the VIP is read back from a replica.
 */
export async function switchover(session: Session, secrets: InventorySecrets, name: string, to: string | undefined): Promise<SwitchoverResult> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name];
  if (!cluster) throw new HapgError('USAGE', `unknown cluster "${name}" (the inventory has ${Object.keys(inventory.clusters).join(', ')})`);
  const states = await memberStates(session.facts, cluster);
  const leaders = [...states].filter(([, s]) => s?.role === 'leader' && s.state === 'running').map(([h]) => h);
  if (leaders.length !== 1) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} has ${leaders.length} running leaders: not switching over`);
  const from = leaders[0]!;
  const streaming = new Set(states.get(from)!.replication.filter((r) => r.state === 'streaming').map((r) => r.applicationName));
  const eligible = cluster.hosts.filter((h) => h !== from && streaming.has(h) && !inventory.hosts[h]!.tags.nofailover);
  if (to !== undefined) {
    if (!cluster.hosts.includes(to)) throw new HapgError('USAGE', `--to ${to}: not a member of cluster ${name} (${cluster.hosts.join(', ')})`);
    if (to === from) throw new HapgError('USAGE', `--to ${to}: already the leader of cluster ${name}`);
    if (!eligible.includes(to)) throw new HapgError('CLUSTER_UNHEALTHY', `--to ${to}: not a streaming replica that may become leader`, { host: to });
  }
  const target = to ?? pickCandidate(eligible, states);
  if (!target) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} has no streaming replica to switch over to`);

  session.sink({ kind: 'phase', title: `Switching cluster ${name} over from ${from} to ${target}` });
  const started = Date.now();
  const response = await session.remotes.get(from)!.http({
    method: 'POST',
    port: cluster.patroni.rest_api_port,
    path: '/switchover',
    body: JSON.stringify({ leader: from, candidate: target }),
    headers: { 'content-type': 'application/json' },
    basicAuth: { user: PATRONI_ROLES.restApi, password: secrets.get(clusterSecretKey(name, 'rest_api'))! },
    timeoutMs: 90_000,
  });
  if (response.status !== 200) {
    throw new HapgError('COMMAND_FAILED', `${from}: Patroni refused the switchover (HTTP ${response.status}): ${response.body.trim().slice(0, 200)}`, { host: from });
  }
  const leader = await waitForStreamingReplicas(session.facts, cluster, 120_000);
  const promotedMs = Date.now() - started;
  if (leader !== target) throw new HapgError('CLUSTER_UNHEALTHY', `after the switchover the leader is ${leader}, not ${target}`);

  session.sink({ kind: 'phase', title: 'Verifying HAProxy, the VIP and a write' });
  if (cluster.haproxy) {
    for (const host of cluster.haproxy.hosts) {
      await waitUntil(
        `HAProxy on ${host} to route writes to ${target} only`,
        async () => {
          const servers = (await session.facts.fresh(host, haproxyServers(cluster.haproxy!.stats_port))) ?? [];
          const up = servers.filter((s) => s.proxy === `${name}_read_write` && s.status === 'UP').map((s) => s.server);
          return { done: up.length === 1 && up[0] === target, status: `read-write UP: ${up.join(', ') || 'none'}` };
        },
        { timeoutMs: 30_000, host },
      );
    }
    if (cluster.vip) await waitForVip(session, name, cluster);
  }
  await verifyWriteRead(session, name, target, secrets.get(clusterSecretKey(name, 'superuser'))!);
  return { from, to: target, promotedMs };
}

/** The replica with the most WAL replayed (least to catch up), first in inventory order on ties. */
function pickCandidate(eligible: string[], states: Map<string, { replayedPosition?: number | undefined } | undefined>): string | undefined {
  return [...eligible].sort((a, b) => (states.get(b)?.replayedPosition ?? 0) - (states.get(a)?.replayedPosition ?? 0))[0];
}
