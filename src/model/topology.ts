// Facts of the inventory's shape every component reads: addresses, and which cluster streams
// from which. Pure functions of the inventory.
import { HapgError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';

/** The address a host is reached and advertised at. */
export function addressOf(inventory: Pick<Inventory, 'hosts'>, host: string): string {
  const h = inventory.hosts[host];
  if (!h) throw new HapgError('INTERNAL', `unknown host ${host}`);
  return h.address;
}

/** `host:port`, bracketing IPv6 addresses. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** An address as a single-host CIDR for pg_hba (/32 or /128); DNS names pass through. */
export function hostCidr(address: string): string {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) return `${address}/32`;
  if (address.includes(':')) return `${address}/128`;
  return address;
}

/** The standby clusters that stream from `source`, by name. */
export function standbysOf(inventory: Pick<Inventory, 'clusters'>, source: string): string[] {
  return Object.entries(inventory.clusters)
    .filter(([, c]) => c.standby?.cluster === source)
    .map(([name]) => name);
}

/** Clusters in deploy order: every source before the standby clusters that stream from it. */
export function clustersInOrder(inventory: Pick<Inventory, 'clusters'>): string[] {
  const order: string[] = [];
  const visit = (name: string, depth: number) => {
    if (order.includes(name) || depth > Object.keys(inventory.clusters).length) return;
    const source = inventory.clusters[name]?.standby?.cluster;
    if (source && Object.hasOwn(inventory.clusters, source)) visit(source, depth + 1);
    if (!order.includes(name)) order.push(name);
  };
  for (const name of Object.keys(inventory.clusters)) visit(name, 0);
  return order;
}

/** The primary cluster at the top of a standby chain (the inventory is validated: no loops). */
export function standbyRoot(inventory: Pick<Inventory, 'clusters'>, name: string): string {
  let current = name;
  for (let hops = 0; hops < Object.keys(inventory.clusters).length; hops++) {
    const next = inventory.clusters[current]?.standby?.cluster;
    if (next === undefined) return current;
    current = next;
  }
  return current;
}
