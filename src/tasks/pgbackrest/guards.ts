// Checks that run before anything touches a repository: the inventory's encryption key opens
// it (a secrets file edited or swapped would otherwise be written into pgbackrest.conf and
// break archiving and every backup), and the repository has room for the backup asked for.
// Each refusal is one line and comes before the first change.
import { HapgError } from '../../errors.js';
import type { CommandFact, FactCache } from '../../facts/fact.js';
import { backupCipherKey, type InventorySecrets } from '../../inventory/secrets.js';
import type { DesiredState } from '../../model/model.js';
import { stanzaExists, stanzaInfo, type InfoResult, type StanzaInfo } from './facts.js';
import { PG_USER, REPO_USER, repositoryMode, type BackupType } from './model.js';

/** Where a cluster's repository is read to check its key: the repository host, or a member (a posix mount or object store every member reaches). */
export function keyCheckRunner(model: DesiredState, cluster: string, reachable: (host: string) => boolean): { host: string; user: string } | undefined {
  const spec = model.inventory.clusters[cluster]!;
  const mode = repositoryMode(spec.backup!);
  if (mode.kind === 'host') return reachable(mode.host) ? { host: mode.host, user: REPO_USER } : undefined;
  const member = spec.hosts.find(reachable);
  return member ? { host: member, user: PG_USER } : undefined;
}

/**
 * The verdict from two reads of the same stanza: with the host's configuration, and with the
 * key the inventory holds now. A repository the configuration cannot read yet (no stanza, no
 * configuration) has nothing to protect; one that it reads but the inventory's key does not
 * open is refused.
 */
export function keyVerdict(cluster: string, host: string, withConf: InfoResult, withKey: InfoResult): void {
  if (!withConf.ok || !stanzaExists(withConf.info)) return;
  const refused = !withKey.ok ? withKey.error : !stanzaExists(withKey.info) ? withKey.info.message : undefined;
  if (refused === undefined) return;
  throw new HapgError(
    'UNSAFE_OPERATION',
    `the encryption key of cluster ${cluster} in the secrets (${backupCipherKey(cluster)}) does not open its repository on ${host} (pgBackRest: ${refused}): put back the key the repository was made with; nothing was changed`,
    { host },
  );
}

/** Refuses when the inventory's encryption key of `cluster` does not open its existing repository. */
export async function verifyRepositoryKey(facts: FactCache, model: DesiredState, cluster: string, secrets: InventorySecrets, reachable: (host: string) => boolean): Promise<void> {
  const backup = model.inventory.clusters[cluster]?.backup;
  const key = secrets.get(backupCipherKey(cluster));
  if (!backup?.encryption || !key) return;
  const runner = keyCheckRunner(model, cluster, reachable);
  if (!runner) return;
  const mode = repositoryMode(backup);
  const withConf = await facts.get(runner.host, stanzaInfo(cluster, runner.user)).catch((e: unknown): InfoResult => ({ ok: false, error: String(e) }));
  if (!withConf.ok || !stanzaExists(withConf.info)) return;
  const withKey = await facts.fresh(runner.host, stanzaInfo(cluster, runner.user, { cipher: key, ...(mode.kind !== 'options' ? { repoPath: mode.path } : {}) }));
  keyVerdict(cluster, runner.host, withConf, withKey);
}

/** Bytes free on the filesystem of `path` (df), or undefined when the path is missing. */
export function freeBytes(path: string): CommandFact<number | undefined> {
  return {
    id: `free-bytes:${path}`,
    argv: ['df', '-B1', '--output=avail', '--', path],
    parse: (r) => {
      if (r.exitCode !== 0) return undefined;
      const n = Number(r.stdout.trim().split('\n').at(-1)?.trim());
      return Number.isFinite(n) ? n : undefined;
    },
  };
}

/**
 * What a backup of `type` is expected to write: the repository size of the newest full backup
 * for a full one (the database compressed as this repository compresses it; the database size
 * when there is none yet), the largest of the earlier backups of the same type for a diff or
 * incr. With a tenth more for the manifest and the WAL archived meanwhile.
 */
export function expectedBackupBytes(info: StanzaInfo, type: BackupType, databaseBytes: number): number {
  const good = info.backups.filter((b) => !b.error);
  const fulls = good.filter((b) => b.type === 'full').sort((a, b) => b.stop - a.stop);
  const base = type === 'full' ? (fulls[0]?.repoSize ?? databaseBytes) : Math.max(0, ...good.filter((b) => b.type === type).map((b) => b.repoSize));
  return Math.ceil((base * 11) / 10);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Refuses a backup that would not fit in the repository's free space. */
export function checkRepositorySpace(cluster: string, host: string, path: string, free: number | undefined, info: StanzaInfo, type: BackupType, databaseBytes: number): void {
  if (free === undefined) return;
  const need = expectedBackupBytes(info, type, databaseBytes);
  if (free < need) {
    throw new HapgError(
      'UNSAFE_OPERATION',
      `the repository of ${cluster} on ${host} (${path}) has ${mb(free)} free, a ${type} backup needs about ${mb(need)}: free space there or lower the retention; nothing was changed`,
      { host },
    );
  }
}
