import { formatPath, listNames, type PathSegment } from '../issues.js';
import { type CheckContext, clusterOfHost, has } from './context.js';

interface PortUse {
  port: number;
  path: PathSegment[];
  /** Who listens, as the message names it: `etcd dc1 client_port`. */
  owner: string;
}

/** No two services listen on one port of one host, across every role the host has. */
export function checkPorts(ctx: CheckContext): void {
  const { inventory } = ctx;
  const usesByHost = new Map<string, PortUse[]>();
  const collisions = new Map<string, { use: PortUse; other: PortUse; hosts: string[] }>();

  const etcdOf = new Map<string, string>();
  for (const [name, etcd] of Object.entries(inventory.etcd)) for (const h of etcd.hosts) if (!etcdOf.has(h)) etcdOf.set(h, name);
  const clusterOf = clusterOfHost(inventory);

  const listen = (host: string, use: PortUse) => {
    if (!has(inventory.hosts, host)) return; // reported as an unknown host
    const uses = usesByHost.get(host) ?? [];
    usesByHost.set(host, uses);
    const key = formatPath(use.path);
    if (uses.some((u) => formatPath(u.path) === key)) return; // a host listed twice
    const other = uses.find((u) => u.port === use.port);
    if (other) {
      const found = collisions.get(key) ?? { use, other, hosts: [] };
      found.hosts.push(host);
      collisions.set(key, found);
    }
    uses.push(use);
  };

  for (const [name, host] of Object.entries(inventory.hosts)) {
    const override = host.ssh?.port;
    const path = override === undefined ? ['ssh', 'port'] : ['hosts', name, 'ssh', 'port'];
    listen(name, { port: override ?? inventory.ssh.port, path, owner: 'SSH' });
  }
  for (const [name, etcd] of Object.entries(inventory.etcd)) {
    // A host in a second etcd cluster or cluster is reported as such, not as its port clashes.
    for (const host of etcd.hosts.filter((h) => etcdOf.get(h) === name)) {
      listen(host, { port: etcd.client_port, path: ['etcd', name, 'client_port'], owner: `etcd ${name} client_port` });
      listen(host, { port: etcd.peer_port, path: ['etcd', name, 'peer_port'], owner: `etcd ${name} peer_port` });
    }
  }
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    const base = ['clusters', name];
    for (const host of cluster.hosts.filter((h) => clusterOf.get(h) === name)) {
      listen(host, { port: cluster.postgres.port, path: [...base, 'postgres', 'port'], owner: `cluster ${name} postgres.port` });
      listen(host, {
        port: cluster.patroni.rest_api_port,
        path: [...base, 'patroni', 'rest_api_port'],
        owner: `cluster ${name} patroni.rest_api_port`,
      });
    }
    const haproxy = cluster.haproxy;
    if (!haproxy) continue;
    for (const host of haproxy.hosts) {
      for (const key of ['read_write_port', 'read_only_port', 'stats_port'] as const) {
        listen(host, { port: haproxy[key], path: [...base, 'haproxy', key], owner: `cluster ${name} haproxy.${key}` });
      }
    }
  }

  for (const { use, other, hosts } of collisions.values()) {
    const clash = (a: PortUse, b: PortUse) => ({ path: a.path, message: `port ${a.port} on ${listNames(hosts)} is already taken by ${b.owner}: choose another port` });
    ctx.errorWith({ ...clash(use, other), alternative: clash(other, use) });
  }
}
