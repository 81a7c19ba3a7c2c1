import { listNames } from '../issues.js';
import { type CheckContext, clusterOfHost } from './context.js';

/** etcd layouts that work but tolerate fewer failures than operators expect (warnings). */
export function checkEtcdLayout(ctx: CheckContext): void {
  const { inventory } = ctx;
  const postgresHosts = clusterOfHost(inventory);
  for (const [name, etcd] of Object.entries(inventory.etcd)) {
    const path = ['etcd', name, 'hosts'];
    const members = new Set(etcd.hosts).size;
    if (members === 1) {
      ctx.warn(path, 'a single etcd member is a single point of failure: while it is down no cluster can keep or elect a leader; use 3 or 5 members');
    } else if (members % 2 === 0) {
      const tolerated = members / 2 - 1;
      ctx.warn(
        path,
        `${members} members tolerate ${tolerated === 0 ? 'no failure' : `${tolerated} failure${tolerated === 1 ? '' : 's'}`}, no more than ${members - 1} would: use an odd number of members (3 or 5)`,
      );
    }
    const shared = etcd.hosts.filter((h) => postgresHosts.has(h));
    if (shared.length > 0) {
      ctx.warn(
        path,
        `${listNames([...new Set(shared)])} also run${shared.length === 1 ? 's' : ''} PostgreSQL: an I/O stall or load spike on a database host delays etcd, Patroni then cannot renew the leader key within ttl and demotes a healthy primary (a needless failover); in production give etcd hosts of its own`,
      );
    }
  }

  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    const etcd = inventory.etcd[cluster.etcd];
    if (!etcd) continue;
    const dcs = (hosts: string[]) => new Set(hosts.map((h) => inventory.hosts[h]?.datacenter).filter((dc) => dc !== undefined));
    const clusterDcs = dcs(cluster.hosts);
    const etcdDcs = dcs(etcd.hosts);
    if (clusterDcs.size > 0 && etcdDcs.size > 0 && ![...clusterDcs].some((dc) => etcdDcs.has(dc))) {
      ctx.warn(
        ['clusters', name, 'etcd'],
        `etcd cluster ${cluster.etcd} is in another datacenter (${listNames([...etcdDcs])}) than the cluster (${listNames([...clusterDcs])}): a link failure between them demotes the leader; give each datacenter its own etcd and use a standby cluster`,
      );
    }
  }
}
