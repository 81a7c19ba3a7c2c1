import type { InventorySecrets } from '../inventory/secrets.js';
import { clusterSecretKey } from '../inventory/secrets.js';
import type { Cluster, Inventory } from '../inventory/schema.js';
import { patroniScope } from '../inventory/defaults.js';
import type { Secret } from '../secret.js';
import { addressOf, etcdClientEndpoints } from './etcd-context.js';
import { PATRONI_NAMESPACE, PATRONI_ROLES } from './roles.js';
import { standbyClusterConfig, standbyReplicationClients, standbysOf, type StandbyClusterConfig } from './standby.js';
import { hostCidr, hostPort, yamlPairs, yamlString, yamlValue } from './values.js';

type Pair = { name: string; value: string };

export interface PatroniContext {
  scope: string;
  namespace: string;
  name: string;
  restApi: { listen: string; connectAddress: string; username: string; password: string };
  etcdHosts: string;
  dcs: {
    ttl: number;
    loopWait: number;
    retryTimeout: number;
    maximumLagOnFailover: number;
    synchronousMode: boolean;
    synchronousModeStrict: boolean;
    usePgRewind: boolean;
    useSlots: boolean;
    parameters: Pair[];
    slots: { name: string; fields: Pair[] }[];
    /** Set for a standby cluster: its first member clones the source by base backup. */
    standbyCluster: { fields: Pair[]; createReplicaMethods: string[] } | undefined;
  };
  initdb: string[];
  postgres: {
    listen: string;
    connectAddress: string;
    dataDir: string;
    binDir: string;
    pgpass: string;
    localParameters: Pair[];
    hba: string[];
  };
  auth: Record<'superuser' | 'replication' | 'rewind', { username: string; password: string }>;
  callbacks: Pair[];
  watchdog: { mode: string; device: string };
  tags: Pair[];
}

/**
 * Parameters every hapg cluster needs for streaming replication and pg_rewind; the
 * inventory's parameters override them (they are settings, not invariants).
 */
export const BASE_PARAMETERS: Record<string, string | number | boolean> = {
  wal_level: 'replica',
  hot_standby: 'on',
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_log_hints: 'on',
  password_encryption: 'scram-sha-256',
};

/** Everything in patroni.yml for one member, and the secrets inside it (for masking). */
export function patroniContext(
  inventory: Inventory,
  clusterName: string,
  host: string,
  secrets: InventorySecrets,
): { context: PatroniContext; secrets: Secret[] } {
  const cluster = clusterOf(inventory, clusterName);
  const address = addressOf(inventory, host);
  const secret = (name: 'superuser' | 'replication' | 'rewind' | 'rest_api'): Secret => {
    const value = secrets.get(clusterSecretKey(clusterName, name));
    if (!value) throw new Error(`secret ${clusterSecretKey(clusterName, name)} was not resolved`);
    return value;
  };
  const used = [secret('superuser'), secret('replication'), secret('rewind'), secret('rest_api')];
  const tags = inventory.hosts[host]?.tags;
  const p = cluster.patroni;
  const context: PatroniContext = {
    scope: patroniScope(clusterName, cluster),
    namespace: PATRONI_NAMESPACE,
    name: host,
    restApi: {
      listen: `0.0.0.0:${p.rest_api_port}`,
      connectAddress: hostPort(address, p.rest_api_port),
      username: PATRONI_ROLES.restApi,
      password: yamlString(secret('rest_api').reveal()),
    },
    etcdHosts: JSON.stringify(etcdClientEndpoints(inventory, cluster.etcd)),
    dcs: {
      ttl: p.ttl,
      loopWait: p.loop_wait,
      retryTimeout: p.retry_timeout,
      maximumLagOnFailover: p.maximum_lag_on_failover,
      synchronousMode: p.synchronous_mode,
      synchronousModeStrict: p.synchronous_mode_strict,
      usePgRewind: p.use_pg_rewind,
      useSlots: p.use_slots,
      parameters: yamlPairs({ ...BASE_PARAMETERS, ...cluster.postgres.parameters }),
      slots: Object.entries(permanentSlots(inventory, clusterName))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, fields]) => ({ name, fields: yamlPairs(fields) })),
      standbyCluster: standbyContext(standbyClusterConfig(inventory, clusterName)),
    },
    initdb: ['encoding: UTF8', 'locale: C.UTF-8', 'data-checksums', ...(cluster.postgres.wal_dir ? [`waldir: ${yamlString(cluster.postgres.wal_dir)}`] : [])],
    postgres: {
      listen: `${address === '127.0.0.1' ? address : `127.0.0.1,${address}`}:${cluster.postgres.port}`,
      connectAddress: hostPort(address, cluster.postgres.port),
      dataDir: cluster.postgres.data_dir,
      binDir: `/usr/lib/postgresql/${cluster.postgres.version}/bin`,
      pgpass: `/var/lib/postgresql/.pgpass_${clusterName}`,
      localParameters: yamlPairs({ unix_socket_directories: '/var/run/postgresql' }),
      hba: hbaEntries(inventory, clusterName).map(yamlString),
    },
    auth: {
      superuser: { username: PATRONI_ROLES.superuser, password: yamlString(secret('superuser').reveal()) },
      replication: { username: PATRONI_ROLES.replication, password: yamlString(secret('replication').reveal()) },
      rewind: { username: PATRONI_ROLES.rewind, password: yamlString(secret('rewind').reveal()) },
    },
    callbacks: Object.entries(p.callbacks)
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
      .map(([name, value]) => ({ name, value: yamlString(value) })),
    watchdog: { mode: yamlString(p.watchdog.mode), device: yamlString(p.watchdog.device) },
    tags: tagPairs(tags),
  };
  return { context, secrets: used };
}

