import type { InventorySecrets } from '../../inventory/secrets.js';
import { clusterSecretKey, requireSecret } from '../../inventory/secrets.js';
import type { Inventory } from '../../inventory/schema.js';
import type { DesiredState } from '../../model/model.js';
import { etcdClient } from '../../model/endpoints.js';
import { addressOf, hostPort } from '../../model/topology.js';
import { yamlPairs, yamlString, yamlValue } from '../../render/values.js';
import type { Secret } from '../../secret.js';
import { PATRONI_NAMESPACE, PATRONI_ROLES, type StandbyClusterConfig } from './model.js';
import { replicaFromRepository } from '../pgbackrest/model.js';
import { etcdUserOf } from '../etcd/auth.js';
import { CA_BUNDLE_PATH, certificatesOn, clusterMode, patroniEtcdSecure } from '../tls/model.js';

type Pair = { name: string; value: string };

/** A custom bootstrap of a new cluster (hapg restore): the command that fills the data directory, and the recovery settings PostgreSQL then starts with. */
export interface BootstrapMethod {
  name: string;
  command: string;
  recoveryConf: Record<string, string>;
}

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
    failsafeMode: boolean;
    usePgRewind: boolean;
    useSlots: boolean;
    parameters: Pair[];
    slots: { name: string; fields: Pair[] }[];
    /** Set for a standby cluster: its first member clones the source by base backup. */
    standbyCluster: { fields: Pair[]; createReplicaMethods: string[] } | undefined;
  };
  initdb: string[];
  /** A custom bootstrap (a point-in-time restore): Patroni runs the command instead of initdb, keeping the recovery settings it wrote. */
  bootstrapMethod: { name: string; command: string; recoveryConf: Pair[] } | undefined;
  postgres: {
    listen: string;
    connectAddress: string;
    dataDir: string;
    binDir: string;
    pgpass: string;
    localParameters: Pair[];
    hba: string[];
    /** create_replica_methods, in order (basebackup alone without backups). */
    replicaMethods: string[];
    /** The pgbackrest replica method's command (a cluster with backups). */
    pgbackrestCommand: string | undefined;
    /** restore_command Patroni gives every member in recovery. */
    restoreCommand: string | undefined;
  };
  auth: Record<'superuser' | 'replication' | 'rewind', { username: string; password: string }>;
  callbacks: Pair[];
  watchdog: { mode: string; device: string };
  tags: Pair[];
  /** The member's certificate for PostgreSQL and the REST API (a TLS cluster). */
  tls: { certFile: string; keyFile: string; caFile: string } | undefined;
  /** TLS and login towards a TLS etcd cluster. */
  etcdTls: { certFile: string; keyFile: string; caFile: string; username: string; password: string } | undefined;
  /** libpq's TLS settings of replication and rewind connections: the server verified by name. */
  replicationSsl: Pair[];
}

/** Lines of patroni.yml whose value is a password, wherever they sit: masked by position in plans. */
export const PATRONI_SECRET_LINES = /^(\s*password:\s*)(.*)$/;

