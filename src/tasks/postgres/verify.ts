import { randomBytes } from 'node:crypto';
import { HapgError } from '../../errors.js';
import { clusterSecretKey, requireSecret } from '../../inventory/secrets.js';
import { clientQuery, clientSql } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { wait } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';
import { waitForVip } from '../keepalived/vip.js';
import { CHECK_ROLE } from '../patroni/model.js';
import { memberStates } from '../patroni/facts.js';
import { runningLeader } from '../patroni/member-health.js';
import { readEndpoint, writeEndpoint } from './endpoints.js';

const WRITE_SQL = (token: string) =>
  [
    'create table if not exists hapg.deploy_check (token text primary key, at timestamptz not null default now());',
    "delete from hapg.deploy_check where at < now() - interval '1 day';",
    `insert into hapg.deploy_check (token) values ('${token}') returning pg_is_in_recovery();`,
  ].join('\n');

/**
 * The end-to-end check a client would make: the VIP on one host (on the leader when no
 * HAProxy is in front), a row written through the read-write endpoint (it must land on a
 * primary) and read back through the read-only endpoint from a replica.
 */
export function writeReadStage(model: DesiredState, name: string): Stage {
  const cluster = model.inventory.clusters[name]!;
  return {
    id: `verify:${name}`,
    title: `Verifying cluster ${name}`,
    async plan({ session, secrets, mode }) {
      // Writes go to a primary: the running leader (a promoted standby cluster's too).
      const leader = runningLeader(await memberStates(session.facts, model, name), 'leader');
      const vip = cluster.vip ? [waitForVip(model, name, cluster.haproxy ? {} : { on: () => leader })] : [];
      if (mode === 'deploy' && !leader) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} has no running leader to verify writes on`);
      if (mode === 'plan' || !leader) {
        const write = writeEndpoint(model.inventory, cluster, leader ?? cluster.leader);
        const read = readEndpoint(model.inventory, cluster, leader ?? cluster.leader);
        return { blocks: [], notes: [], checks: [`write a row through the ${write.via}${read ? ` and read it back through the ${read.via}` : ''}`] };
      }
      const login = { user: CHECK_ROLE, password: requireSecret(secrets, clusterSecretKey(name, 'check')) };
      const token = randomBytes(8).toString('hex');
      const write = writeEndpoint(model.inventory, cluster, leader);
      const read = readEndpoint(model.inventory, cluster, leader);
      const written = clientSql(leader, `write a check row through the ${write.via}`, write, login, WRITE_SQL(token), {
        stdout: 'f',
        otherwise: `cluster ${name}: a write through the ${write.via} (${write.address}:${write.port}) landed on a server in recovery`,
      });
      const readBack = read && [
        wait(
          leader,
          `the row written through the ${write.via} to be readable through the ${read.via}`,
          async (facts) => {
            const rows = await facts.fresh(leader, clientQuery(`check:${token}`, read, login, `select count(*), pg_is_in_recovery() from hapg.deploy_check where token = '${token}'`, (r) => r[0]));
            return { done: rows?.[0] === '1' && rows[1] === 't', status: rows ? `found ${rows[0]} row(s), in recovery: ${rows[1]}` : 'query failed' };
          },
          { timeoutMs: 30_000, intervalMs: 250, tag: `verify-read:${name}` },
        ),
      ];
      return { blocks: [{ items: [], waits: vip }, { items: [written], waits: readBack ?? [] }], notes: [] };
    },
  };
}
