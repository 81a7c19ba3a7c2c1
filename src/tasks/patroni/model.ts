// A Patroni cluster's desired settings, derived once from the inventory: its scope, pg_hba,
// permanent slots, PostgreSQL parameters, the dynamic configuration Patroni keeps in etcd,
// and a standby cluster's standby_cluster section.
import { patroniScope } from '../../inventory/defaults.js';
import type { Cluster, Inventory } from '../../inventory/schema.js';
import { addressOf, hostCidr, standbysOf } from '../../model/topology.js';
import type { MemberRole } from './rest.js';
import { archiveParameters, FROM_REPOSITORY, restoreCommand } from '../pgbackrest/model.js';
import { clusterMode } from '../tls/model.js';

type Scalar = string | number | boolean;

/** PostgreSQL roles and the REST API user Patroni works with; fixed so every cluster reads alike. */
export const PATRONI_ROLES = {
  superuser: 'postgres',
  replication: 'replicator',
  rewind: 'rewind_user',
  restApi: 'patroni',
} as const;

/** Where hapg puts Patroni's configuration and unit on every PostgreSQL host. */
export const PATRONI_CONFIG_PATH = '/etc/patroni/patroni.yml';
export const PATRONI_UNIT_PATH = '/etc/systemd/system/patroni.service';
/** Patroni's etcd namespace (its default). */
export const PATRONI_NAMESPACE = '/service/';

/**
 * Parameters every hapg cluster needs for streaming replication and pg_rewind; the
 * inventory's parameters override them (they are settings, not invariants).
 */
export const BASE_PARAMETERS: Record<string, Scalar> = {
  wal_level: 'replica',
  hot_standby: 'on',
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_log_hints: 'on',
  password_encryption: 'scram-sha-256',
};

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

/** The cluster-wide settings hapg manages in Patroni's dynamic configuration (etcd). */
export interface DynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  synchronous_mode: boolean;
  synchronous_mode_strict: boolean;
  failsafe_mode: boolean;
  postgresql: { use_pg_rewind: boolean; use_slots: boolean; parameters: Record<string, Scalar> };
  /** Permanent slots, by name (the inventory's and those of standby clusters streaming from this one). */
  slots: Record<string, Record<string, string>>;
  /** Only on a standby cluster. */
  standby_cluster?: StandbyClusterConfig;
}

/** One Patroni cluster as the model holds it. */
export interface ClusterModel {
  name: string;
  /** Its name in etcd (the Patroni scope). */
  scope: string;
  spec: Cluster;
  /** The role of the member the others stream from: a standby cluster's leader is its standby leader. */
  leaderRole: MemberRole;
  hba: string[];
  dynamicConfig: DynamicConfig;
  standby: StandbyClusterConfig | undefined;
  binDir: string;
}

export function clusterModel(inventory: Inventory, name: string): ClusterModel {
  const spec = inventory.clusters[name]!;
  const standby = standbyClusterConfig(inventory, name);
  return {
    name,
    scope: patroniScope(name, spec),
    spec,
    leaderRole: spec.standby ? 'standby_leader' : 'leader',
    hba: hbaEntries(inventory, name),
    dynamicConfig: desiredDynamicConfig(inventory, name, standby),
    standby,
    binDir: `/usr/lib/postgresql/${spec.postgres.version}/bin`,
  };
}

/** The dynamic configuration the inventory asks for (the same values bootstrap.dcs seeds). */
function desiredDynamicConfig(inventory: Inventory, name: string, standby: StandbyClusterConfig | undefined): DynamicConfig {
  const cluster = inventory.clusters[name]!;
  const p = cluster.patroni;
  return {
    ttl: p.ttl,
    loop_wait: p.loop_wait,
    retry_timeout: p.retry_timeout,
    maximum_lag_on_failover: p.maximum_lag_on_failover,
    synchronous_mode: p.synchronous_mode,
    synchronous_mode_strict: p.synchronous_mode_strict,
    failsafe_mode: p.failsafe_mode,
    postgresql: { use_pg_rewind: p.use_pg_rewind, use_slots: p.use_slots, parameters: { ...BASE_PARAMETERS, ...archiveParameters(name, cluster), ...cluster.postgres.parameters } },
    slots: permanentSlots(inventory, name),
    ...(standby ? { standby_cluster: standby } : {}),
  };
}

