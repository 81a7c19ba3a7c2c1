import { HapgError } from '../../errors.js';
import { clusterSecretKey, type InventorySecrets } from '../../inventory/secrets.js';
import { PATRONI_ROLES } from '../../render/roles.js';
import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';
import { switchover } from '../switchover/switchover.js';
import { memberStates, waitForStreamingReplicas } from './wait.js';

/** Members that report pending_restart, read afresh. */
async function pendingMembers(session: Session, name: string): Promise<{ leader: string | undefined; pending: string[] }> {
  const cluster = session.loaded.inventory.clusters[name]!;
  const states = await memberStates(session.facts, cluster);
  const leader = [...states].find(([, s]) => s?.role === 'leader')?.[0];
  return { leader, pending: [...states].filter(([, s]) => s?.pendingRestart).map(([h]) => h) };
}

/** Asks Patroni on `host` (seen pending a restart) to restart its PostgreSQL, and waits until it streams again. */
async function restartMember(session: Session, secrets: InventorySecrets, name: string, host: string): Promise<void> {
  const cluster = session.loaded.inventory.clusters[name]!;
  session.sink({ kind: 'step', host, title: 'restart PostgreSQL (pending restart)' });
  const response = await session.remotes.get(host)!.http({
    method: 'POST',
    port: cluster.patroni.rest_api_port,
    path: '/restart',
    body: '{}',
    headers: { 'content-type': 'application/json' },
    basicAuth: { user: PATRONI_ROLES.restApi, password: secrets.get(clusterSecretKey(name, 'rest_api'))! },
    timeoutMs: 120_000,
  });
  if (response.status !== 200) {
    throw new HapgError('COMMAND_FAILED', `${host}: Patroni refused the restart (HTTP ${response.status}): ${response.body.trim().slice(0, 200)}`, { host });
  }
  session.facts.invalidate(host);
  await waitUntil(
    `${host} to run again without a pending restart, streaming`,
    async () => {
      const { pending } = await pendingMembers(session, name);
      return { done: !pending.includes(host), status: pending.includes(host) ? 'restart still pending' : 'restarted' };
    },
    { timeoutMs: 120_000, host },
  );
  await waitForStreamingReplicas(session.facts, cluster, 120_000);
  session.sink({ kind: 'change', host, title: 'restart PostgreSQL (pending restart)' });
}

/**
 * Applies parameters that need a restart with no write outage beyond a switchover: waits for
 * Patroni to flag the members (it does at its next loop after the PATCH), restarts replicas
 * one at a time — each back and streaming before the next — then switches over to a
 * restarted replica and restarts the old leader. Returns the restarts made.
 */
export async function rollingRestart(session: Session, secrets: InventorySecrets, name: string): Promise<number> {
  const cluster = session.loaded.inventory.clusters[name]!;
  const flagged = { pending: [] as string[], leader: undefined as string | undefined };
  await waitUntil(
    `Patroni to flag the members of ${name} for restart`,
    async () => {
      Object.assign(flagged, await pendingMembers(session, name));
      return { done: flagged.pending.length === cluster.hosts.length, status: `pending on ${flagged.pending.join(', ') || 'none'}` };
    },
    { timeoutMs: (cluster.patroni.loop_wait + 20) * 1000 },
  );
  session.sink({ kind: 'phase', title: `Rolling restart of ${name}` });
  let restarts = 0;
  for (const host of flagged.pending.filter((h) => h !== flagged.leader)) {
    await restartMember(session, secrets, name, host);
    restarts++;
  }
  const { leader, pending } = await pendingMembers(session, name);
  if (leader && pending.includes(leader)) {
    const moved = await switchover(session, secrets, name, undefined);
    await restartMember(session, secrets, name, moved.from);
    restarts++;
  }
  return restarts;
}
