// After HAProxy starts or reloads, its new process counts every server UP until the first
// health check (HAProxy 2.6 has no init-state): for a moment new connections to the
// read-write port may reach a replica. Deploy waits until every server has been checked and
// each cluster's read-write listener routes to exactly one member.
import type { DesiredState } from '../../model/model.js';
import { wait, type WaitStep } from '../../run/steps.js';
import { currentLeader } from '../patroni/waits.js';
import { haproxyServers, type BackendServer } from './stats.js';

/** Whether HAProxy on `host` has checked every server and routes each cluster's writes to one member. */
export function routingVerdict(model: DesiredState, host: string, servers: readonly BackendServer[]): { done: boolean; status: string } {
  const unchecked = servers.filter((s) => s.checkStatus === 'INI').map((s) => `${s.proxy}/${s.server}`);
  if (unchecked.length) return { done: false, status: `not yet checked: ${unchecked.join(', ')}` };
  for (const p of model.placementsOn(host).filter((p) => p.component === 'haproxy')) {
    const up = servers.filter((s) => s.proxy === `${p.of}_read_write` && s.status === 'UP').map((s) => s.server);
    // A standby cluster takes no writes: its read-write listener may route nowhere.
    if (up.length > 1 || (up.length === 0 && !model.inventory.clusters[p.of]!.standby)) return { done: false, status: `${p.of} writes routed to ${up.join(', ') || 'no member'}` };
  }
  return { done: true, status: 'every server checked, writes routed to the leader' };
}

/** A cluster the HAProxy on `host` fronts (every cluster has its own stats listener; any answers for all). */
function clusterOn(model: DesiredState, host: string): string | undefined {
  return model.placementsOn(host).find((p) => p.component === 'haproxy')?.of;
}

/** Waits on each host until routingVerdict holds. */
export function waitForHaproxyRouting(model: DesiredState, hosts: readonly string[], timeoutMs = 30_000): WaitStep[] {
  return hosts.flatMap((host) => {
    const cluster = clusterOn(model, host);
    if (cluster === undefined) return [];
    return [
      wait(
        host,
        `HAProxy on ${host} to check every server after its reload`,
        async (facts) => {
          const servers = await facts.fresh(host, haproxyServers(model, cluster, host));
          return servers ? routingVerdict(model, host, servers) : { done: false, status: 'stats page not answering' };
        },
        { timeoutMs, intervalMs: 200 },
      ),
    ];
  });
}

/** Every HAProxy of `cluster` routes its writes to `leader` only (after a switchover or promotion). */
export function waitForWritesRoutedTo(model: DesiredState, cluster: string, leader: string | (() => string | undefined), timeoutMs = 30_000): WaitStep[] {
  const haproxy = model.inventory.clusters[cluster]!.haproxy;
  if (!haproxy) return [];
  return haproxy.hosts.map((host) =>
    wait(
      host,
      `HAProxy on ${host} to route writes of ${cluster} to its leader only`,
      async (facts) => {
        const target = typeof leader === 'function' ? leader() ?? (await currentLeader(facts, model, cluster)) : leader;
        const servers = (await facts.fresh(host, haproxyServers(model, cluster, host))) ?? [];
        const up = servers.filter((s) => s.proxy === `${cluster}_read_write` && s.status === 'UP').map((s) => s.server);
        return { done: up.length === 1 && up[0] === target, status: `read-write UP: ${up.join(', ') || 'none'}` };
      },
      { timeoutMs, intervalMs: 500 },
    ),
  );
}
