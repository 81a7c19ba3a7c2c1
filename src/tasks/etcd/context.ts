import type { Inventory } from '../../inventory/schema.js';
import { addressOf, hostPort } from '../../model/topology.js';

/** The distribution's etcd.service reads this file. */
export const ETCD_ENV_PATH = '/etc/default/etcd';

/**
 * What a member reads only at its first start, with an empty data directory: whom to join and
 * how. etcd ignores these lines once the member has data, so hapg keeps them as they were at
 * that start (a member that joined a running cluster says `existing` and who was there).
 */
export interface EtcdInitialCluster {
  /** `name=peerURL` of every member, comma-separated. */
  cluster: string;
  state: 'new' | 'existing';
}

export interface EtcdContext {
  name: string;
  cluster: string;
  dataDir: string;
  listenPeerUrls: string;
  listenClientUrls: string;
  advertisePeerUrls: string;
  advertiseClientUrls: string;
  initialCluster: string;
  initialClusterToken: string;
  initialClusterState: 'new' | 'existing';
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
}

/** The peer URL a member advertises (what `member add` registers and peers dial). */
export function etcdPeerUrl(inventory: Inventory, etcdName: string, host: string): string {
  return `http://${hostPort(addressOf(inventory, host), inventory.etcd[etcdName]!.peer_port)}`;
}

/** The initial cluster of a cluster bootstrapped from the inventory: every member at once, `new`. */
export function bootstrapInitialCluster(inventory: Inventory, etcdName: string): EtcdInitialCluster {
  return { cluster: inventory.etcd[etcdName]!.hosts.map((h) => `${h}=${etcdPeerUrl(inventory, etcdName, h)}`).join(','), state: 'new' };
}

/** Values for one etcd member's environment file. Clients on loopback too: hapg reads etcd through SSH. */
export function etcdContext(inventory: Inventory, etcdName: string, host: string, initial: EtcdInitialCluster = bootstrapInitialCluster(inventory, etcdName)): EtcdContext {
  const etcd = inventory.etcd[etcdName]!;
  const address = addressOf(inventory, host);
  return {
    name: host,
    cluster: etcdName,
    dataDir: etcd.data_dir,
    listenPeerUrls: `http://${hostPort(address, etcd.peer_port)}`,
    listenClientUrls: `http://${hostPort(address, etcd.client_port)},http://127.0.0.1:${etcd.client_port}`,
    advertisePeerUrls: etcdPeerUrl(inventory, etcdName, host),
    advertiseClientUrls: `http://${hostPort(address, etcd.client_port)}`,
    initialCluster: initial.cluster,
    initialClusterToken: `hapg-${etcdName}`,
    initialClusterState: initial.state,
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
  };
}

const INITIAL_CLUSTER_LINE = /^ETCD_INITIAL_CLUSTER="([^"]*)"$/m;
const INITIAL_STATE_LINE = /^ETCD_INITIAL_CLUSTER_STATE="(new|existing)"$/m;

/** The initial-cluster lines of an environment file hapg wrote (undefined when it has none). */
export function parseInitialCluster(envFile: string): EtcdInitialCluster | undefined {
  const cluster = INITIAL_CLUSTER_LINE.exec(envFile)?.[1];
  const state = INITIAL_STATE_LINE.exec(envFile)?.[1] as EtcdInitialCluster['state'] | undefined;
  return cluster !== undefined && state !== undefined ? { cluster, state } : undefined;
}

/** The etcd cluster an environment file hapg wrote belongs to (its header line), or undefined. */
export function etcdClusterOfEnvFile(envFile: string): string | undefined {
  return /^# Managed by hapg: etcd member \S+ of etcd cluster "([^"]+)"\./m.exec(envFile)?.[1];
}
