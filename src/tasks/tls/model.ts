// Which hops use TLS and which certificates each host needs, with which names: pure functions
// of the inventory. TLS is on for a cluster (the default) unless it says `tls: false`; an etcd
// cluster uses TLS (and authentication) when any cluster it serves asks for it.
import { isIP } from 'node:net';
import type { Inventory } from '../../inventory/schema.js';
import { addressOf } from '../../model/topology.js';
import type { San } from '../../pki/x509.js';

/** Where TLS files live on every host. */
export const TLS_DIR = '/etc/hapg/tls';
/** The CAs a host trusts (PEM bundle, public). */
export const CA_BUNDLE_PATH = `${TLS_DIR}/ca.crt`;

/** The services hapg issues certificates for: etcd (server and peer) and PostgreSQL (server, Patroni's REST API, Patroni's etcd client). */
export type CertService = 'etcd' | 'postgres';

/** One certificate on one host: where it and its key live, who reads the key, the names it must carry. */
export interface ServiceCertificate {
  host: string;
  service: CertService;
  certPath: string;
  keyPath: string;
  /** The key's owner (mode 0600): the service's user. */
  owner: string;
  sans: San[];
}

/** Whether a cluster's PostgreSQL, REST API and checks use TLS. */
export function clusterTls(inventory: Pick<Inventory, 'clusters'>, cluster: string): boolean {
  return inventory.clusters[cluster]?.tls === true;
}

/** Clusters whose state lives in etcd cluster `name`. */
export function clustersOnEtcd(inventory: Pick<Inventory, 'clusters'>, name: string): string[] {
  return Object.entries(inventory.clusters)
    .filter(([, c]) => c.etcd === name)
    .map(([n]) => n);
}

/**
 * Whether an etcd cluster serves TLS with client certificates and authentication: when a
 * cluster on it asks for TLS, or when none uses it yet (TLS is the default: a Patroni cluster
 * added later must not find it in plaintext).
 */
export function etcdTls(inventory: Pick<Inventory, 'clusters'>, name: string): boolean {
  const clusters = clustersOnEtcd(inventory, name);
  return clusters.length === 0 || clusters.some((c) => clusterTls(inventory, c));
}

/**
 * How an etcd cluster serves right now, as deploy renders it: `plain` and `tls` are the two
 * steady states; a conversion from plaintext passes through `dual` (clients served over http
 * and https on the same port, peers still http, TLS files in place), `dual-peers-tls` (peers
 * over https too) and `dual-clients-tls` (https client URLs advertised: Patroni takes the
 * member list's URLs as they are, and its TLS client cannot use plain ones). Authentication
 * is enabled only in `tls`.
 */
export type EtcdMode = 'plain' | 'dual' | 'dual-peers-tls' | 'dual-clients-tls' | 'tls';

export function etcdMode(inventory: Pick<Inventory, 'clusters' | 'tlsConversion'>, name: string): EtcdMode {
  const moving = inventory.tlsConversion?.etcd[name];
  if (moving) return moving;
  return etcdTls(inventory, name) ? 'tls' : 'plain';
}

/** Whether etcd's peers talk https in this mode. */
export const peersOverTls = (mode: EtcdMode) => mode !== 'plain' && mode !== 'dual';

/**
 * How a Patroni cluster's own hops run: `plain`, `tls`, or, while a conversion prepares,
 * `ssl-prepared` (PostgreSQL serves TLS and pg_hba admits both; the REST API and HAProxy's
 * checks are still plain).
 */
export type ClusterMode = 'plain' | 'ssl-prepared' | 'tls';

export function clusterMode(inventory: Pick<Inventory, 'clusters' | 'tlsConversion'>, name: string): ClusterMode {
  const conversion = inventory.tlsConversion;
  if (conversion?.clusters.includes(name) && conversion.pass !== 'clients') return 'ssl-prepared';
  return clusterTls(inventory, name) ? 'tls' : 'plain';
}

/** Whether Patroni of cluster `name` reaches its etcd over TLS and logs in (during a conversion: from the `clients` pass on). */
export function patroniEtcdSecure(inventory: Pick<Inventory, 'clusters' | 'tlsConversion'>, name: string): boolean {
  const etcd = inventory.clusters[name]!.etcd;
  const conversion = inventory.tlsConversion;
  if (conversion?.etcd[etcd]) return conversion.pass === 'clients';
  return etcdTls(inventory, etcd);
}

