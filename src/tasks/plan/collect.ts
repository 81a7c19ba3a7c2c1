import type { InventorySecrets } from '../../inventory/secrets.js';
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

export interface PlanSection {
  title: string;
  items: PlanItem[];
  /** Cluster-level actions in words (bootstrap order, what waits for what). */
  actions: string[];
}

/**
 * What `deploy` would do, stage by stage, from the hosts' current facts. Nothing is changed.
 * Later stages are planned against the current state, so on bare hosts they show everything
 * they will write and start.
 */
export async function collectPlan(session: Session, secrets: InventorySecrets): Promise<PlanSection[]> {
  const { inventory } = session.loaded;
  const sections: PlanSection[] = [{ title: 'Packages', items: await planAllPackages(session), actions: [] }];
  for (const name of Object.keys(inventory.etcd)) {
    sections.push({ title: `etcd cluster ${name}`, items: await planEtcdCluster(session, name), actions: [] });
  }
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    const plan = await planPatroniCluster(session, secrets, name);
    const items = [...plan.members.values()].flatMap((m) => m.items);
    const actions: string[] = [];
    if (plan.initialized === false || plan.initialized === undefined) {
      const replicas = cluster.hosts.filter((h) => h !== plan.bootstrapLeader);
      actions.push(
        `initialise cluster ${name} on ${plan.bootstrapLeader}, wait until it runs as leader` +
          (replicas.length ? `, then start ${replicas.join(', ')} as replicas and wait until they stream` : ''),
      );
    }
    sections.push({ title: `Patroni cluster ${name}`, items, actions });

    const leader = await findLeader(session, name);
    if (leader) {
      const live = await session.facts.get(leader, dynamicConfig(cluster.patroni.rest_api_port));
      sections.push({ title: `Dynamic configuration of ${name}`, items: planDynamicConfig(leader, cluster, live, secrets.get(clusterSecretKey(name, 'rest_api'))!), actions: [] });
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
  return sections;
}

async function findLeader(session: Session, name: string): Promise<string | undefined> {
  const cluster = session.loaded.inventory.clusters[name]!;
  for (const host of cluster.hosts) {
    const s = await session.facts.get(host, patroniState(cluster.patroni.rest_api_port));
    if (s?.role === 'leader' && s.state === 'running') return host;
  }
  return undefined;
}
