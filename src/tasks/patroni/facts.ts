import type { CommandFact, FactCache } from '../../facts/fact.js';
import type { PatroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { patroniApi } from '../../model/endpoints.js';
import type { PatroniState } from './rest.js';

/** Whether a PostgreSQL data directory is initialised (PG_VERSION exists). */
export function pgData(dataDir: string): CommandFact<{ exists: boolean }> {
  return {
    id: `pgdata:${dataDir}`,
    argv: ['test', '-f', `${dataDir}/PG_VERSION`],
    sudo: true,
    parse: (r) => ({ exists: r.exitCode === 0 }),
  };
}

/** Reads every member's `/patroni` afresh; a member not answering maps to undefined. */
export async function memberStates(facts: FactCache, model: DesiredState, cluster: string, api: PatroniApi = patroniApi(model, cluster)): Promise<Map<string, PatroniState | undefined>> {
  const hosts = model.inventory.clusters[cluster]!.hosts;
  const entries = await Promise.all(hosts.map(async (h) => [h, await facts.fresh(h, api.state(h)).catch(() => undefined)] as const));
  return new Map(entries);
}

/** The same, from the run's cache (planning reads once; waits use memberStates). */
export async function cachedMemberStates(facts: FactCache, model: DesiredState, cluster: string): Promise<Map<string, PatroniState | undefined>> {
  const api = patroniApi(model, cluster);
  const hosts = model.inventory.clusters[cluster]!.hosts;
  const entries = await Promise.all(hosts.map(async (h) => [h, await facts.get(h, api.state(h)).catch(() => undefined)] as const));
  return new Map(entries);
}
