import type { CommandFact, FactCache } from '../../facts/fact.js';
import type { DesiredState } from '../../model/model.js';
import { wait, type WaitStep } from '../../run/steps.js';

/** Addresses configured on the host's interfaces (`ip -o addr`). */
export const hostAddresses: CommandFact<Set<string>> = {
  id: 'addresses',
  argv: ['ip', '-o', 'addr', 'show'],
  parse: (r) => new Set([...r.stdout.matchAll(/\sinet6?\s+([^/\s]+)/g)].map((m) => m[1] as string)),
};

/** The hosts of a cluster's VIP that hold it right now. */
export async function vipHolders(facts: FactCache, model: DesiredState, cluster: string): Promise<string[]> {
  const vip = model.inventory.clusters[cluster]!.vip;
  if (!vip) return [];
  const hosts = model.hostsOf('keepalived', cluster);
  const found = await Promise.all(hosts.map(async (h) => ((await facts.fresh(h, hostAddresses).catch(() => new Set<string>())).has(vip.address) ? h : undefined)));
  return found.filter((h): h is string => h !== undefined);
}

/** Exactly one host holds the VIP (with `on`: that host). */
export function waitForVip(model: DesiredState, cluster: string, opts: { on?: () => string | undefined; timeoutMs?: number } = {}): WaitStep {
  const hosts = model.hostsOf('keepalived', cluster);
  return wait(
    hosts[0]!,
    `the VIP of cluster ${cluster} on exactly one host${opts.on ? ' (the leader)' : ''}`,
    async (facts) => {
      const holders = await vipHolders(facts, model, cluster);
      const want = opts.on?.();
      const done = holders.length === 1 && (want === undefined || holders[0] === want);
      return { done, status: holders.length ? `held by ${holders.join(', ')}` : 'held by no host' };
    },
    { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 500, tag: `vip:${cluster}` },
  );
}
