import { fileStates } from '../../facts/files.js';
import type { CommandFact } from '../../facts/fact.js';
import { serviceStates } from '../../facts/services.js';
import type { Cluster } from '../../inventory/schema.js';
import { HAPROXY_CONFIG_PATH, KEEPALIVED_CONFIG_PATH } from '../../render/roles.js';
import { applyPlan } from '../../run/apply-plan.js';
import type { Session } from '../../run/session.js';
import type { PlanItem } from '../../run/steps.js';
import { waitUntil } from '../../run/wait.js';
import { planProxyHost, proxyHosts } from '../haproxy/plan.js';
import { waitForHaproxyRouting } from '../haproxy/routing.js';

/** HAProxy and keepalived plan of every proxy host (read-only). */
export async function planProxies(session: Session): Promise<PlanItem[]> {
  const { inventory } = session.loaded;
  const plans = await Promise.all(
    proxyHosts(inventory).haproxy.map(async (host) => {
      const [files, services] = await Promise.all([
        session.facts.get(host, fileStates([HAPROXY_CONFIG_PATH, KEEPALIVED_CONFIG_PATH])),
        session.facts.get(host, serviceStates(['haproxy', 'keepalived'])),
      ]);
      return planProxyHost(inventory, host, { files, services });
    }),
  );
  return plans.flat();
}

/**
 * Configures and starts (or gracefully reloads) HAProxy and keepalived on every proxy host,
 * then waits until each HAProxy that started or reloaded has checked its servers.
 */
export async function convergeProxies(session: Session): Promise<number> {
  const items = await planProxies(session);
  const changes = await applyPlan(items, session, 'haproxy/keepalived');
  const restarted = items.filter((i) => i.kind === 'service' && i.name === 'haproxy').map((i) => i.host);
  if (restarted.length) await waitForHaproxyRouting(session, restarted);
  return changes;
}

/** Addresses configured on the host's interfaces (`ip -o addr`). */
export const hostAddresses: CommandFact<Set<string>> = {
  id: 'addresses',
  argv: ['ip', '-o', 'addr', 'show'],
  parse: (r) => new Set([...r.stdout.matchAll(/\sinet6?\s+([^/\s]+)/g)].map((m) => m[1] as string)),
};

/** The proxy hosts that hold the cluster's VIP right now. */
export async function vipHolders(session: Session, cluster: Cluster): Promise<string[]> {
  if (!cluster.vip) return [];
  const hosts = cluster.haproxy?.hosts ?? [];
  const found = await Promise.all(
    hosts.map(async (h) => ((await session.facts.fresh(h, hostAddresses).catch(() => new Set<string>())).has(cluster.vip!.address) ? h : undefined)),
  );
  return found.filter((h): h is string => h !== undefined);
}

/** Waits until exactly one proxy host holds the VIP. */
export async function waitForVip(session: Session, name: string, cluster: Cluster, timeoutMs = 60_000): Promise<string> {
  let holder = '';
  await waitUntil(
    `the VIP of cluster ${name} on exactly one HAProxy host`,
    async () => {
      const holders = await vipHolders(session, cluster);
      holder = holders[0] ?? '';
      return { done: holders.length === 1, status: holders.length ? `held by ${holders.join(', ')}` : 'held by no host' };
    },
    { timeoutMs },
  );
  return holder;
}
