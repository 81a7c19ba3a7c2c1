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

/** Waits until every member reports healthy and the member list holds exactly the inventory's hosts. */
export function waitForEtcdQuorum(etcd: EtcdClient, timeoutMs = 120_000): WaitStep {
  return wait(
    etcd.hosts[0]!,
    `etcd cluster ${etcd.name} healthy with ${etcd.hosts.length} members`,
    async (facts) => {
      const h = await etcdClusterHealth(facts, etcd);
      const missing = etcd.hosts.filter((host) => !h.members.includes(host));
      const status = [
        ...h.unhealthy.map((u) => `${u.host}: ${u.detail}`),
        ...(missing.length && h.healthy.length ? [`members missing from the list: ${missing.join(', ')}`] : []),
      ].join('; ');
      return { done: h.unhealthy.length === 0 && missing.length === 0, status: status || 'healthy' };
    },
    { timeoutMs },
  );
}
