import { listNames, type PathSegment } from '../issues.js';
import { type CheckContext, clusterOfHost, has } from './context.js';

/** Every host, etcd cluster and role named in the inventory exists, and each host has one role of a kind. */
export function checkReferences(ctx: CheckContext): void {
  const { inventory } = ctx;
  const hostNames = Object.keys(inventory.hosts);
  const unknownHost = (host: string) => `unknown host "${host}": define it under hosts (defined: ${listNames(hostNames)})`;

  /** Reports unknown and repeated entries of one host list; returns the known ones with their paths. */
  const checkHostList = (hosts: readonly string[], base: PathSegment[]): [string, PathSegment[]][] => {
    const seen = new Set<string>();
    const known: [string, PathSegment[]][] = [];
    hosts.forEach((host, i) => {
      const path = [...base, i];
      if (!has(inventory.hosts, host)) ctx.error(path, unknownHost(host));
      else if (seen.has(host)) ctx.error(path, `host "${host}" is listed twice`);
      else known.push([host, path]);
      seen.add(host);
    });
    return known;
  };

  const etcdOfHost = new Map<string, string>();
  for (const [name, etcd] of Object.entries(inventory.etcd)) {
    for (const [host, path] of checkHostList(etcd.hosts, ['etcd', name, 'hosts'])) {
      const other = etcdOfHost.get(host);
      if (other !== undefined) {
        ctx.error(path, `host "${host}" is already a member of etcd cluster ${other}: hapg runs one etcd per host`);
      } else etcdOfHost.set(host, name);
    }
  }

  const etcdNames = Object.keys(inventory.etcd);
  const clusterOf = new Map<string, string>();
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    const base = ['clusters', name];
    if (cluster.etcd !== '' && !has(inventory.etcd, cluster.etcd)) {
      ctx.error([...base, 'etcd'], `unknown etcd cluster "${cluster.etcd}" (defined: ${listNames(etcdNames)})`);
    }
    for (const [host, path] of checkHostList(cluster.hosts, [...base, 'hosts'])) {
      const other = clusterOf.get(host);
      if (other !== undefined) {
        ctx.error(
          path,
          `host "${host}" is already a member of cluster ${other}: hapg runs one Patroni per host and the host name is its member name, so a host belongs to one cluster`,
        );
      } else clusterOf.set(host, name);
    }
    if (!cluster.hosts.includes(cluster.leader)) {
      ctx.error(
        [...base, 'leader'],
        has(inventory.hosts, cluster.leader)
          ? `"${cluster.leader}" is not one of this cluster's hosts (${listNames(cluster.hosts)})`
          : unknownHost(cluster.leader),
      );
    }
    if (cluster.haproxy) checkHostList(cluster.haproxy.hosts, [...base, 'haproxy', 'hosts']);
    if (!cluster.standby) {
      const users = Object.keys(cluster.postgres.users);
      for (const [db, spec] of Object.entries(cluster.postgres.databases)) {
        if (spec.owner !== 'postgres' && !users.includes(spec.owner)) {
          ctx.error(
            [...base, 'postgres', 'databases', db, 'owner'],
            `unknown role "${spec.owner}": define it under clusters.${name}.postgres.users (or use postgres)`,
          );
        }
      }
    }
  }

  const memberOf = clusterOfHost(inventory);
  for (const [name, host] of Object.entries(inventory.hosts)) {
    const from = host.tags.replicatefrom;
    if (from === undefined) continue;
    const path = ['hosts', name, 'tags', 'replicatefrom'];
    if (from === name) ctx.error(path, 'a host cannot replicate from itself');
    else if (!has(inventory.hosts, from)) ctx.error(path, unknownHost(from));
    else if (memberOf.get(name) === undefined) ctx.error(path, `${name} runs no PostgreSQL (it is in no cluster); remove the tag`);
    else if (memberOf.get(from) !== memberOf.get(name)) {
      ctx.error(path, `"${from}" is not a member of cluster ${memberOf.get(name)}, the cluster of ${name}`);
    }
  }
}
