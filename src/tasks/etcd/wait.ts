import type { FactCache } from '../../facts/fact.js';
import type { EtcdCluster } from '../../inventory/schema.js';
import { waitUntil } from '../../run/wait.js';
import { etcdHealth, etcdMembers } from './facts.js';

export interface EtcdClusterHealth {
  healthy: string[];
  unhealthy: { host: string; detail: string }[];
  members: string[];
}

/** Each member's own health and the member list, read afresh. */
export async function etcdClusterHealth(facts: FactCache, etcd: EtcdCluster): Promise<EtcdClusterHealth> {
  const results = await Promise.all(
    etcd.hosts.map(async (host) => {
      const health = await facts.fresh(host, etcdHealth(etcd.client_port)).catch(() => undefined);
      return { host, health };
    }),
  );
  const healthy = results.filter((r) => r.health?.healthy).map((r) => r.host);
  const unhealthy = results
    .filter((r) => !r.health?.healthy)
    .map((r) => ({ host: r.host, detail: r.health ? r.health.detail : 'not answering' }));
  const asker = healthy[0];
  const members = asker ? ((await facts.fresh(asker, etcdMembers(etcd.client_port)).catch(() => undefined)) ?? []).map((m) => m.name) : [];
  return { healthy, unhealthy, members };
}

/** Waits until every member reports healthy and the member list holds exactly the inventory's hosts. */
export async function waitForEtcdQuorum(facts: FactCache, name: string, etcd: EtcdCluster, timeoutMs = 120_000): Promise<void> {
  await waitUntil(
    `etcd cluster ${name} to be healthy with ${etcd.hosts.length} members`,
    async () => {
      const h = await etcdClusterHealth(facts, etcd);
      const missing = etcd.hosts.filter((host) => !h.members.includes(host));
      const done = h.unhealthy.length === 0 && missing.length === 0;
      const status = [
        ...h.unhealthy.map((u) => `${u.host}: ${u.detail}`),
        ...(missing.length && h.healthy.length ? [`members missing from the list: ${missing.join(', ')}`] : []),
      ].join('; ');
      return { done, status: status || 'healthy' };
    },
    { timeoutMs },
  );
}
