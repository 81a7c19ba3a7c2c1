import { formatPath, listNames } from '../issues.js';
import { allPlacements } from '../../model/model.js';
import { type CheckContext, has } from './context.js';

type PortUse = Pick<import('../../model/placement.js').PortUse, 'port' | 'path' | 'owner'>;

/** No two services listen on one port of one host, across every role the host has. */
export function checkPorts(ctx: CheckContext): void {
  const { inventory } = ctx;
  const usesByHost = new Map<string, PortUse[]>();
  const collisions = new Map<string, { use: PortUse; other: PortUse; hosts: string[] }>();

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
  // Every port every component listens on, from the model: a host in a second etcd cluster or
  // cluster has no placement there (that is reported as such, not as its port clashes).
  for (const p of allPlacements(inventory)) for (const use of p.ports) listen(p.host, use);

  for (const { use, other, hosts } of collisions.values()) {
    const clash = (a: PortUse, b: PortUse) => ({ path: a.path, message: `port ${a.port} on ${listNames(hosts)} is already taken by ${b.owner}: choose another port` });
    ctx.errorWith({ ...clash(use, other), alternative: clash(other, use) });
  }
}
