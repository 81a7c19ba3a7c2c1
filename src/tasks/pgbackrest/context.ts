// The values of every pgBackRest file hapg writes: pgbackrest.conf on members and repository
// hosts, the backup units, and the SSH files that let them reach each other.
import { backupCipherKey, requireSecret, type InventorySecrets } from '../../inventory/secrets.js';
import type { Backup, Cluster } from '../../inventory/schema.js';
import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';
import type { Secret } from '../../secret.js';
import {
  backedUpClusters,
  IS_PRIMARY_SCRIPT,
  repositoryReaders,
  LOG_PATH,
  PG_USER,
  PGBACKREST_BIN,
  REPO_USER,
  repositoryMode,
  SPOOL_PATH,
  stanzaOf,
  type BackupType,
} from './model.js';

type Pair = { name: string; value: string };

/** Lines of pgbackrest.conf whose value is a secret wherever it sits: masked by position in plans. */
export const PGBACKREST_SECRET_LINES = /^(repo1-(?:cipher-pass|[a-z0-9-]*(?:key-secret|secret|token|key))=)(.*)$/;

/** What a host is to pgBackRest: the repository host of some clusters, or a member of one. */
export type HostRole =
  | { kind: 'repository'; clusters: string[] }
  /** `restoreFrom`: during `hapg restore --into`, it also reads that cluster's stanza (restore, archive-get). */
  | { kind: 'member'; cluster: string; restoreFrom?: string }
  /**
   * A member of a standby cluster that fetches WAL from its source's repository (archive-get
   * only); with `restore`, a member of a cluster without backups restored from the source's
   * backups (`hapg restore --into`: restore and archive-get only).
   */
  | { kind: 'reader'; cluster: string; source: string; restore?: boolean };

/** Every host pgBackRest runs on, with its role. */
export function pgbackrestHosts(model: DesiredState): Map<string, HostRole> {
  const out = new Map<string, HostRole>();
  for (const [name, cluster] of backedUpClusters(model.inventory)) {
    for (const host of cluster.hosts) out.set(host, { kind: 'member', cluster: name });
    const mode = repositoryMode(cluster.backup);
    if (mode.kind === 'host') {
      const role = out.get(mode.host);
      if (role?.kind === 'repository') role.clusters.push(name);
      else out.set(mode.host, { kind: 'repository', clusters: [name] });
    }
  }
  for (const [name, source] of repositoryReaders(model.inventory)) {
    for (const host of model.inventory.clusters[name]!.hosts) if (!out.has(host)) out.set(host, { kind: 'reader', cluster: name, source });
  }
  const into = model.restoreInto;
  if (into) {
    for (const host of model.inventory.clusters[into.target]?.hosts ?? []) {
      const role = out.get(host);
      out.set(host, role?.kind === 'member' ? { ...role, restoreFrom: into.source } : { kind: 'reader', cluster: into.target, source: into.source, restore: true });
    }
  }
  return out;
}

/** Retention, compression, encryption and parallelism of a repository: where the repository is written. */
function repositoryOptions(name: string, backup: Backup, secrets: InventorySecrets, used: Secret[]): Pair[] {
  const r = backup.retention;
  const pairs: Pair[] = [
    { name: 'repo1-retention-full', value: String(r.full) },
    { name: 'repo1-retention-full-type', value: r.full_type },
    ...(r.diff !== undefined ? [{ name: 'repo1-retention-diff', value: String(r.diff) }] : []),
  ];
  if (backup.encryption) {
    const key = requireSecret(secrets, backupCipherKey(name));
    used.push(key);
    pairs.push({ name: 'repo1-cipher-type', value: 'aes-256-cbc' }, { name: 'repo1-cipher-pass', value: key.reveal() });
  }
  return pairs;
}

/** Options every side uses: compression (done where the data is read) and processes. */
function workOptions(backup: Backup): Pair[] {
  return [
    { name: 'compress-type', value: backup.compression.type },
    ...(backup.compression.level !== undefined ? [{ name: 'compress-level', value: String(backup.compression.level) }] : []),
    { name: 'process-max', value: String(backup.process_max) },
    { name: 'start-fast', value: 'y' },
  ];
}

const pgOptions = (index: number, cluster: Cluster): Pair[] => [
  { name: `pg${index}-path`, value: cluster.postgres.data_dir },
  { name: `pg${index}-port`, value: String(cluster.postgres.port) },
  { name: `pg${index}-socket-path`, value: '/var/run/postgresql' },
];

export interface PgbackrestConf {
  host: string;
  role: string;
  logPath: string;
  global: Pair[];
  stanzas: { name: string; comment: string; options: Pair[] }[];
}

