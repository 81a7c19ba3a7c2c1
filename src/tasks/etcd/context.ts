import type { Inventory } from '../../inventory/schema.js';
import { addressOf, hostPort } from '../../model/topology.js';
import { CA_BUNDLE_PATH, certificatesOn, etcdMode, peersOverTls } from '../tls/model.js';

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
  /** TLS for clients and peers, both verified by certificate (set when the cluster serves a TLS cluster). */
  tls: { certFile: string; keyFile: string; caFile: string } | undefined;
}

/** The peer URL a member advertises (what `member add` registers and peers dial). */
export function etcdPeerUrl(inventory: Inventory, etcdName: string, host: string): string {
  const scheme = peersOverTls(etcdMode(inventory, etcdName)) ? 'https' : 'http';
  return `${scheme}://${hostPort(addressOf(inventory, host), inventory.etcd[etcdName]!.peer_port)}`;
}

/** The initial cluster of a cluster bootstrapped from the inventory: every member at once, `new`. */
export function bootstrapInitialCluster(inventory: Inventory, etcdName: string): EtcdInitialCluster {
  return { cluster: inventory.etcd[etcdName]!.hosts.map((h) => `${h}=${etcdPeerUrl(inventory, etcdName, h)}`).join(','), state: 'new' };
}

/** Values for one etcd member's environment file. Clients on loopback too: hapg reads etcd through SSH. */
export function etcdContext(inventory: Inventory, etcdName: string, host: string, initial: EtcdInitialCluster = bootstrapInitialCluster(inventory, etcdName)): EtcdContext {
  const etcd = inventory.etcd[etcdName]!;
  const address = addressOf(inventory, host);
  const mode = etcdMode(inventory, etcdName);
  // While a conversion moves clients to TLS, each client URL is served over http and https at once (one port, both schemes).
  const clientSchemes = mode === 'plain' ? ['http'] : mode === 'tls' ? ['https'] : ['http', 'https'];
  const peerScheme = peersOverTls(mode) ? 'https' : 'http';
  const clientUrls = (hostAndPort: string) => clientSchemes.map((s) => `${s}://${hostAndPort}`);
  const cert = certificatesOn(inventory, host).find((c) => c.service === 'etcd');
  return {
    name: host,
    cluster: etcdName,
    dataDir: etcd.data_dir,
    listenPeerUrls: `${peerScheme}://${hostPort(address, etcd.peer_port)}`,
    listenClientUrls: [...clientUrls(hostPort(address, etcd.client_port)), ...clientUrls(`127.0.0.1:${etcd.client_port}`)].join(','),
    advertisePeerUrls: etcdPeerUrl(inventory, etcdName, host),
    // Clients learn the other members from these (Patroni uses them as they are): https from the pass that moves Patroni to TLS.
    advertiseClientUrls: `${mode === 'tls' || mode === 'dual-clients-tls' ? 'https' : 'http'}://${hostPort(address, etcd.client_port)}`,
    initialCluster: initial.cluster,
    initialClusterToken: `hapg-${etcdName}`,
    initialClusterState: initial.state,
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    tls: mode !== 'plain' && cert ? { certFile: cert.certPath, keyFile: cert.keyPath, caFile: CA_BUNDLE_PATH } : undefined,
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
