import type { Inventory } from '../../inventory/schema.js';

/** Debian packages a host needs for its roles, sorted. */
export function wantedPackages(inventory: Inventory, host: string): string[] {
  const wanted = new Set<string>();
  for (const etcd of Object.values(inventory.etcd)) {
    if (etcd.hosts.includes(host)) wanted.add('etcd-server').add('etcd-client');
  }
  for (const cluster of Object.values(inventory.clusters)) {
    if (cluster.hosts.includes(host)) {
      wanted.add(`postgresql-${cluster.postgres.version}`).add('patroni').add('python3-etcd');
    }
    if (cluster.haproxy?.hosts.includes(host)) {
      wanted.add('haproxy');
      if (cluster.vip) wanted.add('keepalived');
    }
  }
  return [...wanted].sort();
}
