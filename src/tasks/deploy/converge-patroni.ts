import { HapgError } from '../../errors.js';
import { fileStates } from '../../facts/files.js';
import { serviceStates } from '../../facts/services.js';
import { patroniScope } from '../../inventory/defaults.js';
import { clusterSecretKey, type InventorySecrets } from '../../inventory/secrets.js';
import type { Cluster } from '../../inventory/schema.js';
import { PATRONI_CONFIG_PATH, PATRONI_NAMESPACE, PATRONI_ROLES, PATRONI_UNIT_PATH } from '../../render/roles.js';
import { applyPlan } from '../../run/apply-plan.js';
import type { Session } from '../../run/session.js';
import type { PlanItem } from '../../run/steps.js';
import { etcdKeyExists } from '../etcd/facts.js';
import { pgData } from '../patroni/facts.js';
import { DEFAULT_ROLLING, restartPendingMembers, type RollingOptions } from '../patroni/rolling-restart.js';
import { configLoadTimes, waitForConfigReload } from '../patroni/config-reload.js';
import { parameterSettings } from '../patroni/pg-settings.js';
import { changedParameterNames, classifyParameters, describeParameterChange } from '../patroni/restart-plan.js';
import { desiredDynamicConfig, dynamicConfig, dynamicConfigChanges, planDynamicConfig } from '../patroni/dynamic-config.js';
import { memberSteps, planPatroniMember, type MemberPlan } from '../patroni/plan.js';
import { patroniState } from '../patroni/rest.js';
import { memberStates, waitForLeader, waitForStreamingReplicas } from '../patroni/wait.js';
import { standbyClusterConfig } from '../../render/standby.js';
import { RoleWatch, waitForSourceSlot, waitForStandbyLeader } from '../standby/bootstrap.js';
import { waitForHbaApplied } from '../patroni/hba-applied.js';
import { catalogFact, planPatroniRolePasswords } from '../postgres/roles.js';

export interface PatroniClusterPlan {
  /** The cluster's initialize key exists in etcd (undefined: etcd did not answer). */
  initialized: boolean | undefined;
  /** Member that initialises a new cluster. */
  bootstrapLeader: string;
  members: Map<string, { plan: MemberPlan; items: PlanItem[] }>;
}

/** Whether Patroni has initialised this cluster: its `initialize` key in etcd. */
export async function isClusterInitialized(session: Session, name: string, cluster: Cluster): Promise<boolean | undefined> {
  const etcd = session.loaded.inventory.etcd[cluster.etcd]!;
  const key = `${PATRONI_NAMESPACE}${patroniScope(name, cluster)}/initialize`;
  for (const host of etcd.hosts) {
    const exists = await session.facts.get(host, etcdKeyExists(etcd.client_port, key)).catch(() => undefined);
    if (exists !== undefined) return exists;
  }
  return undefined;
}

/** Plan of every member of one Patroni cluster (read-only), with the guard against unknown data. */
export async function planPatroniCluster(session: Session, secrets: InventorySecrets, name: string): Promise<PatroniClusterPlan> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const initialized = await isClusterInitialized(session, name, cluster);
  const members = new Map<string, { plan: MemberPlan; items: PlanItem[] }>();
  await Promise.all(
    cluster.hosts.map(async (host) => {
      const [files, services, state, data] = await Promise.all([
        session.facts.get(host, fileStates([PATRONI_CONFIG_PATH, PATRONI_UNIT_PATH])),
        session.facts.get(host, serviceStates(['patroni'])),
        session.facts.get(host, patroniState(cluster.patroni.rest_api_port)),
        session.facts.get(host, pgData(cluster.postgres.data_dir)),
      ]);
      const plan = planPatroniMember(inventory, name, host, secrets, { files, service: services.get('patroni'), state, hasData: data.exists });
      if (!initialized && data.exists && (host !== cluster.leader || cluster.standby)) {
        throw new HapgError(
          'UNSAFE_OPERATION',
          `${host}: ${cluster.postgres.data_dir} holds a PostgreSQL cluster, but cluster ${name} is not initialised in etcd: hapg will not start a member on data of unknown origin`,
          { host, hint: 'move the data directory away if it is not needed, or make this host the leader in the inventory' },
        );
      }
      members.set(host, { plan, items: memberSteps(inventory, name, host, plan) });
    }),
  );
  return { initialized, bootstrapLeader: cluster.leader, members };
}

/** Sets changed passwords of Patroni's roles on the running leader (none running: nothing to do yet). */
async function syncPatroniRolePasswords(session: Session, secrets: InventorySecrets, name: string): Promise<number> {
  const cluster = session.loaded.inventory.clusters[name]!;
  const states = await memberStates(session.facts, cluster);
  const leader = [...states].find(([, s]) => s?.role === 'leader' && s.state === 'running')?.[0];
  if (!leader) return 0;
  const { roles } = await session.facts.get(leader, catalogFact(cluster.postgres.port));
  const passwords = new Map(
    (['superuser', 'replication', 'rewind'] as const).map((r) => [PATRONI_ROLES[r], secrets.get(clusterSecretKey(name, r))!] as const),
  );
  return applyPlan(planPatroniRolePasswords(leader, cluster, passwords, roles), session, `patroni ${name} roles`);
}

/**
 * Converges one Patroni cluster. A new cluster: the designated leader starts alone and must
 * run as leader before the replicas start (in parallel) and stream. A live cluster: stopped
 * members start, members with a changed patroni.yml reload; nothing else is touched.
 */
