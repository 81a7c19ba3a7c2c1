import type { Cluster } from '../../inventory/schema.js';
import type { ClusterMember } from '../patroni/rest.js';

/**
 * The checks an operator makes on `patronictl list` (field report 004): exactly one leader,
 * every member running, all on the leader's timeline, lag within maximum_lag_on_failover,
 * and the expected members present. Returns the problems; none means healthy.
 */
export function clusterProblems(
  cluster: Cluster,
  members: readonly ClusterMember[] | undefined,
  /** Replicas the leader lists as streaming (Patroni 3.0.2 shows replicas only as "running"). */
  streaming?: ReadonlySet<string>,
): string[] {
  if (!members) return ['no member answers on its REST API'];
  const problems: string[] = [];
  const leaders = members.filter((m) => m.role === 'leader' || m.role === 'standby_leader');
  if (leaders.length === 0) problems.push('no leader');
  if (leaders.length > 1) problems.push(`${leaders.length} leaders: ${leaders.map((l) => l.name).join(', ')}`);
  const present = new Set(members.map((m) => m.name));
  const missing = cluster.hosts.filter((h) => !present.has(h));
  if (missing.length > 0) problems.push(`missing members: ${missing.join(', ')}`);
  const unexpected = members.filter((m) => !cluster.hosts.includes(m.name)).map((m) => m.name);
  if (unexpected.length > 0) problems.push(`members not in the inventory: ${unexpected.join(', ')}`);
  for (const m of members) {
    if (m.state !== 'running' && m.state !== 'streaming') problems.push(`${m.name} is ${m.state}`);
  }
  const leader = leaders.length === 1 ? leaders[0] : undefined;
  if (leader && streaming) {
    for (const m of members) {
      if (m.role === 'replica' && m.state === 'running' && !streaming.has(m.name)) problems.push(`${m.name} is not streaming from the leader`);
    }
  }
  if (leader?.timeline !== undefined) {
    for (const m of members) {
      if (m !== leader && m.timeline !== undefined && m.timeline !== leader.timeline) {
        problems.push(`${m.name} is on timeline ${m.timeline}, the leader on ${leader.timeline}`);
      }
    }
  }
  for (const m of members) {
    if (m.lag !== undefined && m.lag > cluster.patroni.maximum_lag_on_failover) {
      problems.push(`${m.name} lags ${m.lag} bytes (maximum_lag_on_failover ${cluster.patroni.maximum_lag_on_failover})`);
    }
  }
  return problems;
}
