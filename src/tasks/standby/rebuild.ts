import { HapgError } from '../../errors.js';
import { etcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { exec, service } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';
import { etcdClusterHealth, quorumOf } from '../etcd/health.js';
import { PATRONI_NAMESPACE } from '../patroni/model.js';
import { currentLeader } from '../patroni/waits.js';

/** A named cluster that the inventory declares a standby; anything else is refused before any change. */
export function standbyClusterNamed(model: DesiredState, inventoryPath: string, name: string, command: string) {
  const cluster = model.inventory.clusters[name];
  if (!cluster || !Object.hasOwn(model.inventory.clusters, name)) {
    throw new HapgError('USAGE', `--cluster ${name}: no such cluster in ${inventoryPath} (clusters: ${Object.keys(model.inventory.clusters).join(', ')})`);
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
 * scope, wipe the data directories; the deploy graph then bootstraps it as a standby of its
 * source. Only the standby's own members and scope are touched; the source is only read.
 */
export function rebuildStages(model: DesiredState, inventoryPath: string, name: string): Stage[] {
  const cluster = standbyClusterNamed(model, inventoryPath, name, 'standby rebuild');
  const sourceName = cluster.standby.cluster;
  const etcd = etcdClient(model, cluster.etcd);
  const pg = cluster.postgres;
  return [
    {
      id: `rebuild:${name}`,
      title: `Stopping standby cluster ${name}`,
      async plan({ session }) {
        const sourceLeader = await currentLeader(session.facts, model, sourceName);
        if (!sourceLeader) {
          throw new HapgError('CLUSTER_UNHEALTHY', `source cluster ${sourceName} has no running leader: a standby can only be rebuilt from a running primary; nothing was changed`, {
            hint: `see \`hapg status -i ${inventoryPath}\``,
          });
        }
        const health = await etcdClusterHealth(session.facts, etcd);
        const etcdHost = health.healthy[0];
        if (!etcdHost || health.healthy.length < quorumOf(etcd.hosts.length)) {
          throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${cluster.etcd} has no quorum: cannot remove cluster ${name}'s state; nothing was changed`);
        }
        const pgCtl = `${model.cluster(name).binDir}/pg_ctl`;
        const prefix = `${PATRONI_NAMESPACE}${model.cluster(name).scope}/`;
        const dirs = [pg.data_dir, ...(pg.wal_dir ? [pg.wal_dir] : [])];
        return {
          blocks: [
            { items: cluster.hosts.map((h) => service(h, 'patroni', 'stopped')) },
            {
              // Patroni stops its PostgreSQL; one started by hand would survive it and keep the files open.
              items: cluster.hosts.map((h) =>
                exec(h, `make sure no PostgreSQL runs on ${pg.data_dir}`, [
                  'sh',
                  '-c',
                  'if [ -f "$1/postmaster.pid" ] && runuser -u postgres -- "$2" status -D "$1" >/dev/null 2>&1; then runuser -u postgres -- "$2" stop -D "$1" -m immediate -w; fi',
                  'sh',
                  pg.data_dir,
                  pgCtl,
                ]),
              ),
            },
            { items: [etcd.deletePrefix(etcdHost, prefix)] },
            { items: cluster.hosts.flatMap((h) => dirs.map((d) => exec(h, `wipe ${d}`, ['rm', '-rf', '--one-file-system', '--', d]))) },
          ],
          notes: [`rebuilding ${name} as a standby of ${sourceName} (leader ${sourceLeader}): its members ${cluster.hosts.join(', ')} lose their data`],
        };
      },
    },
  ];
}
