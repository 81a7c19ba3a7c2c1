import type { Cluster, Inventory } from '../../inventory/schema.js';
import type { PostgresEndpoint } from '../../model/endpoints.js';
import { addressOf } from '../../model/topology.js';

/** Where clients write: the VIP (HAProxy's read-write port behind it, or the leader itself), else the first HAProxy host, else the leader. */
export function writeEndpoint(inventory: Inventory, cluster: Cluster, leader: string): PostgresEndpoint {
  if (cluster.vip) return { address: cluster.vip.address, port: cluster.haproxy ? cluster.haproxy.read_write_port : cluster.postgres.port, via: 'VIP' };
  if (cluster.haproxy) {
    const h = cluster.haproxy.hosts[0]!;
    return { address: addressOf(inventory, h), port: cluster.haproxy.read_write_port, via: `HAProxy on ${h}` };
  }
  return { address: addressOf(inventory, leader), port: cluster.postgres.port, via: `leader ${leader}` };
}

/** Where clients read from replicas: HAProxy's read-only port (VIP first), else a replica directly. */
export function readEndpoint(inventory: Inventory, cluster: Cluster, leader: string): PostgresEndpoint | undefined {
  const replicas = cluster.hosts.filter((h) => h !== leader);
  if (replicas.length === 0) return undefined;
  if (cluster.haproxy && cluster.vip) return { address: cluster.vip.address, port: cluster.haproxy.read_only_port, via: 'VIP read-only port' };
  if (cluster.haproxy) {
    const h = cluster.haproxy.hosts[0]!;
    return { address: addressOf(inventory, h), port: cluster.haproxy.read_only_port, via: `HAProxy read-only port on ${h}` };
  }
  const r = replicas[0]!;
  return { address: addressOf(inventory, r), port: cluster.postgres.port, via: `replica ${r}` };
}
