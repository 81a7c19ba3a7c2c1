import { randomBytes } from 'node:crypto';
import { HapgError } from '../../errors.js';
import type { Cluster, Inventory } from '../../inventory/schema.js';
import type { Secret } from '../../secret.js';
import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';
import { PATRONI_ROLES } from '../../render/roles.js';

export interface Endpoint {
  address: string;
  port: number;
  via: string;
}

/** Where clients write: the VIP, else the first HAProxy host, else the leader itself. */
export function writeEndpoint(inventory: Inventory, cluster: Cluster, leader: string): Endpoint {
  if (cluster.haproxy && cluster.vip) return { address: cluster.vip.address, port: cluster.haproxy.read_write_port, via: 'VIP' };
  if (cluster.haproxy) {
    const h = cluster.haproxy.hosts[0]!;
    return { address: inventory.hosts[h]!.address, port: cluster.haproxy.read_write_port, via: `HAProxy on ${h}` };
  }
  return { address: inventory.hosts[leader]!.address, port: cluster.postgres.port, via: `leader ${leader}` };
}

/** Where clients read from replicas: HAProxy's read-only port (VIP first), else a replica directly. */
export function readEndpoint(inventory: Inventory, cluster: Cluster, leader: string): Endpoint | undefined {
  const replicas = cluster.hosts.filter((h) => h !== leader);
  if (replicas.length === 0) return undefined;
  if (cluster.haproxy && cluster.vip) return { address: cluster.vip.address, port: cluster.haproxy.read_only_port, via: 'VIP read-only port' };
  if (cluster.haproxy) {
    const h = cluster.haproxy.hosts[0]!;
    return { address: inventory.hosts[h]!.address, port: cluster.haproxy.read_only_port, via: `HAProxy read-only port on ${h}` };
  }
  const r = replicas[0]!;
  return { address: inventory.hosts[r]!.address, port: cluster.postgres.port, via: `replica ${r}` };
}

// The password arrives as the first line of stdin, so it is in no command line or environment listing.
const PSQL_SCRIPT = [
  'IFS= read -r PGPASSWORD; export PGPASSWORD',
  'host="$1"; port="$2"; token="$3"; shift 3',
  'printf "%s\\n" "$@" | psql -X -q -A -t -v ON_ERROR_STOP=1 -v token="$token" \\',
  '  "host=$host port=$port user=' + PATRONI_ROLES.superuser + ' dbname=postgres connect_timeout=5"',
].join('\n');

const WRITE_SQL = [
  'create schema if not exists hapg;',
  'create table if not exists hapg.deploy_check (token text primary key, at timestamptz not null default now());',
  "delete from hapg.deploy_check where at < now() - interval '1 day';",
  "insert into hapg.deploy_check (token) values (:'token') returning pg_is_in_recovery();",
];
const READ_SQL = ["select count(*) || ' ' || pg_is_in_recovery() from hapg.deploy_check where token = :'token';"];

export interface VerifyResult {
  write: Endpoint;
  read: Endpoint | undefined;
  /** Milliseconds from the acknowledged write until a replica returned it. */
  replicationMs: number | undefined;
}

/**
 * The end-to-end check a client would make: a row written through the read-write endpoint
 * (it must land on a primary) is read back through the read-only endpoint from a replica.
 */
export async function verifyWriteRead(session: Session, name: string, leader: string, superuser: Secret): Promise<VerifyResult> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const remote = session.remotes.get(leader)!;
  const token = randomBytes(8).toString('hex');
  const psql = (e: Endpoint, sql: string[]) =>
    remote.exec(['sh', '-c', PSQL_SCRIPT, 'sh', e.address, String(e.port), token, ...sql], { stdin: `${superuser.reveal()}\n`, secrets: [superuser], timeoutMs: 20_000 });

  const write = writeEndpoint(inventory, cluster, leader);
  const wrote = await psql(write, WRITE_SQL);
  if (wrote.stdout.trim() !== 'f') {
    throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name}: a write through the ${write.via} (${write.address}:${write.port}) landed on a server in recovery`);
  }
  const written = Date.now();
  const read = readEndpoint(inventory, cluster, leader);
  if (!read) return { write, read, replicationMs: undefined };
  await waitUntil(
    `the row written through the ${write.via} to be readable through the ${read.via}`,
    async () => {
      const r = await psql(read, READ_SQL);
      const [count, inRecovery] = r.stdout.trim().split(' ');
      return { done: count === '1' && inRecovery === 'true', status: `found ${count ?? '?'} row(s), in recovery: ${inRecovery ?? '?'}` };
    },
    { timeoutMs: 30_000, intervalMs: 250, host: leader },
  );
  return { write, read, replicationMs: Date.now() - written };
}
