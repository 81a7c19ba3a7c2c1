import type { InventorySecrets } from '../../inventory/secrets.js';
import { clustersInOrder, standbyClusterConfig } from '../../render/standby.js';
import { assertStandbyLayout } from '../standby/guard.js';
import { clusterSecretKey, userSecretKey } from '../../inventory/secrets.js';
import { dynamicConfig, planDynamicConfig } from '../patroni/dynamic-config.js';
import type { Session } from '../../run/session.js';
import type { PlanItem } from '../../run/steps.js';
import { planEtcdCluster } from '../deploy/converge-etcd.js';
import { planAllPackages } from '../deploy/converge-packages.js';
import { planPatroniCluster } from '../deploy/converge-patroni.js';
import { planProxies } from '../deploy/converge-proxies.js';
import { patroniState } from '../patroni/rest.js';
import { catalogFact, extensionsFact, planRolesAndDatabases } from '../postgres/roles.js';
import { DEFAULT_ROLLING, type RollingOptions } from '../patroni/rolling-restart.js';
import { describeRestartAction, type ParameterChange, type RestartAction } from '../patroni/restart-plan.js';
import { planRestarts } from './restarts.js';
import { planSequence, type SequenceStep } from './sequence.js';

export interface PlanSection {
  title: string;
  items: PlanItem[];
  /** Cluster-level actions in words (bootstrap order, what waits for what). */
  actions: string[];
  /** Changed PostgreSQL parameters and how each takes effect (dynamic configuration sections). */
  parameters?: ParameterChange[];
  /** The rolling restart deploy would run, and the lag a replica must be under before the next. */
  restarts?: { actions: RestartAction[]; lagLimit: number };
}

export interface Plan {
  sections: PlanSection[];
  /** Every reload, restart and switchover, per host, in the order deploy runs them. */
  sequence: SequenceStep[];
}

/**
 * What `deploy` would do, stage by stage, from the hosts' current facts. Nothing is changed.
 * Later stages are planned against the current state, so on bare hosts they show everything
 * they will write and start.
 */
export async function collectPlan(
  session: Session,
  secrets: InventorySecrets,
  rolling: Pick<RollingOptions, 'switchover' | 'batch'> = DEFAULT_ROLLING,
): Promise<Plan> {
  const { inventory } = session.loaded;
  // What deploy refuses (a standby over a different cluster, a conversion), plan refuses too.
  await assertStandbyLayout(session);
  const sections: PlanSection[] = [{ title: 'Packages', items: await planAllPackages(session), actions: [] }];
  for (const name of Object.keys(inventory.etcd)) {
    sections.push({ title: `etcd cluster ${name}`, items: await planEtcdCluster(session, name), actions: [] });
  }
  for (const name of clustersInOrder(inventory)) {
    const cluster = inventory.clusters[name]!;
    const plan = await planPatroniCluster(session, secrets, name);
    const items = [...plan.members.values()].flatMap((m) => m.items);
    const actions: string[] = [];
    if (plan.initialized === false || plan.initialized === undefined) {
      const replicas = cluster.hosts.filter((h) => h !== plan.bootstrapLeader);
      const standby = standbyClusterConfig(inventory, name);
      actions.push(
        (standby
          ? `bootstrap standby cluster ${name} on ${plan.bootstrapLeader} by base backup of ${cluster.standby!.cluster} (${standby.host} port ${standby.port}), never as a normal cluster; wait until it streams through slot ${standby.primary_slot_name}, watching every member's role`
          : `initialise cluster ${name} on ${plan.bootstrapLeader}, wait until it runs as leader`) +
          (replicas.length ? `, then start ${replicas.join(', ')} as replicas and wait until they stream` : ''),
      );
    }
    sections.push({ title: `Patroni cluster ${name}`, items, actions });

    const leader = await findLeader(session, name);
    if (leader) {
      const live = await session.facts.get(leader, dynamicConfig(cluster.patroni.rest_api_port));
      const items = planDynamicConfig(leader, inventory, name, live, secrets.get(clusterSecretKey(name, 'rest_api'))!);
      const section: PlanSection = { title: `Dynamic configuration of ${name}`, items, actions: [] };
      if (live) {
        const restarts = await planRestarts(session, name, leader, live, rolling);
        const lagLimit = cluster.patroni.maximum_lag_on_failover;
        section.parameters = restarts.parameters;
        if (restarts.actions.length) {
          section.restarts = { actions: restarts.actions, lagLimit };
          section.actions.push(...restarts.actions.map((a) => describeRestartAction(a, lagLimit)));
        }
      }
      sections.push(section);
      const port = cluster.postgres.port;
      const catalog = await session.facts.get(leader, catalogFact(port));
      const extensions = new Map<string, Set<string>>();
      for (const [db, spec] of Object.entries(cluster.postgres.databases)) {
        if (spec.extensions.length && catalog.databases.has(db)) extensions.set(db, await session.facts.get(leader, extensionsFact(port, db)));
      }
      const passwords = new Map(Object.keys(cluster.postgres.users).map((u) => [u, secrets.get(userSecretKey(name, u))!]));
      sections.push({ title: `Roles and databases of ${name}`, items: planRolesAndDatabases(leader, name, cluster, passwords, { ...catalog, extensions }), actions: [] });
    } else {
      const users = Object.keys(cluster.postgres.users);
      const dbs = Object.keys(cluster.postgres.databases);
      const what = [users.length && `roles ${users.join(', ')}`, dbs.length && `databases ${dbs.join(', ')}`].filter(Boolean).join(' and ');
      sections.push({ title: `Roles and databases of ${name}`, items: [], actions: what ? [`create ${what} on the leader once it runs`] : [] });
    }
  }
  sections.push({ title: 'HAProxy and keepalived', items: await planProxies(session), actions: [] });
  return { sections, sequence: planSequence(sections) };
}

async function findLeader(session: Session, name: string): Promise<string | undefined> {
  const cluster = session.loaded.inventory.clusters[name]!;
  for (const host of cluster.hosts) {
    const s = await session.facts.get(host, patroniState(cluster.patroni.rest_api_port));
    if (s?.role === 'leader' && s.state === 'running') return host;
  }
  return undefined;
}
