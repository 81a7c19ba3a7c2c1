// pgBackRest as the model holds it: who keeps the repository, who runs the repository's
// commands, and the few strings Patroni and PostgreSQL are given. Pure functions of the
// inventory; every other file of the component reads them from here.
import type { Backup, Cluster, Inventory } from '../../inventory/schema.js';

/** The OS user that owns the repository on a repository host (never postgres: the guide's advice). */
export const REPO_USER = 'pgbackrest';
export const REPO_USER_HOME = '/home/pgbackrest';
/** The directory the Debian package creates for repositories; hapg's default repository lies below it. */
export const PACKAGE_REPO_DIR = '/var/lib/pgbackrest';
export const PG_USER = 'postgres';
export const PG_USER_HOME = '/var/lib/postgresql';
export const CONFIG_PATH = '/etc/pgbackrest/pgbackrest.conf';
export const LOG_PATH = '/var/log/pgbackrest';
export const SPOOL_PATH = '/var/spool/pgbackrest';
export const PGBACKREST_BIN = '/usr/bin/pgbackrest';
/** Prints "t" on a primary, "f" in recovery: the condition of a timer on members (posix repositories). */
export const IS_PRIMARY_SCRIPT = '/usr/local/lib/hapg/pg-is-primary';

/** The stanza of a cluster: its name (one stanza per cluster, even in a shared repository). */
export const stanzaOf = (cluster: string) => cluster;

export type BackupType = 'full' | 'diff' | 'incr';
export const BACKUP_TYPES: readonly BackupType[] = ['full', 'diff', 'incr'];

/** Where the repository is and how it is reached. */
export type RepositoryMode =
  /** A repository host: it keeps the backups, runs them over SSH as `pgbackrest`, members push WAL to it over SSH. */
  | { kind: 'host'; host: string; path: string }
  /** A mount on every member (NFS): members write it directly; backups run on the leader. */
  | { kind: 'posix'; path: string }
  /** An object store: options passed through; backups run on the leader. */
  | { kind: 'options'; options: Record<string, string> };

export function repositoryMode(backup: Backup): RepositoryMode {
  const r = backup.repository;
  if ('host' in r) return { kind: 'host', host: r.host, path: r.path };
  if ('posix' in r) return { kind: 'posix', path: r.posix };
  return { kind: 'options', options: r.options };
}

/** Clusters with backups, by name. */
export function backedUpClusters(inventory: Pick<Inventory, 'clusters'>): [string, Cluster & { backup: Backup }][] {
  return Object.entries(inventory.clusters).filter((e): e is [string, Cluster & { backup: Backup }] => e[1].backup !== undefined);
}

/** standby.restore_command that fetches WAL from the source cluster's repository. */
export const FROM_REPOSITORY = 'repository';

/**
 * Standby clusters that fetch WAL from their source's repository (`standby: { restore_command:
 * repository }`), as [standby, source] pairs: their members read the source's stanza.
 */
export function repositoryReaders(inventory: Pick<Inventory, 'clusters'>): [string, string][] {
  return Object.entries(inventory.clusters).flatMap(([name, c]) =>
    c.standby?.restore_command === FROM_REPOSITORY && inventory.clusters[c.standby.cluster]?.backup ? [[name, c.standby.cluster] as [string, string]] : [],
  );
}

/** The schedule with its defaults filled in: a differential backup on the other days unless incrementals are asked for. */
export function scheduleOf(backup: Backup): Partial<Record<BackupType, string>> {
  const s = backup.schedule;
  return {
    full: s.full,
    ...(s.diff !== undefined ? { diff: s.diff } : s.incr === undefined ? { diff: 'Mon..Sat *-*-* 01:00:00' } : {}),
    ...(s.incr !== undefined ? { incr: s.incr } : {}),
  };
}

/** archive_command: asynchronous push (pgBackRest queues segments in its spool directory and ships them in the background). */
export const archiveCommand = (cluster: string) => `${PGBACKREST_BIN} --stanza=${stanzaOf(cluster)} archive-push %p`;

/** restore_command of every member: WAL the stream no longer has comes from the repository. */
export const restoreCommand = (cluster: string) => `${PGBACKREST_BIN} --stanza=${stanzaOf(cluster)} archive-get %f "%p"`;

/**
 * PostgreSQL parameters a cluster with backups runs with, in Patroni's dynamic configuration.
 * archive_mode takes effect only at a restart (pg_settings.context postmaster): enabling
 * backups on a live cluster rolls a restart through it; archive_command and archive_timeout reload.
 */
export function archiveParameters(cluster: string, spec: Cluster): Record<string, string | number> {
  if (!spec.backup) return {};
  return { archive_mode: 'on', archive_command: archiveCommand(cluster), archive_timeout: spec.backup.archive_timeout };
}

/** What Patroni is told on each member of a cluster with backups: build replicas from the repository first. */
export interface ReplicaFromRepository {
  /** Patroni's create_replica_methods, in order. */
  methods: string[];
  /** The pgbackrest method's command: a delta restore into the member's data directory, as a standby. */
  command: string;
  restoreCommand: string;
}

export function replicaFromRepository(cluster: string, spec: Cluster): ReplicaFromRepository | undefined {
  if (!spec.backup) return undefined;
  return {
    methods: ['pgbackrest', 'basebackup'],
    command: `${PGBACKREST_BIN} --stanza=${stanzaOf(cluster)} --delta --type=standby restore`,
    restoreCommand: restoreCommand(cluster),
  };
}

/** Systemd unit names of a cluster's scheduled backup of one type. */
export const timerName = (cluster: string, type: BackupType) => `hapg-backup-${cluster}-${type}`;