/** Everything in patroni.yml for one member, and the secrets inside it (for masking). */
export function patroniContext(
  model: DesiredState,
  clusterName: string,
  host: string,
  secrets: InventorySecrets,
  opts: { bootstrap?: BootstrapMethod } = {},
): { context: PatroniContext; secrets: Secret[] } {
  const { inventory } = model;
  const cm = model.cluster(clusterName);
  const cluster = cm.spec;
  const address = addressOf(inventory, host);
  const secret = (name: 'superuser' | 'replication' | 'rewind' | 'rest_api'): Secret => requireSecret(secrets, clusterSecretKey(clusterName, name));
  const used = [secret('superuser'), secret('replication'), secret('rewind'), secret('rest_api')];
  const p = cluster.patroni;
  const dcs = cm.dynamicConfig;
  const fromRepository = replicaFromRepository(clusterName, cluster);
  const cert = certificatesOn(inventory, host).find((c) => c.service === 'postgres');
  const mode = clusterMode(inventory, clusterName);
  const certFiles = cert && { certFile: cert.certPath, keyFile: cert.keyPath, caFile: CA_BUNDLE_PATH };
  const tls = mode === 'tls' ? certFiles : undefined;
  // PostgreSQL serves TLS before the REST API does while a conversion prepares (clients may use it; pg_hba still admits plain).
  const pgSsl = mode !== 'plain' ? certFiles : undefined;
  let etcdLogin: PatroniContext['etcdTls'];
  if (patroniEtcdSecure(inventory, clusterName) && cert) {
    const password = requireSecret(secrets, clusterSecretKey(clusterName, 'etcd'));
    used.push(password);
    etcdLogin = { certFile: cert.certPath, keyFile: cert.keyPath, caFile: CA_BUNDLE_PATH, username: yamlString(etcdUserOf(clusterName)), password: yamlString(password.reveal()) };
  }
  const context: PatroniContext = {
    scope: cm.scope,
    namespace: PATRONI_NAMESPACE,
    name: host,
    restApi: {
      // Its own address only: HAProxy checks it there, hapg reaches it through SSH.
      listen: hostPort(address, p.rest_api_port),
      connectAddress: hostPort(address, p.rest_api_port),
      username: PATRONI_ROLES.restApi,
      password: yamlString(secret('rest_api').reveal()),
    },
    etcdHosts: JSON.stringify(etcdClient(model, cluster.etcd).endpoints),
    dcs: {
      ttl: dcs.ttl,
      loopWait: dcs.loop_wait,
      retryTimeout: dcs.retry_timeout,
      maximumLagOnFailover: dcs.maximum_lag_on_failover,
      synchronousMode: dcs.synchronous_mode,
      synchronousModeStrict: dcs.synchronous_mode_strict,
      failsafeMode: dcs.failsafe_mode,
      usePgRewind: dcs.postgresql.use_pg_rewind,
      useSlots: dcs.postgresql.use_slots,
      parameters: yamlPairs(dcs.postgresql.parameters),
      slots: Object.entries(dcs.slots)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, fields]) => ({ name, fields: yamlPairs(fields) })),
      standbyCluster: standbyContext(cm.standby),
    },
    initdb: ['encoding: UTF8', 'locale: C.UTF-8', 'data-checksums', ...(cluster.postgres.wal_dir ? [`waldir: ${yamlString(cluster.postgres.wal_dir)}`] : [])],
    bootstrapMethod: opts.bootstrap && { name: opts.bootstrap.name, command: yamlString(opts.bootstrap.command), recoveryConf: yamlPairs(opts.bootstrap.recoveryConf) },
    postgres: {
      // A VIP without HAProxy in front follows the leader: PostgreSQL listens on it on every member.
      listen: `${[...new Set(['127.0.0.1', address, ...(cluster.vip && !cluster.haproxy ? [cluster.vip.address] : [])])].join(',')}:${cluster.postgres.port}`,
      connectAddress: hostPort(address, cluster.postgres.port),
      dataDir: cluster.postgres.data_dir,
      binDir: cm.binDir,
      pgpass: `/var/lib/postgresql/.pgpass_${clusterName}`,
      localParameters: yamlPairs({
        unix_socket_directories: '/var/run/postgresql',
        ...(pgSsl ? { ssl: 'on', ssl_cert_file: pgSsl.certFile, ssl_key_file: pgSsl.keyFile, ssl_min_protocol_version: 'TLSv1.2' } : {}),
      }),
      hba: cm.hba.map(yamlString),
      replicaMethods: fromRepository?.methods ?? ['basebackup'],
      pgbackrestCommand: fromRepository && yamlString(fromRepository.command),
      restoreCommand: fromRepository && yamlString(fromRepository.restoreCommand),
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
    tags: tagPairs(inventory.hosts[host]?.tags),
    tls,
    etcdTls: etcdLogin,
    // Replication and rewind connect to a member's own address, which its certificate names. A
    // standby leader's stream (and its base backup) uses these too (Patroni merges
    // authentication.replication into the conninfo of standby_cluster's host): the source's
    // VIP or HAProxy hosts, which the source members' certificates also name (HAProxy passes
    // TCP through), signed by the same inventory CA.
    replicationSsl: tls ? yamlPairs({ sslmode: 'verify-full', sslrootcert: tls.caFile }) : [],
  };
  return { context, secrets: used };
}

function standbyContext(config: StandbyClusterConfig | undefined): PatroniContext['dcs']['standbyCluster'] {
  if (!config) return undefined;
  const { create_replica_methods, ...rest } = config;
  return { fields: yamlPairs(rest), createReplicaMethods: create_replica_methods };
}

/**
 * A member that may never become leader is not picked as the synchronous standby either,
 * unless the inventory says so: with synchronous_mode Patroni fails over (and switches over)
 * only to the synchronous standby, so a nofailover one would leave no failover at all.
 */
export function effectiveNosync(tags: Inventory['hosts'][string]['tags']): boolean {
  return tags.nosync ?? tags.nofailover;
}

function tagPairs(tags: Inventory['hosts'][string]['tags'] | undefined): Pair[] {
  if (!tags) return [];
  const pairs: Pair[] = [
    { name: 'nofailover', value: String(tags.nofailover) },
    { name: 'noloadbalance', value: String(tags.noloadbalance) },
    { name: 'clonefrom', value: String(tags.clonefrom) },
    { name: 'nosync', value: String(effectiveNosync(tags)) },
  ];
  if (tags.replicatefrom) pairs.push({ name: 'replicatefrom', value: yamlValue(tags.replicatefrom) });
  return pairs;
}
