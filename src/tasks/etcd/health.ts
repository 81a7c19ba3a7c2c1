import type { FactCache } from '../../facts/fact.js';
import type { EtcdClient } from '../../model/endpoints.js';
import { wait, type WaitStep } from '../../run/steps.js';

export interface EtcdClusterHealth {
  healthy: string[];
  unhealthy: { host: string; detail: string }[];
  /** Member names as a healthy member lists them (empty when none answers). */
  members: string[];
}

/** Each member's own health and the member list, read afresh. */
export async function etcdClusterHealth(facts: FactCache, etcd: EtcdClient): Promise<EtcdClusterHealth> {
  const results = await Promise.all(etcd.hosts.map(async (host) => ({ host, health: await facts.fresh(host, etcd.health()).catch(() => undefined) })));
  const healthy = results.filter((r) => r.health?.healthy).map((r) => r.host);
  const unhealthy = results.filter((r) => !r.health?.healthy).map((r) => ({ host: r.host, detail: r.health ? r.health.detail : 'not answering' }));
  const asker = healthy[0];
  const members = asker ? ((await facts.fresh(asker, etcd.members()).catch(() => undefined)) ?? []).map((m) => m.name) : [];
  return { healthy, unhealthy, members };
}

/** Members needed for quorum. */
export const quorumOf = (members: number) => Math.floor(members / 2) + 1;

/** Waits until every member (of `hosts`, by default the inventory's) reports healthy and the member list holds them all. */
export function waitForEtcdQuorum(etcd: EtcdClient, timeoutMs = 120_000, hosts: readonly string[] = etcd.hosts): WaitStep {
  return wait(
    hosts[0] ?? etcd.hosts[0]!,
    `etcd cluster ${etcd.name} healthy with ${hosts.length === etcd.hosts.length ? `${hosts.length} members` : hosts.join(', ')}`,
    async (facts) => {
      const h = await etcdClusterHealth(facts, etcd);
      const missing = hosts.filter((host) => !h.members.includes(host));
      const unhealthy = h.unhealthy.filter((u) => hosts.includes(u.host));
      const status = [
        ...unhealthy.map((u) => `${u.host}: ${u.detail}`),
        ...(missing.length && h.healthy.length ? [`members missing from the list: ${missing.join(', ')}`] : []),
      ].join('; ');
      return { done: unhealthy.length === 0 && missing.length === 0, status: status || 'healthy' };
    },
    { timeoutMs },
  );
}
