import type { FactCache } from '../../facts/fact.js';
import type { Cluster } from '../../inventory/schema.js';
import { waitUntil } from '../../run/wait.js';
import { patroniState, type MemberRole, type PatroniState } from './rest.js';

/** Reads every member's `/patroni` afresh; a member not answering maps to undefined. */
export async function memberStates(facts: FactCache, cluster: Cluster): Promise<Map<string, PatroniState | undefined>> {
  const fact = patroniState(cluster.patroni.rest_api_port);
  const entries = await Promise.all(cluster.hosts.map(async (h) => [h, await facts.fresh(h, fact).catch(() => undefined)] as const));
  return new Map(entries);
}

/** Waits until `host` runs as the leader of its cluster. */
export async function waitForLeader(facts: FactCache, cluster: Cluster, host: string, timeoutMs = 180_000): Promise<void> {
  const fact = patroniState(cluster.patroni.rest_api_port);
  await waitUntil(
    `${host} to run as leader`,
    async () => {
      const s = await facts.fresh(host, fact);
      return { done: s?.role === 'leader' && s.state === 'running', status: s ? `role ${s.role}, state ${s.state}` : 'Patroni not answering' };
    },
    { timeoutMs, host },
  );
}

/** The role of the member the others stream from: a standby cluster's leader is its standby leader. */
export function leaderRoleOf(cluster: Cluster): MemberRole {
  return cluster.standby ? 'standby_leader' : 'leader';
}

/**
 * Waits until every member runs and every replica streams from the leader (the leader's own
 * replication list, since Patroni 3.0.2 reports replicas as "running", never "streaming").
 * In a standby cluster the members stream from the standby leader. `check` runs on every poll.
 */
export async function waitForStreamingReplicas(facts: FactCache, cluster: Cluster, timeoutMs = 300_000, check?: () => void): Promise<string> {
  let leader = '';
  const role = leaderRoleOf(cluster);
  await waitUntil(
    'every member running and every replica streaming',
    async () => {
      check?.();
      const states = await memberStates(facts, cluster);
      const leaders = [...states].filter(([, s]) => s?.role === role && s.state === 'running').map(([h]) => h);
      if (leaders.length !== 1) return { done: false, status: leaders.length === 0 ? 'no running leader' : `several leaders: ${leaders.join(', ')}` };
      leader = leaders[0]!;
      const streaming = new Set(states.get(leader)!.replication.filter((r) => r.state === 'streaming').map((r) => r.applicationName));
      const lagging = cluster.hosts.filter((h) => h !== leader && (!streaming.has(h) || states.get(h)?.state !== 'running'));
      const describe = (h: string) => {
        const s = states.get(h);
        return `${h} ${s ? `${s.state}${streaming.has(h) ? '' : ', not streaming'}` : 'not answering'}`;
      };
      return { done: lagging.length === 0, status: lagging.length ? lagging.map(describe).join('; ') : 'all streaming' };
    },
    { timeoutMs, intervalMs: 1000 },
  );
  return leader;
}
