import { HapgError } from '../../errors.js';
import type { CommandFact } from '../../facts/fact.js';
import { etcdClient, patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { exec, service } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';
import { etcdClusterHealth, quorumOf } from '../etcd/health.js';
import { PATRONI_CONFIG_PATH, PATRONI_NAMESPACE } from '../patroni/model.js';
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

/** The scope a host's patroni.yml names ('' when it has none): who the host belongs to, even with Patroni stopped. */
export const configuredScope: CommandFact<string> = {
  id: 'patroni-configured-scope',
  argv: ['sed', '-n', 's/^scope: *//p', PATRONI_CONFIG_PATH],
  sudo: true,
  parse: (r) => (r.exitCode === 0 ? r.stdout.trim() : ''),
};

/** A UTC stamp for names of moved-aside data: 20261129T190512Z. */
export function wipeStamp(at: Date = new Date()): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

// Moved aside, never deleted: the operator removes it once sure. A rename on the same filesystem.
const MOVE_ASIDE = 'if [ -e "$1" ]; then mv -T -- "$1" "$1.hapg-wiped-$2"; fi';

/**
 * The clean procedure for a standby cluster whose data cannot be trusted or belongs to
 * another cluster: stop Patroni on every member, remove the cluster's state from its etcd
 * scope, move the data directories aside; the deploy graph then bootstraps it as a standby
 * of its source. Before anything stops, each member proves it is what the inventory says: a
 * Patroni of another scope on it (running, or in its patroni.yml) refuses the rebuild, and
 * preflight has refused hosts that are one machine under two names. Only the standby's own
 * members and scope are touched; the source is only read.
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
        const scope = model.cluster(name).scope;
        const api = patroniApi(model, name);
        for (const host of cluster.hosts) {
          const [running, configured] = await Promise.all([session.facts.get(host, api.state(host)), session.facts.get(host, configuredScope)]);
          const foreign = [running?.scope, configured].find((s) => s !== undefined && s !== '' && s !== scope);
          if (foreign !== undefined) {
            throw new HapgError('UNSAFE_OPERATION', `${host} belongs to Patroni scope ${foreign}, not ${scope}: refusing to stop or wipe it; nothing was changed`, {
              host,
              hint: `check that ${host} is really a member of standby cluster ${name} in the inventory`,
            });
          }
        }
        const pgCtl = `${model.cluster(name).binDir}/pg_ctl`;
        const prefix = `${PATRONI_NAMESPACE}${scope}/`;
        const dirs = [pg.data_dir, ...(pg.wal_dir ? [pg.wal_dir] : [])];
        const stamp = wipeStamp();
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
            { items: cluster.hosts.flatMap((h) => dirs.map((d) => exec(h, `move ${d} aside to ${d}.hapg-wiped-${stamp}`, ['sh', '-c', MOVE_ASIDE, 'sh', d, stamp]))) },
          ],
          notes: [
            `rebuilding ${name} as a standby of ${sourceName} (leader ${sourceLeader}): the data of ${cluster.hosts.join(', ')} is moved aside to ${dirs.map((d) => `${d}.hapg-wiped-${stamp}`).join(' and ')}; remove it once the rebuilt cluster is verified`,
          ],
        };
      },
    },
  ];
}
