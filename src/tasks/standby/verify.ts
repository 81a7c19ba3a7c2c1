import { createHash, randomBytes } from 'node:crypto';
import { HapgError } from '../../errors.js';
import { LocalPostgres } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { wait } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';
import { waitForVip } from '../keepalived/vip.js';
import { currentLeader } from '../patroni/waits.js';
import { systemIdentifier } from './facts.js';

/** Bytes of the out-of-line value: 256 md5 sums, text pglz cannot shrink. */
export const LARGE_VALUE_BYTES = 256 * 32;

/** The check row's payload, computed here the same way the server does, so its digest is known before the write. */
export function checkPayloadDigest(token: string): string {
  let payload = '';
  for (let g = 1; g <= 256; g++) payload += createHash('md5').update(`${token}${g}`).digest('hex');
  return createHash('md5').update(payload).digest('hex');
}

// In a column with STORAGE EXTERNAL the value lives out of line in the TOAST table: exactly
// what a damaged standby loses first.
const WRITE_SQL = (token: string) =>
  [
    'create schema if not exists hapg;',
    'create table if not exists hapg.standby_check (token text primary key, payload text not null, at timestamptz not null default now());',
    'alter table hapg.standby_check alter column payload set storage external;',
    "delete from hapg.standby_check where at < now() - interval '1 day';",
    `insert into hapg.standby_check (token, payload) select '${token}', string_agg(md5('${token}' || g::text), '' order by g) from generate_series(1, 256) g returning md5(payload);`,
  ].join('\n');

/**
 * Proof that a standby cluster is a good copy of its source, beyond "streaming": the same
 * system identifier on every member, and a row with a large out-of-line value written on the
 * source's leader that every standby member then returns byte for byte (read in full).
 */
export function standbyVerifyStage(model: DesiredState, name: string): Stage {
  const cluster = model.inventory.clusters[name]!;
  const sourceName = cluster.standby!.cluster;
  const source = model.inventory.clusters[sourceName]!;
  return {
    id: `verify:${name}`,
    title: `Verifying standby cluster ${name}`,
    async plan({ session, mode }) {
      const vip = cluster.vip ? [waitForVip(model, name)] : [];
      if (mode === 'plan') {
        return {
          blocks: [],
          notes: [],
          checks: [`compare the system identifier of every member with ${sourceName}'s, write a row with a ${LARGE_VALUE_BYTES}-byte out-of-line value on ${sourceName} and read it back intact on every member`],
        };
      }
      const sourceLeader = await currentLeader(session.facts, model, sourceName);
      if (!sourceLeader) throw new HapgError('CLUSTER_UNHEALTHY', `cannot verify standby cluster ${name}: its source ${sourceName} has no running leader`);
      const systemId = await session.facts.fresh(sourceLeader, systemIdentifier(source.postgres.port));
      if (!systemId) throw new HapgError('CLUSTER_UNHEALTHY', `${sourceLeader}: cannot read the system identifier of ${sourceName}`, { host: sourceLeader });
      for (const host of cluster.hosts) {
        const id = await session.facts.fresh(host, systemIdentifier(cluster.postgres.port));
        if (id !== systemId) throw new HapgError('CLUSTER_UNHEALTHY', `${host}: system identifier ${id ?? 'unreadable'} differs from ${sourceName}'s ${systemId}: it is not a copy of the source`, { host });
      }
      const token = randomBytes(8).toString('hex');
      const digest = checkPayloadDigest(token);
      const write = { ...new LocalPostgres(source.postgres.port).sql(sourceLeader, `write a check row with a ${LARGE_VALUE_BYTES}-byte out-of-line value on ${sourceName}`, WRITE_SQL(token), {
        expect: { stdout: digest, otherwise: `the check row written on ${sourceName} does not have the expected content` },
      }), check: true };
      const reader = new LocalPostgres(cluster.postgres.port);
      const reads = cluster.hosts.map((host) =>
        wait(
          host,
          `${host} to return the check row written on ${sourceLeader}, its ${LARGE_VALUE_BYTES}-byte out-of-line value intact`,
          async (facts) => {
            const got = await facts.fresh(host, reader.query(`standby-check:${token}`, `select md5(payload) from hapg.standby_check where token = '${token}'`, (rows) => rows[0]?.[0] ?? ''));
            if (got === undefined) return { done: false, status: 'query failed' };
            if (got && got !== digest) throw new HapgError('CLUSTER_UNHEALTHY', `${host}: the check row's large value differs from the source's (md5 ${got}, source ${digest})`, { host });
            return { done: got === digest, status: got ? 'intact' : 'row not replayed yet' };
          },
          { timeoutMs: 60_000, intervalMs: 250, tag: `standby-read:${name}` },
        ),
      );
      return { blocks: [{ items: [], waits: vip }, { items: [write], waits: reads }], notes: [], checks: [`system identifier ${systemId} on every member, as on ${sourceName}`] };
    },
  };
}
