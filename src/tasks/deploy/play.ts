import { HapgError } from '../../errors.js';
import { clusterSecretKey, userSecretKey, type InventorySecrets } from '../../inventory/secrets.js';
import { applyPlan } from '../../run/apply-plan.js';
import type { Session } from '../../run/session.js';
import type { Secret } from '../../secret.js';
import { catalogFact, extensionsFact, planRolesAndDatabases } from '../postgres/roles.js';
import { assertPreflightPassed, runPreflight } from '../preflight/run.js';
import { verifyWriteRead, type VerifyResult } from '../verify/write-read.js';
import { convergeEtcd } from './converge-etcd.js';
import { convergePackages } from './converge-packages.js';
import { convergePatroni } from './converge-patroni.js';
import { convergeProxies, waitForVip } from './converge-proxies.js';
import { assertLiveClustersHealthy } from './health-gate.js';

export interface DeployOptions {
  /** Deploy even when a live Patroni cluster is unhealthy. */
  force: boolean;
}

export interface ClusterReport {
  name: string;
  leader: string;
  vipHolder: string | undefined;
  verify: VerifyResult;
}

export interface DeployReport {
  changes: number;
  clusters: ClusterReport[];
}

/**
 * The ordered converge: preflight → health gate → packages → etcd quorum → Patroni leader
 * then replicas → roles and databases → HAProxy and keepalived → end-to-end verification.
 * Each stage reads facts, plans, applies only what differs, and verifies before the next.
 */
export async function deploy(session: Session, secrets: InventorySecrets, opts: DeployOptions): Promise<DeployReport> {
  const { inventory } = session.loaded;
  const { sink } = session;
  const standby = Object.entries(inventory.clusters).find(([, c]) => c.standby);
  if (standby) {
    throw new HapgError('UNSAFE_OPERATION', `cluster ${standby[0]} is a standby cluster: deploying standby clusters is not supported yet`);
  }

  sink({ kind: 'phase', title: 'Preflight checks' });
  assertPreflightPassed(session, await runPreflight(session));
  sink({ kind: 'phase', title: 'Checking live clusters' });
  await assertLiveClustersHealthy(session, opts);

  let changes = 0;
  sink({ kind: 'phase', title: 'Packages' });
  changes += await convergePackages(session);

  for (const name of Object.keys(inventory.etcd)) {
    sink({ kind: 'phase', title: `etcd cluster ${name}` });
    changes += await convergeEtcd(session, name);
  }

  const leaders = new Map<string, string>();
  for (const name of Object.keys(inventory.clusters)) {
    sink({ kind: 'phase', title: `Patroni cluster ${name}` });
    const result = await convergePatroni(session, secrets, name);
    changes += result.changes;
    leaders.set(name, result.leader);

    sink({ kind: 'phase', title: `Roles and databases of ${name}` });
    changes += await convergeRolesAndDatabases(session, secrets, name, result.leader);
  }

  sink({ kind: 'phase', title: 'HAProxy and keepalived' });
  changes += await convergeProxies(session);

  const clusters: ClusterReport[] = [];
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    sink({ kind: 'phase', title: `Verifying cluster ${name}` });
    const vipHolder = cluster.vip && cluster.haproxy ? await waitForVip(session, name, cluster) : undefined;
    const leader = leaders.get(name)!;
    const verify = await verifyWriteRead(session, name, leader, secretOf(secrets, clusterSecretKey(name, 'superuser')));
    sink({
      kind: 'info',
      message: `cluster ${name}: leader ${leader}; write through the ${verify.write.via} ${verify.read ? `read back through the ${verify.read.via} in ${verify.replicationMs} ms` : 'ok (no replica to read from)'}`,
    });
    clusters.push({ name, leader, vipHolder, verify });
  }
  return { changes, clusters };
}

async function convergeRolesAndDatabases(session: Session, secrets: InventorySecrets, name: string, leader: string): Promise<number> {
  const cluster = session.loaded.inventory.clusters[name]!;
  const port = cluster.postgres.port;
  const catalog = await session.facts.get(leader, catalogFact(port));
  const extensions = new Map<string, Set<string>>();
  for (const [db, spec] of Object.entries(cluster.postgres.databases)) {
    if (spec.extensions.length > 0 && catalog.databases.has(db)) extensions.set(db, await session.facts.get(leader, extensionsFact(port, db)));
  }
  const passwords = new Map(Object.keys(cluster.postgres.users).map((u) => [u, secretOf(secrets, userSecretKey(name, u))]));
  return applyPlan(planRolesAndDatabases(leader, name, cluster, passwords, { ...catalog, extensions }), session, 'roles and databases');
}

function secretOf(secrets: InventorySecrets, key: string): Secret {
  const s = secrets.get(key);
  if (!s) throw new HapgError('INTERNAL', `secret ${key} was not resolved`);
  return s;
}