/** Whether this pass moves Patroni of cluster `name` to TLS towards its etcd (the conversion's `clients` pass). */
export function switchesEtcdTransport(inventory: Pick<Inventory, 'clusters' | 'tlsConversion'>, name: string): boolean {
  const conversion = inventory.tlsConversion;
  return conversion?.pass === 'clients' && conversion.etcd[inventory.clusters[name]!.etcd] !== undefined;
}

/** Whether the inventory needs a CA at all. */
export function tlsNeeded(inventory: Pick<Inventory, 'clusters' | 'etcd'>): boolean {
  return Object.keys(inventory.etcd).some((e) => etcdTls(inventory, e)) || Object.keys(inventory.clusters).some((c) => clusterTls(inventory, c));
}

/** An address as a SAN: an IP address, or a DNS name. */
export function addressSan(address: string): San {
  return isIP(address) ? { kind: 'IP', value: address.toLowerCase() } : { kind: 'DNS', value: address.toLowerCase() };
}

const uniqueSans = (sans: San[]): San[] => {
  const seen = new Set<string>();
  return sans.filter((s) => {
    const key = `${s.kind}:${s.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};

/** The names of a host as itself: its name, its address, and loopback (where it calls its own services). */
function selfSans(inventory: Inventory, host: string): San[] {
  return [{ kind: 'DNS', value: host }, addressSan(addressOf(inventory, host)), { kind: 'DNS', value: 'localhost' }, { kind: 'IP', value: '127.0.0.1' }];
}

/**
 * SANs of a cluster member's PostgreSQL certificate: its own names, and every name a client
 * may reach the cluster by and still land on this member's server: the VIP, and the HAProxy
 * hosts (HAProxy passes TCP through, so a standby or client connecting to an HAProxy host
 * verifies the member's certificate against the HAProxy host's name).
 */
export function postgresSans(inventory: Inventory, cluster: string, host: string): San[] {
  const c = inventory.clusters[cluster]!;
  // An unknown HAProxy host is reported by the inventory checks, which compute placements first.
  const proxies = (c.haproxy?.hosts ?? []).filter((h) => Object.hasOwn(inventory.hosts, h)).flatMap((h): San[] => [{ kind: 'DNS', value: h }, addressSan(addressOf(inventory, h))]);
  return uniqueSans([...selfSans(inventory, host), ...(c.vip ? [addressSan(c.vip.address)] : []), ...proxies]);
}

/** SANs of an etcd member's certificate: its own names (peers and clients use its address, hapg loopback). */
export function etcdSans(inventory: Inventory, host: string): San[] {
  return uniqueSans(selfSans(inventory, host));
}

/** The certificates hapg keeps on `host`, in a fixed order (etcd, then PostgreSQL). */
export function certificatesOn(inventory: Inventory, host: string): ServiceCertificate[] {
  const out: ServiceCertificate[] = [];
  const etcd = Object.entries(inventory.etcd).find(([, e]) => e.hosts.includes(host));
  if (etcd && etcdTls(inventory, etcd[0])) {
    out.push({ host, service: 'etcd', certPath: `${TLS_DIR}/etcd.crt`, keyPath: `${TLS_DIR}/etcd.key`, owner: 'etcd', sans: etcdSans(inventory, host) });
  }
  const cluster = Object.entries(inventory.clusters).find(([, c]) => c.hosts.includes(host));
  // Patroni presents this certificate to etcd too: a cluster that opted out still needs it on a TLS etcd.
  if (cluster && (clusterTls(inventory, cluster[0]) || etcdTls(inventory, cluster[1].etcd))) {
    out.push({ host, service: 'postgres', certPath: `${TLS_DIR}/postgres.crt`, keyPath: `${TLS_DIR}/postgres.key`, owner: 'postgres', sans: postgresSans(inventory, cluster[0], host) });
  }
  return out;
}

/** Whether `host` needs the CA bundle: it holds a certificate, or checks a TLS cluster's REST API (HAProxy, keepalived). */
export function trustsCa(inventory: Inventory, host: string): boolean {
  if (certificatesOn(inventory, host).length > 0) return true;
  return Object.entries(inventory.clusters).some(([name, c]) => clusterTls(inventory, name) && (c.haproxy?.hosts.includes(host) || (c.vip && !c.haproxy && c.hosts.includes(host))));
}

/** Every host that needs TLS material, in inventory order. */
export function tlsHosts(inventory: Inventory): string[] {
  return Object.keys(inventory.hosts).filter((h) => trustsCa(inventory, h));
}
