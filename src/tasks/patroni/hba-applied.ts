import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';
import { hbaEntries } from '../../render/patroni-context.js';
import { psqlArgv } from '../postgres/roles.js';

/**
 * Patroni applies a reloaded patroni.yml at its next loop: it rewrites pg_hba.conf and
 * reloads PostgreSQL. Waits until each member's pg_hba.conf holds exactly the inventory's
 * entries and PostgreSQL loaded its configuration after that file was written, so that when
 * deploy says done, the new rules are in force.
 */
export async function waitForHbaApplied(session: Session, name: string, hosts: readonly string[]): Promise<void> {
  const cluster = session.loaded.inventory.clusters[name]!;
  const wanted = hbaEntries(session.loaded.inventory, name).join('\n');
  const sql = "select pg_conf_load_time() >= (pg_stat_file('pg_hba.conf')).modification";
  await Promise.all(
    hosts.map((host) =>
      waitUntil(
        `${host} to apply its new pg_hba rules`,
        async () => {
          const remote = session.remotes.get(host)!;
          const file = await remote.exec(['cat', '--', `${cluster.postgres.data_dir}/pg_hba.conf`], { sudo: true, allowFailure: true });
          const lines = file.stdout.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).join('\n');
          if (lines !== wanted) return { done: false, status: 'pg_hba.conf not rewritten yet' };
          const loaded = await remote.exec(['runuser', '-u', 'postgres', '--', ...psqlArgv(cluster.postgres.port, 'postgres', sql)], { sudo: true, allowFailure: true });
          return { done: loaded.stdout.trim() === 't', status: 'pg_hba.conf rewritten, PostgreSQL not reloaded yet' };
        },
        { timeoutMs: (cluster.patroni.loop_wait * 2 + 20) * 1000, intervalMs: 500, host },
      ),
    ),
  );
}
