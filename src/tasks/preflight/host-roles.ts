import type { Inventory } from '../../inventory/schema.js';

/** A TCP port a host will listen on, and the processes that may already hold it (a live cluster). */
export interface ExpectedPort {
  port: number;
  role: string;
  owners: string[];
}

/** A path hapg will write data to on the host. */
export interface DataPath {
  path: string;
  role: string;
}

/** What one host is for, derived from the inventory: the ports and data paths its roles use. */
export interface HostRoles {
  host: string;
  roles: string[];
  ports: ExpectedPort[];
  dataPaths: DataPath[];
}

/** Lists every host's roles, ports and data paths. */
export function hostRoles(inventory: Inventory): HostRoles[] {
  const byHost = new Map<string, HostRoles>();
  const entry = (host: string): HostRoles => {
    let e = byHost.get(host);
    if (!e) {
      e = { host, roles: [], ports: [], dataPaths: [] };
      byHost.set(host, e);
    }
    return e;
  };
  for (const host of Object.keys(inventory.hosts)) entry(host);

  for (const [name, etcd] of Object.entries(inventory.etcd)) {
    for (const host of etcd.hosts) {
      const e = entry(host);
      e.roles.push(`etcd:${name}`);
      e.ports.push({ port: etcd.client_port, role: `etcd ${name} client`, owners: ['etcd'] });
      e.ports.push({ port: etcd.peer_port, role: `etcd ${name} peer`, owners: ['etcd'] });
      e.dataPaths.push({ path: etcd.data_dir, role: `etcd ${name}` });
    }
  }
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    for (const host of cluster.hosts) {
      const e = entry(host);
      e.roles.push(`postgres:${name}`);
      e.ports.push({ port: cluster.postgres.port, role: `postgres ${name}`, owners: ['postgres', 'patroni'] });
      e.ports.push({ port: cluster.patroni.rest_api_port, role: `patroni ${name} REST API`, owners: ['patroni'] });
      e.dataPaths.push({ path: cluster.postgres.data_dir, role: `postgres ${name} data` });
      if (cluster.postgres.wal_dir) e.dataPaths.push({ path: cluster.postgres.wal_dir, role: `postgres ${name} WAL` });
    }
    if (cluster.haproxy) {
      for (const host of cluster.haproxy.hosts) {
        const e = entry(host);
        e.roles.push(`haproxy:${name}`);
        for (const [port, what] of [
          [cluster.haproxy.read_write_port, 'read-write'],
          [cluster.haproxy.read_only_port, 'read-only'],
          [cluster.haproxy.stats_port, 'stats'],
        ] as const) {
          e.ports.push({ port, role: `haproxy ${name} ${what}`, owners: ['haproxy'] });
        }
      }
    }
  }
  return [...byHost.values()];
}
