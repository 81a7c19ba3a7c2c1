import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';
import { CA_BUNDLE_PATH, clusterMode } from '../tls/model.js';

export const HAPROXY_CONFIG_PATH = '/etc/haproxy/haproxy.cfg';

export interface HaproxyContext {
  maxconn: number;
  clusters: {
    name: string;
    readWritePort: number;
    readOnlyPort: number;
    statsPort: number;
    /** `address:port` the client listeners bind: the host's address, and the VIP when the cluster has one. */
    readWriteBinds: string[];
    readOnlyBinds: string[];
    statsBind: string;
    replicaCheckPath: string;
    servers: { name: string; address: string; pgPort: number; restPort: number }[];
    /** Options of the health checks: HTTPS to a TLS cluster's REST API, its chain verified ('' for plain HTTP). */
    checkTls: string;
  }[];
}

/** haproxy.cfg for one host: a read-write and a read-only listener for every cluster it fronts. */
export function haproxyContext(model: DesiredState, host: string): HaproxyContext {
  const { inventory } = model;
  const clusters = model
    .placementsOn(host)
    .filter((p) => p.component === 'haproxy')
    .map((p) => {
      const c = inventory.clusters[p.of]!;
      const h = c.haproxy!;
      // HAProxy splits address and port at the last colon, IPv6 included.
      const addresses = [addressOf(inventory, host), ...(c.vip ? [c.vip.address] : [])];
      return {
        name: p.of,
        readWritePort: h.read_write_port,
        readOnlyPort: h.read_only_port,
        statsPort: h.stats_port,
        readWriteBinds: addresses.map((a) => `${a}:${h.read_write_port}`),
        readOnlyBinds: addresses.map((a) => `${a}:${h.read_only_port}`),
        statsBind: `${h.stats_listen === 'host' ? addressOf(inventory, host) : '127.0.0.1'}:${h.stats_port}`,
        // Patroni answers 200 on /replica only for a running replica within this lag (and not noloadbalance).
        replicaCheckPath: `/replica?lag=${c.patroni.maximum_lag_on_failover}`,
        checkTls: clusterMode(inventory, p.of) === 'tls' ? ` check-ssl verify required ca-file ${CA_BUNDLE_PATH}` : '',
        servers: c.hosts.map((member) => ({ name: member, address: addressOf(inventory, member), pgPort: c.postgres.port, restPort: c.patroni.rest_api_port })),
      };
    });
  return { maxconn: 4096, clusters };
}
