import { isIP } from 'node:net';
import { isDnsName, quote } from '../primitives.js';
import type { CheckContext } from './context.js';

/** postgresql.conf parameters hapg or Patroni set themselves, and what to use instead. */
const MANAGED_PARAMETERS: Record<string, string> = {
  port: 'set postgres.port instead',
  data_directory: 'set postgres.data_dir instead',
  listen_addresses: 'hapg sets it from the host address',
  cluster_name: 'Patroni sets it to the cluster name',
  hba_file: 'Patroni writes pg_hba.conf from postgres.hba',
  ident_file: 'Patroni manages it',
  config_file: 'Patroni manages it',
};

const CONTRADICTIONS: [string, string][] = [
  ['LOGIN', 'NOLOGIN'],
  ['CREATEDB', 'NOCREATEDB'],
  ['CREATEROLE', 'NOCREATEROLE'],
  ['INHERIT', 'NOINHERIT'],
  ['REPLICATION', 'NOREPLICATION'],
  ['BYPASSRLS', 'NOBYPASSRLS'],
  ['SUPERUSER', 'NOSUPERUSER'],
];

/** PostgreSQL settings of each cluster: parameters, directories, roles and pg_hba entries. */
export function checkPostgresSettings(ctx: CheckContext): void {
  for (const [name, cluster] of Object.entries(ctx.inventory.clusters)) {
    const base = ['clusters', name, 'postgres'];
    const pg = cluster.postgres;

    for (const [param, advice] of Object.entries(MANAGED_PARAMETERS)) {
      if (Object.hasOwn(pg.parameters, param)) ctx.error([...base, 'parameters', param], `is managed by hapg: ${advice}`);
    }
    if (pg.parameters['wal_level'] === 'minimal') {
      ctx.error([...base, 'parameters', 'wal_level'], 'minimal turns off replication: use replica or logical');
    }

    if (pg.wal_dir !== undefined) {
      const dataDir = pg.data_dir.replace(/\/+$/, '');
      const walDir = pg.wal_dir.replace(/\/+$/, '');
      if (walDir === dataDir || walDir.startsWith(`${dataDir}/`)) {
        ctx.error([...base, 'wal_dir'], `is inside data_dir (${pg.data_dir}): a separate WAL directory must be outside it`);
      }
    }

    for (const [user, spec] of Object.entries(pg.users)) {
      if (user === 'postgres') {
        ctx.error([...base, 'users', user], 'postgres is the superuser Patroni manages: set its password with secrets.superuser');
        continue;
      }
      const options: readonly string[] = spec.options;
      const clash = CONTRADICTIONS.find(([a, b]) => options.includes(a) && options.includes(b));
      if (clash) ctx.error([...base, 'users', user, 'options'], `${clash[0]} and ${clash[1]} contradict each other`);
    }

    pg.hba.forEach((entry, i) => {
      const path = [...base, 'hba', i];
      if (entry.type === 'local') {
        if (entry.address !== undefined) ctx.error([...path, 'address'], 'type local (Unix socket) takes no address: remove it');
      } else if (entry.address === undefined) {
        ctx.error([...path, 'address'], `is required for type ${entry.type} (for example 192.0.2.0/24, samenet or all)`);
      } else {
        const problem = hbaAddressProblem(entry.address);
        if (problem) ctx.error([...path, 'address'], problem);
        else if (entry.method === 'trust' && entry.allow_trust !== true) {
          const who = entry.user === 'all' ? 'as any role' : `as ${entry.user}`;
          ctx.error(
            [...path, 'method'],
            `trust lets anyone who reaches PostgreSQL from ${entry.address} log in ${who} without a password: use scram-sha-256, or add allow_trust: true to this entry to accept that`,
          );
        }
      }
      if (entry.allow_trust !== undefined && (entry.method !== 'trust' || entry.type === 'local')) {
        ctx.error([...path, 'allow_trust'], `only applies to method trust on a non-local entry (this one is ${entry.type} ${entry.method}): remove it`);
      }
    });
  }
}

function hbaAddressProblem(address: string): string | undefined {
  if (['all', 'samehost', 'samenet'].includes(address)) return undefined;
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(address);
  if (cidr) {
    const family = isIP(cidr[1] as string);
    const max = family === 4 ? 32 : family === 6 ? 128 : 0;
    if (max === 0) return `${quote(address)} is not an address range such as 192.0.2.0/24`;
    if (Number(cidr[2]) > max) return `${quote(address)} has a prefix longer than ${max}`;
    return undefined;
  }
  if (isIP(address) !== 0) return `${quote(address)} needs a prefix length, for example ${address}/${isIP(address) === 4 ? 32 : 128}`;
  if (isDnsName(address.startsWith('.') ? address.slice(1) : address)) return undefined;
  return `${quote(address)} is not an address range (192.0.2.0/24), a host name, samehost, samenet or all`;
}