/**
 * Patroni's permanent slots of a cluster: the inventory's, and one physical slot per standby
 * cluster streaming from it (kept on whichever member leads, across failovers).
 */
export function permanentSlots(inventory: Inventory, clusterName: string): Record<string, Record<string, string>> {
  const cluster = inventory.clusters[clusterName]!;
  const slots: Record<string, Record<string, string>> = {};
  for (const [name, slot] of Object.entries(cluster.patroni.permanent_slots)) {
    slots[name] = slot.type === 'logical' ? { type: 'logical', database: slot.database, plugin: slot.plugin } : { type: 'physical' };
  }
  for (const standby of standbysOf(inventory, clusterName)) slots[inventory.clusters[standby]!.standby!.slot] = { type: 'physical' };
  return slots;
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
    ...(standby.restore_command === FROM_REPOSITORY
      ? { restore_command: restoreCommand(standby.cluster) }
      : standby.restore_command !== undefined
        ? { restore_command: standby.restore_command }
        : {}),
  };
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

/** The unprivileged role hapg's write/read checks log in as, over the network like a client. */
export const CHECK_ROLE = 'hapg_check';

/**
 * pg_hba in order: the superuser only through the local socket by peer (never over the
 * network: Patroni itself uses the socket); replication only from the cluster's members and
 * its standby clusters' hosts; rewind only from the members; hapg's check role only into the
 * postgres database, from where its checks come (members, HAProxy hosts, a VIP without
 * HAProxy); then the inventory's own entries. Anything else is rejected by PostgreSQL's
 * default. Connections through HAProxy arrive from the HAProxy host's address: with HAProxy
 * on the members, the replication and rewind roles are reachable through it too, and only
 * their passwords keep them out.
 */
export function hbaEntries(inventory: Inventory, clusterName: string): string[] {
  const cluster = inventory.clusters[clusterName]!;
  const members = cluster.hosts.map((h) => hostCidr(addressOf(inventory, h)));
  const proxies = (cluster.haproxy?.hosts ?? []).map((h) => hostCidr(addressOf(inventory, h)));
  // A VIP on a member without HAProxy: a check through it from its holder comes from the VIP itself.
  const vip = cluster.vip && !cluster.haproxy ? [hostCidr(cluster.vip.address)] : [];
  const checkFrom = [...new Set([...members, ...proxies, ...vip])];
  const standbyClients = standbyReplicationClients(inventory, clusterName).map((h) => hostCidr(addressOf(inventory, h)));
  // Patroni asks its own replica for its timeline over a local replication connection.
  const replicationFrom = [...new Set(['127.0.0.1/32', '::1/128', ...members, ...standbyClients])];
  // The roles hapg and Patroni run on are admitted as above and nowhere else: an inventory
  // rule such as `host all all 10.0.0.0/8` must not open them to the network.
  // A TLS cluster admits hapg's and Patroni's network connections over TLS only.
  // While a conversion prepares, both: TLS connections and the plain ones still running.
  const mode = clusterMode(inventory, clusterName);
  const types = mode === 'tls' ? ['hostssl'] : mode === 'ssl-prepared' ? ['hostssl', 'host'] : ['host'];
  const rule = (rest: string) => types.map((t) => `${t} ${rest}`);
  const serviceRoles = [PATRONI_ROLES.superuser, PATRONI_ROLES.replication, PATRONI_ROLES.rewind, CHECK_ROLE].join(',');
  return [
    `local all ${PATRONI_ROLES.superuser} peer`,
    'local all all scram-sha-256',
    ...replicationFrom.flatMap((m) => rule(`replication ${PATRONI_ROLES.replication} ${m} scram-sha-256`)),
    ...members.flatMap((m) => rule(`all ${PATRONI_ROLES.rewind} ${m} scram-sha-256`)),
    ...checkFrom.flatMap((m) => rule(`postgres ${CHECK_ROLE} ${m} scram-sha-256`)),
    `host all ${serviceRoles} 0.0.0.0/0 reject`,
    `host all ${serviceRoles} ::/0 reject`,
    ...cluster.postgres.hba.map((e) => [e.type, e.database, e.user, ...(e.address ? [e.address] : []), e.method].join(' ')),
  ];
}
