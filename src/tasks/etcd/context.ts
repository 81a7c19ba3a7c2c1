import type { Inventory } from '../../inventory/schema.js';
import { addressOf, hostPort } from '../../model/topology.js';

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
}

/** Values for one etcd member's environment file. Clients on loopback too: hapg reads etcd through SSH. */
export function etcdContext(inventory: Inventory, etcdName: string, host: string, state: 'new' | 'existing' = 'new'): EtcdContext {
  const etcd = inventory.etcd[etcdName]!;
  const address = addressOf(inventory, host);
  const peerUrl = (h: string) => `http://${hostPort(addressOf(inventory, h), etcd.peer_port)}`;
  return {
    name: host,
    cluster: etcdName,
    dataDir: etcd.data_dir,
    listenPeerUrls: `http://${hostPort(address, etcd.peer_port)}`,
    listenClientUrls: `http://${hostPort(address, etcd.client_port)},http://127.0.0.1:${etcd.client_port}`,
    advertisePeerUrls: peerUrl(host),
    advertiseClientUrls: `http://${hostPort(address, etcd.client_port)}`,
    initialCluster: etcd.hosts.map((h) => `${h}=${peerUrl(h)}`).join(','),
    initialClusterToken: `hapg-${etcdName}`,
    initialClusterState: state,
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
  };
}