export async function convergePatroni(
  session: Session,
  secrets: InventorySecrets,
  name: string,
  rolling: RollingOptions = DEFAULT_ROLLING,
): Promise<{ changes: number; leader: string }> {
  const cluster = session.loaded.inventory.clusters[name]!;
  const plan = await planPatroniCluster(session, secrets, name);
  if (plan.initialized === undefined) {
    throw new HapgError('CLUSTER_UNHEALTHY', `cannot read cluster ${name}'s state from etcd cluster ${cluster.etcd}`);
  }
  let changes = 0;
  if (plan.initialized) changes += await syncPatroniRolePasswords(session, secrets, name);
  const others = [...plan.members.keys()].filter((h) => plan.initialized || h !== plan.bootstrapLeader);
  // A new standby cluster is watched from its first start until every member streams: no
  // member may ever report the leader role.
  const watch = !plan.initialized && cluster.standby ? new RoleWatch(session, name) : undefined;
  let leader: string;
  try {
    if (!plan.initialized) {
      const leader = plan.members.get(plan.bootstrapLeader)!;
      if (cluster.standby) {
        await waitForSourceSlot(session, name);
        const config = standbyClusterConfig(session.loaded.inventory, name)!;
        session.sink({
          kind: 'info',
          host: plan.bootstrapLeader,
          message: `bootstrapping standby cluster ${name} on ${plan.bootstrapLeader}: base backup of ${cluster.standby.cluster} from ${config.host} port ${config.port}, then streaming through slot ${config.primary_slot_name}`,
        });
        const started = Date.now();
        changes += await applyPlan(leader.items, session, `patroni ${name}`);
        await waitForStandbyLeader(session, name, plan.bootstrapLeader, watch!);
        session.sink({
          kind: 'info',
          host: plan.bootstrapLeader,
          message: `standby leader ${plan.bootstrapLeader} streaming from ${cluster.standby.cluster}, slot active, ${((Date.now() - started) / 1000).toFixed(1)} s after its start`,
        });
      } else {
        session.sink({ kind: 'info', host: plan.bootstrapLeader, message: `initialising cluster ${name} on ${plan.bootstrapLeader}` });
        changes += await applyPlan(leader.items, session, `patroni ${name}`);
        await waitForLeader(session.facts, cluster, plan.bootstrapLeader);
      }
    }
    // Running members first (a changed pg_hba lets new members in), then the ones to start.
    const running = others.filter((h) => !plan.members.get(h)!.plan.start);
    const starting = others.filter((h) => plan.members.get(h)!.plan.start);
    changes += await applyPlan(running.flatMap((h) => plan.members.get(h)!.items), session, `patroni ${name}`);
    const reloaded = running.filter((h) => plan.members.get(h)!.plan.reload);
    if (reloaded.length > 0) await waitForHbaApplied(session, name, reloaded);
    changes += await applyPlan(starting.flatMap((h) => plan.members.get(h)!.items), session, `patroni ${name}`);
    leader = await waitForStreamingReplicas(session.facts, cluster, 300_000, watch && (() => watch.assert()));
  } finally {
    const summary = await watch?.stop();
    if (watch && summary) {
      watch.assert();
      const roles = [...summary.seen].map(([h, r]) => `${h} ${[...r].join('/')}`).join(', ');
      session.sink({ kind: 'info', message: `standby cluster ${name}: no member reported the leader role (${summary.polls} polls of every member; roles seen: ${roles})` });
    }
  }
  const configChanges = await convergeDynamicConfig(session, secrets, name, leader, rolling);
  // A rolling restart may have switched over: ask again who leads.
  return configChanges > 0 ? { changes: changes + configChanges, leader: await waitForStreamingReplicas(session.facts, cluster) } : { changes, leader };
}

/**
 * Cluster-wide settings (Patroni's dynamic configuration in etcd) through PATCH /config on the
 * leader: Patroni then reloads every member, and flags pending_restart where a parameter
 * needs a restart. Then every member so flagged (now, or left so by an earlier run that
 * stopped) restarts in the rolling order.
 */
export async function convergeDynamicConfig(
  session: Session,
  secrets: InventorySecrets,
  name: string,
  leader: string,
  rolling: RollingOptions = DEFAULT_ROLLING,
): Promise<number> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const live = await session.facts.get(leader, dynamicConfig(cluster.patroni.rest_api_port));
  const items = planDynamicConfig(leader, inventory, name, live, secrets.get(clusterSecretKey(name, 'rest_api'))!);
  const configChanges = live ? dynamicConfigChanges(live, desiredDynamicConfig(inventory, name)) : [];
  const names = changedParameterNames(configChanges);
  const parameters = names.length ? classifyParameters(configChanges, await session.facts.fresh(leader, parameterSettings(cluster.postgres.port, names))) : [];
  for (const p of parameters) session.sink({ kind: 'info', host: leader, message: `cluster ${name}: ${describeParameterChange(p)}` });
  const loadedBefore = parameters.length ? await configLoadTimes(session, name) : undefined;
  const changes = await applyPlan(items, session, `patroni ${name} dynamic configuration`);
  if (changes > 0 && loadedBefore) await waitForConfigReload(session, name, loadedBefore);
  return changes + (await restartPendingMembers(session, secrets, name, rolling));
}
