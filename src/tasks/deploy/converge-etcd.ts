import { HapgError } from '../../errors.js';
import { fileStates } from '../../facts/files.js';
import { serviceStates } from '../../facts/services.js';
import { ETCD_ENV_PATH } from '../../render/roles.js';
import { applyPlan } from '../../run/apply-plan.js';
import type { Session } from '../../run/session.js';
import { isNoop, type PlanItem } from '../../run/steps.js';
import { planEtcdMember } from '../etcd/plan.js';
import { etcdClusterHealth, waitForEtcdQuorum } from '../etcd/wait.js';

/** Plan of every member of one etcd cluster (read-only). */
export async function planEtcdCluster(session: Session, name: string): Promise<PlanItem[]> {
  const { inventory } = session.loaded;
  const etcd = inventory.etcd[name]!;
  const plans = await Promise.all(
    etcd.hosts.map(async (host) => {
      const [files, services] = await Promise.all([
        session.facts.get(host, fileStates([ETCD_ENV_PATH])),
        session.facts.get(host, serviceStates(['etcd'])),
      ]);
      return planEtcdMember(inventory, name, host, { envFile: files.get(ETCD_ENV_PATH), service: services.get('etcd') });
    }),
  );
  return plans.flat();
}

/**
 * Brings one etcd cluster to quorum: members that are not running start together (a new
 * member waits for its peers), members whose configuration changed restart one at a time,
 * each back in quorum before the next.
 */
export async function convergeEtcd(session: Session, name: string): Promise<number> {
  const etcd = session.loaded.inventory.etcd[name]!;
  const items = await planEtcdCluster(session, name);
  const restarts = items.filter((i) => !isNoop(i) && i.kind === 'service' && i.state === 'restarted');
  const starts = items.filter((i) => !isNoop(i) && i.kind === 'service' && i.state === 'started');
  if (restarts.length > 0 || starts.length > 0) {
    const before = await etcdClusterHealth(session.facts, etcd);
    // A member that is not in the running cluster's member list would start a cluster of its own.
    const strangers = before.healthy.length > 0 ? starts.map((s) => s.host).filter((h) => !before.members.includes(h)) : [];
    if (strangers.length > 0) {
      throw new HapgError(
        'UNSAFE_OPERATION',
        `etcd cluster ${name} is running without ${strangers.join(', ')}: adding members to a running etcd cluster is not supported yet`,
        { host: strangers[0]!, hint: `add the member with etcdctl member add, or remove it from etcd.${name}.hosts` },
      );
    }
    if (restarts.length > 0 && before.unhealthy.length > 0) {
      throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${name} is not healthy (${before.unhealthy.map((u) => `${u.host}: ${u.detail}`).join('; ')}): not restarting members`);
    }
  }
  let changes = await applyPlan(items.filter((i) => !restarts.includes(i)), session, `etcd ${name}`);
  for (const restart of restarts) {
    changes += await applyPlan([restart], session);
    await waitForEtcdQuorum(session.facts, name, etcd);
  }
  await waitForEtcdQuorum(session.facts, name, etcd);
  return changes;
}
