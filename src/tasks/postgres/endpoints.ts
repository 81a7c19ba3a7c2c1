import type { Cluster, Inventory } from '../../inventory/schema.js';
import type { PostgresEndpoint } from '../../model/endpoints.js';
import { addressOf } from '../../model/topology.js';
import { CA_BUNDLE_PATH } from '../tls/model.js';

/** The CA bundle a client of the cluster verifies it with (none when the cluster opted out of TLS). */
const tlsOf = (cluster: Cluster): Pick<PostgresEndpoint, 'sslRootCert'> => (cluster.tls ? { sslRootCert: CA_BUNDLE_PATH } : {});

/** Where clients write: the VIP (HAProxy's read-write port behind it, or the leader itself), else the first HAProxy host, else the leader. */
export function writeEndpoint(inventory: Inventory, cluster: Cluster, leader: string): PostgresEndpoint {
  if (cluster.vip) return { address: cluster.vip.address, port: cluster.haproxy ? cluster.haproxy.read_write_port : cluster.postgres.port, via: 'VIP', ...tlsOf(cluster) };
  if (cluster.haproxy) {
    const h = cluster.haproxy.hosts[0]!;
    return { address: addressOf(inventory, h), port: cluster.haproxy.read_write_port, via: `HAProxy on ${h}`, ...tlsOf(cluster) };
  }
  return { address: addressOf(inventory, leader), port: cluster.postgres.port, via: `leader ${leader}`, ...tlsOf(cluster) };
}

/** Where clients read from replicas: HAProxy's read-only port (VIP first), else a replica directly. */
export function readEndpoint(inventory: Inventory, cluster: Cluster, leader: string): PostgresEndpoint | undefined {
  const replicas = cluster.hosts.filter((h) => h !== leader);
  if (replicas.length === 0) return undefined;
  if (cluster.haproxy && cluster.vip) return { address: cluster.vip.address, port: cluster.haproxy.read_only_port, via: 'VIP read-only port', ...tlsOf(cluster) };
  if (cluster.haproxy) {
    const h = cluster.haproxy.hosts[0]!;
    return { address: addressOf(inventory, h), port: cluster.haproxy.read_only_port, via: `HAProxy read-only port on ${h}`, ...tlsOf(cluster) };
  }
  const r = replicas[0]!;
  return { address: addressOf(inventory, r), port: cluster.postgres.port, via: `replica ${r}`, ...tlsOf(cluster) };
}
