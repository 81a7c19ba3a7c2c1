import type { Inventory } from '../inventory/schema.js';
import { hostPort } from './values.js';

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
  const etcd = inventory.etcd[etcdName];
  if (!etcd) throw new Error(`unknown etcd cluster ${etcdName}`);
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

export function addressOf(inventory: Inventory, host: string): string {
  const h = inventory.hosts[host];
  if (!h) throw new Error(`unknown host ${host}`);
  return h.address;
}

/** `addr:port` of every member of an etcd cluster (Patroni's etcd3.hosts). */
export function etcdClientEndpoints(inventory: Inventory, etcdName: string): string[] {
  const etcd = inventory.etcd[etcdName];
  if (!etcd) throw new Error(`unknown etcd cluster ${etcdName}`);
  return etcd.hosts.map((h) => hostPort(addressOf(inventory, h), etcd.client_port));
}
