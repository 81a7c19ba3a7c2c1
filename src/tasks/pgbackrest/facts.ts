// Read-only questions about pgBackRest: a host's SSH identity for it, the repository's view
// of a stanza (pgbackrest info), and PostgreSQL's archiver.
import type { CommandFact } from '../../facts/fact.js';
import { parseSystemctlShow, type ServiceState } from '../../facts/services.js';
import { LocalPostgres } from '../../model/endpoints.js';
import type { Secret } from '../../secret.js';
import { PGBACKREST_BIN, stanzaOf } from './model.js';

export interface AccessState {
  userExists: boolean;
  /** The user's public key line (`ssh-ed25519 AAAA… comment`), if it has one. */
  publicKey: string | undefined;
  /** The host's SSH host keys (`type base64`), as its sshd presents them. */
  hostKeys: string[];
  /** Owner of each directory asked about ('' when missing). */
  owners: Map<string, string>;
}

const ACCESS_SCRIPT = [
  'u=$1; h=$2; shift 2',
  'if id -u "$u" >/dev/null 2>&1; then echo "user yes"; else echo "user no"; fi',
  'if [ -f "$h/.ssh/id_ed25519.pub" ]; then printf "key %s\\n" "$(cat "$h/.ssh/id_ed25519.pub")"; fi',
  'for f in /etc/ssh/ssh_host_*_key.pub; do [ -f "$f" ] && printf "hostkey %s\\n" "$(cut -d" " -f1,2 "$f")"; done',
  'for d in "$@"; do printf "dir %s %s\\n" "$(stat -c %U "$d" 2>/dev/null || true)" "$d"; done',
].join('\n');

/** Whether `user` exists and has a key pair, the host's SSH host keys, and who owns `dirs`. */
export function accessState(user: string, home: string, dirs: readonly string[] = []): CommandFact<AccessState> {
  return {
    id: `pgbackrest-access:${user}:${dirs.join(',')}`,
    argv: ['sh', '-c', ACCESS_SCRIPT, 'sh', user, home, ...dirs],
    sudo: true,
    parse: (r) => parseAccessState(r.stdout),
  };
}

export function parseAccessState(stdout: string): AccessState {
  const state: AccessState = { userExists: false, publicKey: undefined, hostKeys: [], owners: new Map() };
  for (const line of stdout.split('\n')) {
    if (line === 'user yes') state.userExists = true;
    else if (line.startsWith('key ')) state.publicKey = line.slice(4).trim();
    else if (line.startsWith('hostkey ')) state.hostKeys.push(line.slice(8).trim());
    else if (line.startsWith('dir ')) {
      const m = /^dir (\S*) (.+)$/.exec(line);
      if (m) state.owners.set(m[2]!, m[1]!);
    }
  }
  state.hostKeys.sort();
  return state;
}

/** One backup as `pgbackrest info --output=json` lists it. */
export interface BackupEntry {
  label: string;
  type: 'full' | 'diff' | 'incr';
  /** Unix seconds. */
  start: number;
  stop: number;
  /** Database size and what the repository holds for it, in bytes. */
  size: number;
  repoSize: number;
  walStart: string;
  walStop: string;
  /** Set when the backup could not be verified (pgBackRest's error flag). */
  error: boolean;
}

export interface StanzaInfo {
  /** pgBackRest's status code: 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data, 99 other. */
  code: number;
  message: string;
  backups: BackupEntry[];
  /** WAL archive ranges per database id (`17-1`): min and max segment. */
  archives: { id: string; min: string; max: string }[];
}

/** The stanza as the repository sees it, or the error pgBackRest gave (undefined: pgBackRest not installed or not configured). */
export type InfoResult = { ok: true; info: StanzaInfo } | { ok: false; error: string };

interface RawInfo {
  name?: string;
  status?: { code?: number; message?: string };
  backup?: {
    label?: string;
    type?: string;
    error?: boolean;
    timestamp?: { start?: number; stop?: number };
    info?: { size?: number; repository?: { size?: number; delta?: number } };
    archive?: { start?: string; stop?: string };
  }[];
  archive?: { id?: string; min?: string | null; max?: string | null }[];
}

/** Parses `pgbackrest --stanza=S --output=json info` (a list with the one stanza). */
export function parseStanzaInfo(stdout: string): StanzaInfo {
  const raw = (JSON.parse(stdout) as RawInfo[])[0] ?? {};
  return {
    code: raw.status?.code ?? 99,
    message: raw.status?.message ?? 'no status',
    backups: (raw.backup ?? []).map((b) => ({
      label: b.label ?? '',
      type: b.type === 'diff' || b.type === 'incr' ? b.type : 'full',
      start: b.timestamp?.start ?? 0,
      stop: b.timestamp?.stop ?? 0,
      size: b.info?.size ?? 0,
      repoSize: b.info?.repository?.delta ?? b.info?.repository?.size ?? 0,
      walStart: b.archive?.start ?? '',
      walStop: b.archive?.stop ?? '',
      error: b.error === true,
    })),
    archives: (raw.archive ?? []).map((a) => ({ id: a.id ?? '', min: a.min ?? '', max: a.max ?? '' })),
  };
}

