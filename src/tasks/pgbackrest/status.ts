// What `hapg status` says about a cluster's backups: the newest successful backup of each
// type and its age, and PostgreSQL's archiver on the leader; the problems that make the
// cluster DEGRADED: an unreadable repository, no backup, a newest backup older than the
// schedule allows, and archiving that fails.
import type { Session } from '../../run/session.js';
import { repositoryRunner } from './context.js';
import { archiverState, archivingFails, newestBackup, stanzaInfo, type ArchiverState, type BackupEntry } from './facts.js';
import { BACKUP_TYPES, scheduleOf } from './model.js';

export interface BackupStatus {
  /** Where the repository was read, or why it was not. */
  repository: { host: string } | { error: string };
  newest: Partial<Record<BackupEntry['type'], { label: string; stop: number }>>;
  archiver: ArchiverState | undefined;
  problems: string[];
}

const DAY = 86_400;

/**
 * The age the newest backup may reach: a day and a day's grace when a daily (diff or incr)
 * backup is scheduled, which the default schedule does; a week and a day with full backups
 * alone. A custom calendar rarer than that reads as overdue: say so in the note.
 */
export function maxBackupAge(schedule: ReturnType<typeof scheduleOf>): number {
  return schedule.diff !== undefined || schedule.incr !== undefined ? 2 * DAY : 8 * DAY;
}

const age = (seconds: number) => (seconds >= 2 * DAY ? `${Math.floor(seconds / DAY)} d` : seconds >= 3600 ? `${Math.floor(seconds / 3600)} h` : `${Math.max(0, Math.floor(seconds / 60))} min`);

/** The backup problems of a cluster, from what was read (pure: tested without hosts). */
export function backupProblems(status: Omit<BackupStatus, 'problems'>, maxAge: number, now: number): string[] {
  const problems: string[] = [];
  if ('error' in status.repository) problems.push(`backup repository not readable: ${status.repository.error}`);
  else {
    const stops = Object.values(status.newest).map((b) => b!.stop);
    if (stops.length === 0) problems.push('no backup in the repository');
    else if (now - Math.max(...stops) > maxAge) problems.push(`newest backup is ${age(now - Math.max(...stops))} old (the schedule allows ${age(maxAge)})`);
  }
  const a = status.archiver;
  if (a && archivingFails(a)) problems.push(`WAL archiving fails: ${a.failedCount} failures, last ${a.lastFailedWal} at ${new Date(a.lastFailedAt * 1000).toISOString()}`);
  return problems;
}

export async function gatherBackupStatus(session: Session, cluster: string, leader: string | undefined): Promise<BackupStatus | undefined> {
  const spec = session.model.inventory.clusters[cluster]!;
  if (!spec.backup) return undefined;
  const runner = repositoryRunner(session.model, cluster, leader);
  const info = runner && session.remotes.has(runner.host) ? await session.facts.get(runner.host, stanzaInfo(cluster, runner.user)).catch((e: unknown) => ({ ok: false, error: String(e) }) as const) : undefined;
  const repository = !runner ? { error: 'no running leader to read it from' } : !info ? { error: `${runner.host} not reachable` } : info.ok ? { host: runner.host } : { error: info.error };
  const newest: BackupStatus['newest'] = {};
  if (info?.ok) {
    for (const type of BACKUP_TYPES) {
      const b = newestBackup(info.info, type);
      if (b) newest[type] = { label: b.label, stop: b.stop };
    }
  }
  const archiver = leader ? await session.facts.get(leader, archiverState(spec.postgres.port)).catch(() => undefined) : undefined;
  const read = { repository, newest, archiver };
  return { ...read, problems: backupProblems(read, maxBackupAge(scheduleOf(spec.backup)), Date.now() / 1000) };
}

/** The status lines of a cluster's backups. */
export function renderBackupStatus(s: BackupStatus, now: number = Date.now() / 1000): string[] {
  const where = 'host' in s.repository ? `repository on ${s.repository.host}` : 'repository not readable';
  const types = BACKUP_TYPES.filter((t) => s.newest[t]).map((t) => `last ${t} ${s.newest[t]!.label} (${age(now - s.newest[t]!.stop)} ago)`);
  const a = s.archiver;
  const archive = a
    ? `archive: last ${a.lastArchivedWal || 'none'}${a.lastArchivedAt ? ` ${age(now - a.lastArchivedAt)} ago` : ''}, ${a.failedCount} failed`
    : 'archive: leader not readable';
  return [`  backups: ${where}; ${types.join(', ') || 'no backup'}; ${archive}`];
}
