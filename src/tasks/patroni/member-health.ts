// Whether members are healthy enough to restart the next one, judged from their `GET /patroni`
// answers: running, nothing pending, streaming from the leader with lag below the limit.
import type { Cluster, Inventory } from '../../inventory/schema.js';
import type { PatroniState } from './rest.js';

export type MemberStates = ReadonlyMap<string, PatroniState | undefined>;

export interface Verdict {
  healthy: boolean;
  status: string;
}

/** The single running leader (or standby leader), if there is exactly one. */
export function runningLeader(states: MemberStates, role: PatroniState['role'] = 'leader'): string | undefined {
  const leaders = [...states].filter(([, s]) => s?.role === role && s.state === 'running').map(([h]) => h);
  return leaders.length === 1 ? leaders[0] : undefined;
}

/** Bytes the replica's replay trails the leader's current WAL position (undefined when unknown). */
export function replayLag(states: MemberStates, leader: string, host: string): number | undefined {
  const at = states.get(leader)?.walPosition;
  const replayed = states.get(host)?.replayedPosition ?? states.get(host)?.walPosition;
  return at === undefined || replayed === undefined ? undefined : Math.max(0, at - replayed);
}

/**
 * Bytes the replica's WAL (received or replayed, whichever is further) trails the leader's
 * current position, read live from both: what maximum_lag_on_failover is measured against.
 * Patroni's own `lag` in GET /cluster compares positions each member wrote to the DCS at its
 * last loop, up to loop_wait apart, so under write load it shows megabytes a live reading
 * does not have.
 */
export function receivedLag(states: MemberStates, leader: string, host: string): number | undefined {
  const at = states.get(leader)?.walPosition;
  const s = states.get(host);
  const positions = [s?.walPosition, s?.replayedPosition].filter((p): p is number => p !== undefined);
  return at === undefined || positions.length === 0 ? undefined : Math.max(0, at - Math.max(...positions));
}

/**
 * A replica is healthy when it runs, waits for no restart (unless `allowPending`), streams
 * from the leader, and has replayed to within `lagLimit` bytes of it (or past `replayedAtLeast`).
 */
export function replicaHealth(
  states: MemberStates,
  leader: string,
  host: string,
  opts: { lagLimit: number; allowPending?: boolean; replayedAtLeast?: number },
): Verdict {
  const s = states.get(host);
  if (!s) return { healthy: false, status: `${host}: Patroni not answering` };
  if (s.state !== 'running') return { healthy: false, status: `${host}: ${s.state}` };
  if (s.pendingRestart && !opts.allowPending) return { healthy: false, status: `${host}: restart still pending` };
  const streaming = states.get(leader)?.replication.some((r) => r.applicationName === host && r.state === 'streaming') ?? false;
  if (!streaming) return { healthy: false, status: `${host}: running, not streaming from ${leader}` };
  const lag = replayLag(states, leader, host);
  if (lag === undefined) return { healthy: false, status: `${host}: streaming, replay position unknown` };
  if (opts.replayedAtLeast !== undefined && (s.replayedPosition ?? 0) < opts.replayedAtLeast) {
    return { healthy: false, status: `${host}: streaming, not yet replayed the leader's restart` };
  }
  if (lag > opts.lagLimit) return { healthy: false, status: `${host}: streaming, ${lag} bytes behind (limit ${opts.lagLimit})` };
  return { healthy: true, status: `${host}: streaming, ${lag} bytes behind` };
}

/** Every member running, one leader, every replica healthy: the condition to start (and continue) restarting. */
export function clusterHealth(states: MemberStates, cluster: Cluster, opts: { lagLimit: number; allowPending: boolean }): Verdict & { leader?: string } {
  const role = cluster.standby ? 'standby_leader' : 'leader';
  const leader = runningLeader(states, role);
  if (!leader) {
    const leaders = [...states].filter(([, s]) => s?.role === role).map(([h]) => h);
    return { healthy: false, status: leaders.length ? `leaders: ${leaders.join(', ')} (none running alone)` : 'no running leader' };
  }
  const problems = cluster.hosts
    .filter((h) => h !== leader)
    .map((h) => replicaHealth(states, leader, h, opts))
    .filter((v) => !v.healthy)
    .map((v) => v.status);
  return problems.length ? { healthy: false, status: problems.join('; '), leader } : { healthy: true, status: 'every replica streaming', leader };
}

/**
 * The replica to hand the leader to: healthy and up to date, allowed to fail over, and with
 * synchronous_mode the synchronous standby (Patroni refuses any other). The most replayed wins.
 */
export function switchoverCandidate(states: MemberStates, inventory: Inventory, cluster: Cluster, leader: string): string | undefined {
  const lagLimit = cluster.patroni.maximum_lag_on_failover;
  const sync = new Set(states.get(leader)?.replication.filter((r) => r.syncState === 'sync' || r.syncState === 'quorum').map((r) => r.applicationName));
  return cluster.hosts
    .filter((h) => h !== leader && !inventory.hosts[h]?.tags.nofailover)
    .filter((h) => replicaHealth(states, leader, h, { lagLimit }).healthy)
    .filter((h) => !cluster.patroni.synchronous_mode || sync.has(h))
    .sort((a, b) => (states.get(b)?.replayedPosition ?? 0) - (states.get(a)?.replayedPosition ?? 0))[0];
}
