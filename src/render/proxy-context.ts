import type { Inventory } from '../inventory/schema.js';
import { addressOf } from './etcd-context.js';

export interface HaproxyContext {
  maxconn: number;
  clusters: {
    name: string;
    readWritePort: number;
    readOnlyPort: number;
    statsPort: number;
    replicaCheckPath: string;
    servers: { name: string; address: string; pgPort: number; restPort: number }[];
  }[];
}

/** haproxy.cfg for one host: a read-write and a read-only listener for every cluster it fronts. */
export function haproxyContext(inventory: Inventory, host: string): HaproxyContext {
  const clusters = Object.entries(inventory.clusters)
    .filter(([, c]) => c.haproxy?.hosts.includes(host))
    .map(([name, c]) => {
      const h = c.haproxy!;
      return {
        name,
        readWritePort: h.read_write_port,
        readOnlyPort: h.read_only_port,
        statsPort: h.stats_port,
        // Patroni answers 200 on /replica only for a running replica within this lag (and not noloadbalance).
        replicaCheckPath: `/replica?lag=${c.patroni.maximum_lag_on_failover}`,
        servers: c.hosts.map((member) => ({
          name: member,
          address: addressOf(inventory, member),
          pgPort: c.postgres.port,
          restPort: c.patroni.rest_api_port,
        })),
      };
    });
  return { maxconn: 4096, clusters };
}

export interface KeepalivedContext {
  routerId: string;
  instances: {
    name: string;
    interface: string;
    routerId: number;
    priority: number;
    sourceAddress: string;
    peers: string[];
    vip: string;
  }[];
}

/** keepalived.conf for one host: a VRRP instance per cluster whose VIP its HAProxy serves. */
export function keepalivedContext(inventory: Inventory, host: string): KeepalivedContext {
  const instances = Object.entries(inventory.clusters)
    .filter(([, c]) => c.vip && c.haproxy?.hosts.includes(host))
    .map(([name, c]) => {
      const vip = c.vip!;
      const proxies = c.haproxy!.hosts;
      return {
        name: `hapg_${name}`,
        interface: vip.interface,
        routerId: vip.router_id,
        // The first HAProxy host is preferred; nopreempt keeps the VIP where it is after a failure.
        priority: 150 - proxies.indexOf(host),
        sourceAddress: addressOf(inventory, host),
        peers: proxies.filter((h) => h !== host).map((h) => addressOf(inventory, h)),
        vip: `${vip.address}/${vip.prefix}`,
      };
    });
  return { routerId: host, instances };
}
