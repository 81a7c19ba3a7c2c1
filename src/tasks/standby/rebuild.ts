import { HapgError } from '../../errors.js';
import { patroniScope } from '../../inventory/defaults.js';
import type { InventorySecrets } from '../../inventory/secrets.js';
import { PATRONI_NAMESPACE } from '../../render/roles.js';
import { applyPlan } from '../../run/apply-plan.js';
import type { Session } from '../../run/session.js';
import { exec, service, type HttpStep, type PlanItem } from '../../run/steps.js';
import { deploy, type DeployOptions, type DeployReport } from '../deploy/play.js';
import { etcdClusterHealth } from '../etcd/wait.js';
import { prefixRangeEnd } from '../etcd/facts.js';
import { assertPreflightPassed, runPreflight } from '../preflight/run.js';
import { primaryLeaderOf } from './bootstrap.js';

/** A named cluster that the inventory declares a standby; anything else is refused before any change. */
export function standbyClusterNamed(session: Session, name: string, command: string) {
  const { inventory, path } = session.loaded;
  const cluster = inventory.clusters[name];
  if (!cluster) {
    throw new HapgError('USAGE', `--cluster ${name}: no such cluster in ${path} (clusters: ${Object.keys(inventory.clusters).join(', ')})`);
  }
  if (!cluster.standby) {
    throw new HapgError('USAGE', `--cluster ${name}: the inventory does not declare it a standby cluster, and ${command} only works on standby clusters`, {
      hint: `declare the source first: clusters.${name}.standby: { cluster: <source> }`,
    });
  }
  return { ...cluster, standby: cluster.standby };
}

/**
 * The clean procedure for a standby cluster whose data cannot be trusted or belongs to
 * another cluster: stop Patroni on every member, remove the cluster's state from its etcd
 * scope, wipe the data directories, then bootstrap it as a standby of its source (a deploy).
 * Only the standby's own members and scope are touched; the source is only read.
 */
export async function rebuildStandby(session: Session, secrets: InventorySecrets, name: string, opts: DeployOptions): Promise<DeployReport> {
  const { inventory } = session.loaded;
  const cluster = standbyClusterNamed(session, name, 'standby rebuild');
  const sourceName = cluster.standby.cluster;
  const sink = session.sink;

  sink({ kind: 'phase', title: 'Preflight checks' });
  assertPreflightPassed(session, await runPreflight(session));
  const sourceLeader = await primaryLeaderOf(session, sourceName);
  if (!sourceLeader) {
    throw new HapgError('CLUSTER_UNHEALTHY', `source cluster ${sourceName} has no running leader: a standby can only be rebuilt from a running primary; nothing was changed`, {
      hint: `see \`hapg status -i ${session.loaded.path}\``,
    });
  }
  const etcd = inventory.etcd[cluster.etcd]!;
  const health = await etcdClusterHealth(session.facts, etcd);
  const etcdHost = health.healthy[0];
  if (!etcdHost || health.healthy.length < Math.floor(etcd.hosts.length / 2) + 1) {
    throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${cluster.etcd} has no quorum: cannot remove cluster ${name}'s state; nothing was changed`);
  }

  sink({ kind: 'phase', title: `Stopping standby cluster ${name}` });
  sink({ kind: 'info', message: `rebuilding ${name} as a standby of ${sourceName} (leader ${sourceLeader}): its members ${cluster.hosts.join(', ')} lose their data` });
  await applyPlan(cluster.hosts.map((h) => service(h, 'patroni', 'stopped')), session, `patroni ${name}`);
  const pgCtl = `/usr/lib/postgresql/${cluster.postgres.version}/bin/pg_ctl`;
  // Patroni stops its PostgreSQL; one started by hand would survive it and keep the files open.
  await applyPlan(
    cluster.hosts.map((h) =>
      exec(h, `make sure no PostgreSQL runs on ${cluster.postgres.data_dir}`, [
        'sh',
        '-c',
        `if [ -f "$1/postmaster.pid" ] && runuser -u postgres -- "$2" status -D "$1" >/dev/null 2>&1; then runuser -u postgres -- "$2" stop -D "$1" -m immediate -w; fi`,
        'sh',
        cluster.postgres.data_dir,
        pgCtl,
      ]),
    ),
    session,
    `postgres ${name}`,
  );

  sink({ kind: 'phase', title: `Removing ${name}'s state from etcd` });
  const prefix = `${PATRONI_NAMESPACE}${patroniScope(name, cluster)}/`;
  const remove: HttpStep = {
    kind: 'http',
    host: etcdHost,
    title: `delete etcd keys ${prefix}*`,
    port: etcd.client_port,
    method: 'POST',
    path: '/v3/kv/deleterange',
    body: { key: Buffer.from(prefix).toString('base64'), range_end: prefixRangeEnd(prefix).toString('base64') },
  };
  await applyPlan([remove], session, `etcd ${cluster.etcd}`);

  sink({ kind: 'phase', title: `Wiping the data of ${name}` });
  const wipe: PlanItem[] = cluster.hosts.flatMap((h) => [
    exec(h, `wipe ${cluster.postgres.data_dir}`, ['rm', '-rf', '--one-file-system', '--', cluster.postgres.data_dir]),
    ...(cluster.postgres.wal_dir ? [exec(h, `wipe ${cluster.postgres.wal_dir}`, ['rm', '-rf', '--one-file-system', '--', cluster.postgres.wal_dir])] : []),
  ]);
  await applyPlan(wipe, session, `data of ${name}`);
  for (const h of cluster.hosts) session.facts.invalidate(h);
  session.facts.invalidate(etcdHost);

  return deploy(session, secrets, { ...opts, preflightDone: true });
}
