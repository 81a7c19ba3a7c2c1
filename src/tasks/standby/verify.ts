import { randomBytes } from 'node:crypto';
import { HapgError } from '../../errors.js';
import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';
import { psqlArgv } from '../postgres/roles.js';
import { primaryLeaderOf } from './bootstrap.js';
import { systemIdentifier } from './facts.js';

export interface StandbyVerifyResult {
  source: string;
  sourceLeader: string;
  systemId: string;
  /** Milliseconds from the acknowledged write on the source until every standby member returned the row intact. */
  replicationMs: number;
  /** Size of the out-of-line (TOASTed) value compared on every member. */
  largeValueBytes: number;
}

// 256 md5 sums: 8 kB of text that pglz cannot shrink, in a column with STORAGE EXTERNAL, so the
// value lives out of line in the TOAST table: exactly what a damaged standby loses first.
const WRITE_SQL = (token: string) => [
  'create schema if not exists hapg',
  'create table if not exists hapg.standby_check (token text primary key, payload text not null, at timestamptz not null default now())',
  'alter table hapg.standby_check alter column payload set storage external',
  "delete from hapg.standby_check where at < now() - interval '1 day'",
  `insert into hapg.standby_check (token, payload) select '${token}', string_agg(md5(random()::text || g::text), '') from generate_series(1, 256) g returning md5(payload), length(payload)`,
].join('; ');

const READ_SQL = (token: string) => `select md5(payload) from hapg.standby_check where token = '${token}'`;

/**
 * Proof that a standby cluster is a good copy of its source, beyond "streaming": the same
 * system identifier on every member, and a row with a large out-of-line value written on the
 * source's leader that every standby member then returns byte for byte (read in full).
 */
export async function verifyStandby(session: Session, name: string): Promise<StandbyVerifyResult> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const sourceName = cluster.standby!.cluster;
  const source = inventory.clusters[sourceName]!;
  const sourceLeader = await primaryLeaderOf(session, sourceName);
  if (!sourceLeader) throw new HapgError('CLUSTER_UNHEALTHY', `cannot verify standby cluster ${name}: its source ${sourceName} has no running leader`);

  const systemId = await session.facts.fresh(sourceLeader, systemIdentifier(source.postgres.port));
  if (!systemId) throw new HapgError('CLUSTER_UNHEALTHY', `${sourceLeader}: cannot read the system identifier of ${sourceName}`, { host: sourceLeader });
  for (const host of cluster.hosts) {
    const id = await session.facts.fresh(host, systemIdentifier(cluster.postgres.port));
    if (id !== systemId) {
      throw new HapgError('CLUSTER_UNHEALTHY', `${host}: system identifier ${id ?? 'unreadable'} differs from ${sourceName}'s ${systemId}: it is not a copy of the source`, { host });
    }
  }

  const token = randomBytes(8).toString('hex');
  const asPostgres = (port: number, sql: string) => ['runuser', '-u', 'postgres', '--', ...psqlArgv(port, 'postgres', sql)];
  const wrote = await session.remotes.get(sourceLeader)!.exec(asPostgres(source.postgres.port, WRITE_SQL(token)), { sudo: true, timeoutMs: 30_000, allowFailure: true });
  const [digest, length] = wrote.stdout.trim().split('\n').at(-1)!.split('\t');
  if (wrote.exitCode !== 0 || !digest) {
    throw new HapgError('COMMAND_FAILED', `${sourceLeader}: the check row could not be written on ${sourceName}: ${wrote.stderr.trim().slice(0, 200)}`, { host: sourceLeader });
  }
  const written = Date.now();
  for (const host of cluster.hosts) {
    await waitUntil(
      `${host} to return the check row written on ${sourceLeader}, its 8 kB out-of-line value intact`,
      async () => {
        const r = await session.remotes.get(host)!.exec(asPostgres(cluster.postgres.port, READ_SQL(token)), { sudo: true, timeoutMs: 20_000, allowFailure: true });
        const got = r.stdout.trim();
        if (r.exitCode !== 0) return { done: false, status: r.stderr.trim().slice(0, 200) };
        if (got && got !== digest) throw new HapgError('CLUSTER_UNHEALTHY', `${host}: the check row's large value differs from the source's (md5 ${got}, source ${digest})`, { host });
        return { done: got === digest, status: got ? 'intact' : 'row not replayed yet' };
      },
      { timeoutMs: 60_000, intervalMs: 250, host },
    );
  }
  return { source: sourceName, sourceLeader, systemId, replicationMs: Date.now() - written, largeValueBytes: Number(length) };
}
