import { listNames } from '../issues.js';
import { type CheckContext, clusterOfHost, has } from './context.js';

/** Parameters hapg sets for archiving once a cluster has backups. */
const ARCHIVE_PARAMETERS = ['archive_mode', 'archive_command', 'archive_timeout', 'restore_command', 'archive_library'];

/**
 * Backups: the repository host exists and is a host of its own (not a PostgreSQL member:
 * its pgBackRest configuration holds the encryption key, readable by its pgbackrest user
 * only, and a backup on a member is lost with it), a standby cluster takes none (its source
 * is backed up), and the archiving parameters are hapg's.
 */
export function checkBackups(ctx: CheckContext): void {
  const { inventory } = ctx;
  const members = clusterOfHost(inventory);
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    const standby = cluster.standby;
    if (standby?.restore_command === 'repository' && has(inventory.clusters, standby.cluster) && !inventory.clusters[standby.cluster]!.backup) {
      ctx.error(['clusters', name, 'standby', 'restore_command'], `"repository" fetches WAL from the repository of ${standby.cluster}, which has no backup section (set backup there, or give a command)`);
    }
    const backup = cluster.backup;
    if (!backup) continue;
    const base = ['clusters', name, 'backup'];
    if (cluster.standby) {
      ctx.error(base, `a standby cluster is not backed up itself: its source cluster ${cluster.standby.cluster} is (set backup there)`);
    }
    const repo = backup.repository;
    if ('host' in repo) {
      if (!has(inventory.hosts, repo.host)) {
        ctx.error([...base, 'repository', 'host'], `unknown host "${repo.host}": define it under hosts (defined: ${listNames(Object.keys(inventory.hosts))})`);
      } else if (members.has(repo.host)) {
        const owner = members.get(repo.host)!;
        ctx.error(
          [...base, 'repository', 'host'],
          `${repo.host} runs PostgreSQL of cluster ${owner}: a repository host is a host of its own (backups kept on a member are lost with it, and its pgBackRest configuration holds the encryption key)`,
        );
      }
    }
    for (const param of ARCHIVE_PARAMETERS) {
      if (Object.hasOwn(cluster.postgres.parameters, param)) {
        ctx.error(['clusters', name, 'postgres', 'parameters', param], `is managed by hapg when the cluster has backup: pgBackRest archives WAL (remove it)`);
      }
    }
    if (backup.schedule.diff !== undefined && backup.schedule.incr !== undefined) {
      ctx.warn([...base, 'schedule'], 'both diff and incr are scheduled: make sure their times do not collide (pgBackRest runs one backup of a stanza at a time)');
    }
  }
}
