import type { FactCache } from '../../facts/fact.js';
import { etcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { PATRONI_NAMESPACE } from './model.js';

/**
 * A key of a cluster's Patroni scope in its etcd (null: absent; undefined: etcd did not answer);
 * `fresh` reads it again instead of from the run's cache (and refreshes the cache).
 */
export async function scopeKey(
  facts: FactCache,
  model: DesiredState,
  cluster: string,
  key: string,
  reachable: (host: string) => boolean = () => true,
  fresh = false,
): Promise<string | null | undefined> {
  const cm = model.cluster(cluster);
  const etcd = etcdClient(model, cm.spec.etcd);
  const path = `${PATRONI_NAMESPACE}${cm.scope}/${key}`;
  for (const host of etcd.hosts) {
    if (!reachable(host)) continue;
    const value = await (fresh ? facts.fresh(host, etcd.keyValue(path)) : facts.get(host, etcd.keyValue(path))).catch(() => undefined);
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * The system identifier Patroni recorded when it initialised the cluster (its `initialize`
 * key): null when the cluster is not initialised, undefined when etcd did not answer; empty
 * while Patroni bootstraps. `fresh`: read again, not from the run's cache.
 */
export function initializedSystemId(facts: FactCache, model: DesiredState, cluster: string, reachable?: (host: string) => boolean, fresh = false): Promise<string | null | undefined> {
  return scopeKey(facts, model, cluster, 'initialize', reachable, fresh);
}

/** Whether Patroni has initialised this cluster (undefined: etcd did not answer). */
export async function isClusterInitialized(facts: FactCache, model: DesiredState, cluster: string): Promise<boolean | undefined> {
  const id = await initializedSystemId(facts, model, cluster);
  return id === undefined ? undefined : id !== null;
}

/**
 * The dynamic configuration stored in the cluster's scope (the `config` key): what every
 * member starts with, whether or not any Patroni runs right now.
 */
export async function storedDynamicConfig(facts: FactCache, model: DesiredState, cluster: string, reachable?: (host: string) => boolean): Promise<Record<string, unknown> | null | undefined> {
  const value = await scopeKey(facts, model, cluster, 'config', reachable);
  if (value === null || value === undefined) return value;
  try {
    return JSON.parse(value) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
