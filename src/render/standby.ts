import type { Inventory } from '../inventory/schema.js';
import { addressOf } from './etcd-context.js';

/**
 * Patroni's `standby_cluster` section for a standby cluster: where its standby leader reaches
 * the source's primary, the permanent slot it streams from, and base backup as the only way
 * to create the first member (it clones the source; it never runs initdb).
 */
export interface StandbyClusterConfig {
  /** One address, or a comma-separated list (libpq tries each; Patroni adds target_session_attrs=read-write). */
  host: string;
  port: number;
  primary_slot_name: string;
  create_replica_methods: string[];
  recovery_min_apply_delay?: string;
  restore_command?: string;
}

/** The `standby_cluster` section of a standby cluster; undefined for a primary cluster. */
export function standbyClusterConfig(inventory: Inventory, name: string): StandbyClusterConfig | undefined {
  const standby = inventory.clusters[name]?.standby;
  if (!standby) return undefined;
  const source = inventory.clusters[standby.cluster]!;
  const endpoint = ((): { host: string; port: number } => {
    if (standby.source === 'vip' && source.vip && source.haproxy) return { host: source.vip.address, port: source.haproxy.read_write_port };
    if (standby.source === 'haproxy' && source.haproxy) {
      return { host: source.haproxy.hosts.map((h) => addressOf(inventory, h)).join(','), port: source.haproxy.read_write_port };
    }
    return { host: source.hosts.map((h) => addressOf(inventory, h)).join(','), port: source.postgres.port };
  })();
  const delay = standby.recovery_min_apply_delay;
  return {
    ...endpoint,
    primary_slot_name: standby.slot,
    create_replica_methods: ['basebackup'],
    ...(delay !== undefined ? { recovery_min_apply_delay: typeof delay === 'number' ? `${delay}ms` : delay } : {}),
    ...(standby.restore_command !== undefined ? { restore_command: standby.restore_command } : {}),
  };
}

/** The standby clusters that stream from `source`, by name. */
export function standbysOf(inventory: Inventory, source: string): string[] {
  return Object.entries(inventory.clusters)
    .filter(([, c]) => c.standby?.cluster === source)
    .map(([name]) => name);
}

/**
 * Hosts from which the source's primary sees replication connections of its standby
 * clusters: the standby members themselves (base backup and streaming with source
 * "members"), and the source's HAProxy hosts when the standby goes through HAProxy or the
 * VIP (HAProxy proxies TCP, so the connection comes from its host).
 */
export function standbyReplicationClients(inventory: Inventory, source: string): string[] {
  const hosts = new Set<string>();
  for (const name of standbysOf(inventory, source)) {
    const standby = inventory.clusters[name]!;
    for (const h of standby.hosts) hosts.add(h);
    if (standby.standby!.source !== 'members') for (const h of inventory.clusters[source]!.haproxy?.hosts ?? []) hosts.add(h);
  }
  return [...hosts];
}

/** Clusters in deploy order: every source before the standby clusters that stream from it. */
export function clustersInOrder(inventory: Inventory): string[] {
  const order: string[] = [];
  const visit = (name: string) => {
    if (order.includes(name)) return;
    const source = inventory.clusters[name]?.standby?.cluster;
    if (source) visit(source);
    order.push(name);
  };
  for (const name of Object.keys(inventory.clusters)) visit(name);
  return order;
}
