import { SHARED_MEMORY_PARAMETERS } from '../../inventory/checks/standby.js';
import type { Session } from '../../run/session.js';
import { desiredDynamicConfig, dynamicConfig } from '../patroni/dynamic-config.js';
import { memberStates } from '../patroni/wait.js';

/**
 * Whether the inventory raises one of the parameters a hot standby needs at least as high as
 * its primary (max_connections, …) on a running standby cluster. Such a raise must reach the
 * standby before its source: were the source restarted first, the standby would replay a
 * higher setting than its own and stop recovery. Decreases go the other way (source first),
 * which is deploy's normal order. Returns the running standby leader when a raise is due.
 */
export async function standbyRaiseDue(session: Session, name: string): Promise<{ leader: string; raised: string[] } | undefined> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const states = await memberStates(session.facts, cluster);
  const leader = [...states].find(([, s]) => s?.role === 'standby_leader' && s.state === 'running')?.[0];
  if (!leader) return undefined;
  const live = await session.facts.get(leader, dynamicConfig(cluster.patroni.rest_api_port));
  const liveParams = ((live?.['postgresql'] ?? {}) as { parameters?: Record<string, unknown> }).parameters ?? {};
  const wanted = desiredDynamicConfig(inventory, name).postgresql.parameters;
  const raised = SHARED_MEMORY_PARAMETERS.filter((p) => wanted[p] !== undefined && liveParams[p] !== undefined && Number(wanted[p]) > Number(liveParams[p]));
  return raised.length ? { leader, raised } : undefined;
}
