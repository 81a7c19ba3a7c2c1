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
import { convergeDynamicConfig, convergePatroni } from './converge-patroni.js';
import { standbyRaiseDue } from '../standby/ordering.js';
import { DEFAULT_ROLLING, type RollingOptions } from '../patroni/rolling-restart.js';
import { convergeProxies, waitForVip } from './converge-proxies.js';
import { assertLiveClustersHealthy } from './health-gate.js';
import { clustersInOrder } from '../../render/standby.js';
import { assertStandbyLayout } from '../standby/guard.js';
import { waitForSourceEndpoint } from '../standby/bootstrap.js';
import { verifyStandby, type StandbyVerifyResult } from '../standby/verify.js';

export interface DeployOptions {
  /** Deploy even when a live Patroni cluster is unhealthy. */
  force: boolean;
  /** The caller has just run the preflight on these hosts (standby rebuild). */
  preflightDone?: boolean;
  /** How members restart for parameters that need it (--no-switchover, --serial, --restart-timeout). */
  rolling?: Partial<Omit<RollingOptions, 'force'>>;
}

export interface ClusterReport {
  name: string;
  /** The leader, or a standby cluster's standby leader. */
  leader: string;
  vipHolder: string | undefined;
  verify?: VerifyResult;
  standby?: StandbyVerifyResult;
}

export interface DeployReport {
  changes: number;
  clusters: ClusterReport[];
}

/**
 * The ordered converge: preflight → health gate → packages → etcd quorum → Patroni leader
 * then replicas → roles and databases → HAProxy and keepalived → end-to-end verification.
 * Standby clusters come after their source, bootstrapped as standbys from their first start.
 * Each stage reads facts, plans, applies only what differs, and verifies before the next.
 */
export async function deploy(session: Session, secrets: InventorySecrets, opts: DeployOptions): Promise<DeployReport> {
  const { inventory } = session.loaded;
  const { sink } = session;
  if (!opts.preflightDone) {
    sink({ kind: 'phase', title: 'Preflight checks' });
    assertPreflightPassed(session, await runPreflight(session));
  }
  sink({ kind: 'phase', title: 'Checking live clusters' });
  await assertLiveClustersHealthy(session, opts);
  await assertStandbyLayout(session);

  let changes = 0;
  sink({ kind: 'phase', title: 'Packages' });
  changes += await convergePackages(session);

  for (const name of Object.keys(inventory.etcd)) {
    sink({ kind: 'phase', title: `etcd cluster ${name}` });
    changes += await convergeEtcd(session, name);
  }

  // Primary clusters, then HAProxy and keepalived (a standby cluster may reach its source
  // through them), then standby clusters after their source: the slot and pg_hba entries a
  // standby needs live on its source.
  const order = clustersInOrder(inventory);
  const rolling = { ...DEFAULT_ROLLING, ...opts.rolling, force: opts.force };
  const leaders = new Map<string, string>();
  // A raise of max_connections & co. reaches running standby clusters before their source.
  for (const name of order.filter((n) => inventory.clusters[n]!.standby)) {
    const due = await standbyRaiseDue(session, name);
    if (!due) continue;
    sink({ kind: 'phase', title: `Raising ${due.raised.join(', ')} on standby cluster ${name} before its source` });
    changes += await convergeDynamicConfig(session, secrets, name, due.leader, rolling);
  }
  for (const name of order.filter((n) => !inventory.clusters[n]!.standby)) {
    sink({ kind: 'phase', title: `Patroni cluster ${name}` });
    const result = await convergePatroni(session, secrets, name, rolling);
    changes += result.changes;
    leaders.set(name, result.leader);
    sink({ kind: 'phase', title: `Roles and databases of ${name}` });
    changes += await convergeRolesAndDatabases(session, secrets, name, result.leader);
  }

  sink({ kind: 'phase', title: 'HAProxy and keepalived' });
  changes += await convergeProxies(session);

  // A standby cluster is a read-only copy: its roles and databases are its source's.
  for (const name of order.filter((n) => inventory.clusters[n]!.standby)) {
    sink({ kind: 'phase', title: `Patroni cluster ${name} (standby of ${inventory.clusters[name]!.standby!.cluster})` });
    await waitForSourceEndpoint(session, name);
    const result = await convergePatroni(session, secrets, name, rolling);
    changes += result.changes;
    leaders.set(name, result.leader);
  }

  const clusters: ClusterReport[] = [];
  for (const name of order) {
    const cluster = inventory.clusters[name]!;
    sink({ kind: 'phase', title: `Verifying cluster ${name}` });
    const vipHolder = cluster.vip && cluster.haproxy ? await waitForVip(session, name, cluster) : undefined;
    const leader = leaders.get(name)!;
    if (cluster.standby) {
      const standby = await verifyStandby(session, name);
      sink({
        kind: 'info',
        message: `standby cluster ${name}: standby leader ${leader}; system identifier ${standby.systemId} as on ${standby.source}; a row with a ${standby.largeValueBytes}-byte out-of-line value written on ${standby.sourceLeader} read back intact on every member in ${standby.replicationMs} ms`,
      });
      clusters.push({ name, leader, vipHolder, standby });
      continue;
    }
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