/** pgbackrest.conf of one host, and the secrets in it. */
export function pgbackrestConf(model: DesiredState, host: string, role: HostRole, secrets: InventorySecrets): { context: PgbackrestConf; secrets: Secret[] } {
  const { inventory } = model;
  const used: Secret[] = [];
  if (role.kind === 'repository') {
    const stanzas = role.clusters.map((name) => {
      const cluster = inventory.clusters[name]!;
      const backup = cluster.backup!;
      const mode = repositoryMode(backup);
      const path = mode.kind === 'host' ? mode.path : '';
      const members = cluster.hosts.flatMap((h, i) => [
        { name: `pg${i + 1}-host`, value: addressOf(inventory, h) },
        { name: `pg${i + 1}-host-user`, value: PG_USER },
        ...pgOptions(i + 1, cluster),
      ]);
      return {
        name: stanzaOf(name),
        comment: `repository ${path}, backups taken from its primary over SSH`,
        options: [{ name: 'repo1-path', value: path }, ...repositoryOptions(name, backup, secrets, used), ...workOptions(backup), ...members],
      };
    });
    return { context: { host, role: `repository host of ${role.clusters.join(', ')}`, logPath: LOG_PATH, global: [], stanzas }, secrets: used };
  }
  // A reader reads its source's stanza with the source's repository settings; its own data directory is pg1.
  const name = role.kind === 'reader' ? role.source : role.cluster;
  const cluster = inventory.clusters[role.cluster]!;
  const stanzas = [memberStanza(model, name, cluster, secrets, used)];
  // Restored from another cluster's backups: that stanza too, read through its repository host (no key here).
  if (role.kind === 'member' && role.restoreFrom) stanzas.push(memberStanza(model, role.restoreFrom, cluster, secrets, used));
  const what =
    role.kind === 'reader'
      ? role.restore
        ? `member of ${role.cluster}, restored from the backups of ${name} (hapg restore --into)`
        : `member of standby cluster ${role.cluster}, fetching WAL of ${name}`
      : role.restoreFrom
        ? `member of ${name}, restored from the backups of ${role.restoreFrom} (hapg restore --into)`
        : `member of ${name}`;
  return {
    context: {
      host,
      role: what,
      logPath: LOG_PATH,
      global: [
        { name: 'spool-path', value: SPOOL_PATH },
        { name: 'archive-async', value: 'y' },
      ],
      stanzas,
    },
    secrets: used,
  };
}

/** A member's section for the stanza of cluster `name` (its own, or the one it reads), its own data directory as pg1. */
function memberStanza(model: DesiredState, name: string, cluster: Cluster, secrets: InventorySecrets, used: Secret[]): PgbackrestConf['stanzas'][number] {
  const { inventory } = model;
  const backup = inventory.clusters[name]!.backup!;
  const mode = repositoryMode(backup);
  const repository: Pair[] =
    mode.kind === 'host'
      ? [
          { name: 'repo1-host', value: addressOf(inventory, mode.host) },
          { name: 'repo1-host-user', value: REPO_USER },
        ]
      : mode.kind === 'posix'
        ? [{ name: 'repo1-type', value: 'posix' }, { name: 'repo1-path', value: mode.path }, ...repositoryOptions(name, backup, secrets, used)]
        : [...Object.entries(mode.options).map(([k, v]) => ({ name: k, value: v })), ...repositoryOptions(name, backup, secrets, used)];
  const where = mode.kind === 'host' ? `repository on ${mode.host} (over SSH)` : mode.kind === 'posix' ? `repository ${mode.path} (a mount)` : 'repository in an object store';
  return { name: stanzaOf(name), comment: where, options: [...repository, ...workOptions(backup), ...pgOptions(1, cluster)] };
}

/** Who runs a cluster's repository commands (stanza-create, check, backup, info): the repository host, or the leader. */
export function repositoryRunner(model: DesiredState, cluster: string, leader: string | undefined): { host: string; user: string } | undefined {
  const mode = repositoryMode(model.inventory.clusters[cluster]!.backup!);
  if (mode.kind === 'host') return { host: mode.host, user: REPO_USER };
  return leader ? { host: leader, user: PG_USER } : undefined;
}

/** The pgbackrest command line of a backup of one type. */
export const backupArgv = (cluster: string, type: BackupType) => [PGBACKREST_BIN, `--stanza=${stanzaOf(cluster)}`, `--type=${type}`, 'backup'];

/** The unit of a scheduled backup: on the repository host as pgbackrest, on members as postgres where PostgreSQL is the primary. */
export function backupServiceContext(model: DesiredState, cluster: string, type: BackupType) {
  const spec = model.inventory.clusters[cluster]!;
  const onRepositoryHost = repositoryMode(spec.backup!).kind === 'host';
  return {
    cluster,
    type,
    stanza: stanzaOf(cluster),
    user: onRepositoryHost ? REPO_USER : PG_USER,
    condition: onRepositoryHost ? undefined : `${IS_PRIMARY_SCRIPT} ${spec.postgres.port}`,
    command: backupArgv(cluster, type).join(' '),
  };
}
