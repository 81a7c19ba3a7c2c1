import type { Inventory } from '../../inventory/schema.js';
import { addressOf, hostPort } from '../../model/topology.js';
import { CA_BUNDLE_PATH, certificatesOn, etcdTls } from '../tls/model.js';

/** The distribution's etcd.service reads this file. */
export const ETCD_ENV_PATH = '/etc/default/etcd';

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

/** Values for one etcd member's environment file. Clients on loopback too: hapg reads etcd through SSH. */
export function etcdContext(inventory: Inventory, etcdName: string, host: string, state: 'new' | 'existing' = 'new'): EtcdContext {
  const etcd = inventory.etcd[etcdName]!;
  const address = addressOf(inventory, host);
  const secure = etcdTls(inventory, etcdName);
  const scheme = secure ? 'https' : 'http';
  const peerUrl = (h: string) => `${scheme}://${hostPort(addressOf(inventory, h), etcd.peer_port)}`;
  const cert = certificatesOn(inventory, host).find((c) => c.service === 'etcd');
  return {
    name: host,
    cluster: etcdName,
    dataDir: etcd.data_dir,
    listenPeerUrls: `${scheme}://${hostPort(address, etcd.peer_port)}`,
    listenClientUrls: `${scheme}://${hostPort(address, etcd.client_port)},${scheme}://127.0.0.1:${etcd.client_port}`,
    advertisePeerUrls: peerUrl(host),
    advertiseClientUrls: `${scheme}://${hostPort(address, etcd.client_port)}`,
    initialCluster: etcd.hosts.map((h) => `${h}=${peerUrl(h)}`).join(','),
    initialClusterToken: `hapg-${etcdName}`,
    initialClusterState: state,
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    tls: secure && cert ? { certFile: cert.certPath, keyFile: cert.keyPath, caFile: CA_BUNDLE_PATH } : undefined,
  };
}
