import { HapgError } from '../../errors.js';
import type { Session } from '../../run/session.js';
import { etcdClusterHealth } from '../etcd/wait.js';
import { memberStates } from '../patroni/wait.js';
import { isClusterInitialized } from './converge-patroni.js';

/** Member states that deploy cannot heal by starting a service: a person must look first. */
const BROKEN_STATES = new Set(['crashed', 'start failed', 'restart failed', 'stopping failed']);

/**
 * Before anything changes on a live system: every etcd cluster that runs has quorum, and
 * every initialised Patroni cluster has exactly one leader and no member in a failed state.
 * Stopped members are fine (deploy starts them); `force` skips the Patroni conditions.
 */
export async function assertLiveClustersHealthy(session: Session, opts: { force: boolean }): Promise<void> {
  const { inventory } = session.loaded;
  for (const [name, etcd] of Object.entries(inventory.etcd)) {
    const health = await etcdClusterHealth(session.facts, etcd);
    const quorum = Math.floor(etcd.hosts.length / 2) + 1;
    const answering = health.healthy.length + health.unhealthy.filter((u) => u.detail !== 'not answering').length;
    // Nothing answering is a cluster not deployed yet; answering without quorum is a broken one.
    if (answering > 0 && health.healthy.length < quorum) {
      throw new HapgError(
        'CLUSTER_UNHEALTHY',
        `etcd cluster ${name} has lost quorum (${health.healthy.length} of ${etcd.hosts.length} members healthy; ${health.unhealthy.map((u) => `${u.host}: ${u.detail}`).join('; ')})`,
        { hint: 'bring the failed etcd members back before deploying' },
      );
    }
  }
  if (opts.force) return;
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    if (!(await isClusterInitialized(session, name, cluster))) continue;
    const states = await memberStates(session.facts, cluster);
    const answering = [...states].filter(([, s]) => s !== undefined);
    if (answering.length === 0) continue;
    const leaders = answering.filter(([, s]) => s!.role === 'leader' || s!.role === 'standby_leader').map(([h]) => h);
    const broken = answering.filter(([, s]) => BROKEN_STATES.has(s!.state));
    const problem =
      leaders.length === 0
        ? 'has no leader'
        : leaders.length > 1
          ? `has ${leaders.length} leaders (${leaders.join(', ')})`
          : broken.length > 0
            ? `has members in a failed state (${broken.map(([h, s]) => `${h}: ${s!.state}`).join('; ')})`
            : undefined;
    if (problem) {
      throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} ${problem}: not changing anything`, {
        hint: 'see `hapg status`; fix the cluster or re-run with --force',
      });
    }
  }
}