const lastLine = (text: string) => text.trim().split('\n').filter(Boolean).at(-1)?.replace(/^\S+ \S+ P\d+ +/, '') ?? '';

/**
 * `pgbackrest info` of a cluster's stanza, run as `user` (the repository's owner). With a
 * `cipher`, the key goes in through stdin into the environment (never argv), with the
 * repository's path and cipher type on the command line: the repository is read with the
 * key the inventory holds now, whatever the host's configuration says.
 */
export function stanzaInfo(cluster: string, user: string, opts: { cipher?: Secret; repoPath?: string } = {}): CommandFact<InfoResult> {
  const args = [`--stanza=${stanzaOf(cluster)}`, ...(opts.repoPath ? [`--repo1-path=${opts.repoPath}`] : []), ...(opts.cipher ? ['--repo1-cipher-type=aes-256-cbc'] : []), '--output=json', 'info'];
  const script = opts.cipher
    ? `IFS= read -r PGBACKREST_REPO1_CIPHER_PASS; export PGBACKREST_REPO1_CIPHER_PASS; exec ${PGBACKREST_BIN} "$@"`
    : `exec ${PGBACKREST_BIN} "$@"`;
  return {
    id: `pgbackrest-info:${cluster}:${user}:${opts.cipher ? 'key' : 'conf'}`,
    argv: ['runuser', '-u', user, '--', 'sh', '-c', script, 'sh', ...args],
    sudo: true,
    ...(opts.cipher ? { stdin: `${opts.cipher.reveal()}\n`, secrets: [opts.cipher] } : {}),
    parse: (r) => {
      if (r.exitCode !== 0) return { ok: false, error: lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.exitCode}` };
      try {
        return { ok: true, info: parseStanzaInfo(r.stdout) };
      } catch {
        return { ok: false, error: `unreadable answer: ${r.stdout.slice(0, 120)}` };
      }
    },
  };
}

/** A stanza that exists in the repository (it may hold no backup yet). */
export const stanzaExists = (info: StanzaInfo) => info.code === 0 || info.code === 2;

/** The newest backup that succeeded (any type), if any. */
export function newestBackup(info: StanzaInfo, type?: BackupEntry['type']): BackupEntry | undefined {
  return info.backups.filter((b) => !b.error && (!type || b.type === type)).sort((a, b) => b.stop - a.stop)[0];
}

export interface ArchiverState {
  archivedCount: number;
  lastArchivedWal: string;
  /** Unix seconds (0: never). */
  lastArchivedAt: number;
  failedCount: number;
  lastFailedWal: string;
  lastFailedAt: number;
  /** The segment the server writes now. */
  currentWal: string;
}

/** pg_stat_archiver of a primary (undefined when PostgreSQL does not answer). */
export function archiverState(port: number): CommandFact<ArchiverState | undefined> {
  const sql = [
    'select archived_count, coalesce(last_archived_wal, \'\'), coalesce(extract(epoch from last_archived_time)::bigint, 0),',
    "failed_count, coalesce(last_failed_wal, ''), coalesce(extract(epoch from last_failed_time)::bigint, 0),",
    "case when pg_is_in_recovery() then '' else pg_walfile_name(pg_current_wal_lsn()) end from pg_stat_archiver",
  ].join(' ');
  return new LocalPostgres(port).query('pg-stat-archiver', sql, (rows) => {
    const [row] = rows;
    if (!row) return undefined;
    return {
      archivedCount: Number(row[0] ?? 0),
      lastArchivedWal: row[1] ?? '',
      lastArchivedAt: Number(row[2] ?? 0),
      failedCount: Number(row[3] ?? 0),
      lastFailedWal: row[4] ?? '',
      lastFailedAt: Number(row[5] ?? 0),
      currentWal: row[6] ?? '',
    };
  });
}

/** Archiving fails when the last attempt failed (a failure after the last success). */
export const archivingFails = (a: ArchiverState) => a.lastFailedAt > 0 && a.lastFailedAt >= a.lastArchivedAt;

/** systemd state of timer units (`systemctl show`), keyed by unit name with its suffix. */
export function timerStates(units: readonly string[]): CommandFact<Map<string, ServiceState>> {
  const sorted = [...units].sort();
  return {
    id: `timers:${sorted.join(',')}`,
    argv: ['systemctl', 'show', '--property=Id,LoadState,ActiveState,UnitFileState,ActiveEnterTimestampMonotonic,MainPID', ...sorted],
    parse: (r) => parseSystemctlShow(r.stdout),
  };
}