/**
 * Patroni's permanent slots of a cluster: the inventory's, and one physical slot per standby
 * cluster streaming from it (kept on whichever member leads, across failovers).
 */
export function permanentSlots(inventory: Inventory, clusterName: string): Record<string, Record<string, string>> {
  const cluster = clusterOf(inventory, clusterName);
  const slots: Record<string, Record<string, string>> = {};
  for (const [name, slot] of Object.entries(cluster.patroni.permanent_slots)) {
    slots[name] = slot.type === 'logical' ? { type: 'logical', database: slot.database, plugin: slot.plugin } : { type: 'physical' };
  }
  for (const standby of standbysOf(inventory, clusterName)) slots[inventory.clusters[standby]!.standby!.slot] = { type: 'physical' };
  return slots;
}

function standbyContext(config: StandbyClusterConfig | undefined): PatroniContext['dcs']['standbyCluster'] {
  if (!config) return undefined;
  const { create_replica_methods, ...rest } = config;
  return { fields: yamlPairs(rest), createReplicaMethods: create_replica_methods };
}

/**
 * pg_hba in order: local superuser by peer, replication only from the cluster's members and
 * its standby clusters' hosts, rewind only from the members, the superuser from members and HAProxy hosts (hapg's checks go through HAProxy),
 * then the inventory's own entries. Anything else is rejected by PostgreSQL's default.
 */
export function hbaEntries(inventory: Inventory, clusterName: string): string[] {
  const cluster = clusterOf(inventory, clusterName);
  const members = cluster.hosts.map((h) => hostCidr(addressOf(inventory, h)));
  const proxies = (cluster.haproxy?.hosts ?? []).map((h) => hostCidr(addressOf(inventory, h)));
  const superuserFrom = [...new Set(['127.0.0.1/32', ...members, ...proxies])];
  const standbyClients = standbyReplicationClients(inventory, clusterName).map((h) => hostCidr(addressOf(inventory, h)));
  const replicationFrom = [...new Set([...members, ...standbyClients])];
  return [
    `local all ${PATRONI_ROLES.superuser} peer`,
    'local all all scram-sha-256',
    ...replicationFrom.map((m) => `host replication ${PATRONI_ROLES.replication} ${m} scram-sha-256`),
    ...members.map((m) => `host all ${PATRONI_ROLES.rewind} ${m} scram-sha-256`),
    ...superuserFrom.map((m) => `host all ${PATRONI_ROLES.superuser} ${m} scram-sha-256`),
    ...cluster.postgres.hba.map((e) => [e.type, e.database, e.user, ...(e.address ? [e.address] : []), e.method].join(' ')),
  ];
}

function tagPairs(tags: Inventory['hosts'][string]['tags'] | undefined): Pair[] {
  if (!tags) return [];
  const pairs: Pair[] = [
    { name: 'nofailover', value: String(tags.nofailover) },
    { name: 'noloadbalance', value: String(tags.noloadbalance) },
    { name: 'clonefrom', value: String(tags.clonefrom) },
    { name: 'nosync', value: String(tags.nosync) },
  ];
  if (tags.replicatefrom) pairs.push({ name: 'replicatefrom', value: yamlValue(tags.replicatefrom) });
  return pairs;
}

export function clusterOf(inventory: Inventory, name: string): Cluster {
  const cluster = inventory.clusters[name];
  if (!cluster) throw new Error(`unknown cluster ${name}`);
  return cluster;
}
