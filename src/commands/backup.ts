import type { Command } from 'commander';
import { ExitCode, HapgError } from '../errors.js';
import { prepareSecrets, resolveSecrets } from '../inventory/secrets.js';
import { openAccess } from '../model/access.js';
import type { DesiredState } from '../model/model.js';
import { withRunLock } from '../run/lock.js';
import { withSession } from '../run/session.js';
import { exec } from '../run/steps.js';
import { deploy } from '../stages/deploy.js';
import { deployGraph } from '../stages/graph.js';
import { runGraph } from '../stages/run.js';
import { DEFAULT_ROLLING } from '../tasks/patroni/restart-options.js';
import { currentLeader } from '../tasks/patroni/waits.js';
import { backupArgv, repositoryRunner } from '../tasks/pgbackrest/context.js';
import { newestBackup, stanzaInfo, type BackupEntry, type StanzaInfo } from '../tasks/pgbackrest/facts.js';
import { BACKUP_TYPES, repositoryMode, type BackupType } from '../tasks/pgbackrest/model.js';
import { checkRepositorySpace, freeBytes, verifyRepositoryKey } from '../tasks/pgbackrest/guards.js';
import { describeTarget, parseRestoreTarget, restoreStages, type RestoreOutcome } from '../tasks/pgbackrest/restore.js';
import { localPostgres } from '../model/endpoints.js';
import { preflightStage } from '../tasks/preflight/stage.js';
import { createReporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, withLockOptions, type ChangingCommandOptions, type InventoryCommandOptions } from './options.js';

const options = { force: false, rolling: DEFAULT_ROLLING };

interface RunOptions extends InventoryCommandOptions, ChangingCommandOptions {
  cluster: string;
  type: string;
}

interface ListOptions extends InventoryCommandOptions {
  cluster?: string;
}

interface RestoreOptions extends InventoryCommandOptions, ChangingCommandOptions {
  cluster: string;
  to?: string;
  lsn?: string;
  name?: string;
  yesReplaceData?: boolean;
  into?: string;
}

/** A cluster of the inventory that has backups, or a one-line refusal. */
function backedUpCluster(model: DesiredState, path: string, name: string): void {
  const cluster = model.inventory.clusters[name];
  if (!cluster || !Object.hasOwn(model.inventory.clusters, name)) {
    throw new HapgError('USAGE', `--cluster ${name}: no such cluster in ${path} (clusters: ${Object.keys(model.inventory.clusters).join(', ')})`);
  }
  if (!cluster.backup) throw new HapgError('USAGE', `--cluster ${name}: has no backup section in ${path}`);
}

/** The repository's view of a cluster's stanza, read where its commands run. */
async function readStanza(session: Parameters<Parameters<typeof withSession>[2]>[0], name: string): Promise<{ host: string; info: StanzaInfo }> {
  const leader = await currentLeader(session.facts, session.model, name);
  const runner = repositoryRunner(session.model, name, leader);
  if (!runner) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} has no running leader to read its repository from`);
  const result = await session.facts.fresh(runner.host, stanzaInfo(name, runner.user));
  if (!result.ok) throw new HapgError('CLUSTER_UNHEALTHY', `the repository of ${name} on ${runner.host} cannot be read: ${result.error}`, { host: runner.host });
  return { host: runner.host, info: result.info };
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

function backupLine(b: BackupEntry): string {
  return `${b.label.padEnd(36)} ${b.type.padEnd(4)} ${iso(b.stop)}  ${String(b.stop - b.start).padStart(5)} s  ${mb(b.size).padStart(10)}  ${mb(b.repoSize).padStart(10)}  ${b.walStart}..${b.walStop}${b.error ? '  ERROR' : ''}`;
}

/** `hapg backup run|list` and `hapg restore`. */
export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('backups with pgBackRest (clusters with a backup section)');

  withLockOptions(withInventoryOptions(backup.command('run')))
    .description('take a backup now (on the repository host, or on the leader)')
    .requiredOption('--cluster <name>', 'cluster to back up')
    .option('--type <type>', 'full, diff or incr', 'full')
    .action(async (opts: RunOptions) => {
      if (!BACKUP_TYPES.includes(opts.type as BackupType)) throw new HapgError('USAGE', `--type ${JSON.stringify(opts.type)}: must be full, diff or incr`);
      const type = opts.type as BackupType;
      const reporter = createReporter(opts);
      const result = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
        backedUpCluster(session.model, session.loaded.path, opts.cluster);
        const secrets = await resolveSecrets(session.loaded, { createMissing: false });
        await openAccess(session, secrets, { createMissing: false });
        const before = await readStanza(session, opts.cluster);
        const leader = await currentLeader(session.facts, session.model, opts.cluster);
        const runner = repositoryRunner(session.model, opts.cluster, leader)!;
        await verifyRepositoryKey(session.facts, session.model, opts.cluster, secrets, (h) => session.remotes.has(h));
        const mode = repositoryMode(session.model.inventory.clusters[opts.cluster]!.backup!);
        if (mode.kind !== 'options') {
          const [free, database] = await Promise.all([
            session.facts.fresh(runner.host, freeBytes(mode.path)),
            leader ? session.facts.fresh(leader, localPostgres(session.model, opts.cluster).query('database-bytes', 'select sum(pg_database_size(oid)) from pg_database', (rows) => Number(rows[0]?.[0] ?? 0))) : undefined,
          ]);
          checkRepositorySpace(opts.cluster, runner.host, mode.path, free, before.info, type, database ?? 0);
        }
        const stage = {
          id: `backup:${opts.cluster}`,
          title: `${type} backup of ${opts.cluster}`,
          plan: async () => ({ blocks: [{ items: [exec(runner.host, `take a ${type} backup of ${opts.cluster}`, backupArgv(opts.cluster, type), { user: runner.user, timeoutMs: 6 * 3600_000 })] }], notes: [] }),
        };
        await withRunLock(session, { command: `backup run --cluster ${opts.cluster}`, breakLock: opts.breakLock ?? false }, () =>
          runGraph([stage], { session, model: session.model, secrets, options }, 'deploy'),
        );
        const after = await readStanza(session, opts.cluster);
        const labels = new Set(before.info.backups.map((b) => b.label));
        const made = after.info.backups.find((b) => !labels.has(b.label)) ?? newestBackup(after.info);
        if (!made) throw new HapgError('COMMAND_FAILED', `pgBackRest reported success but the repository lists no backup of ${opts.cluster}`);
        return made;
      });
      await reporter.result(
        `cluster ${opts.cluster}: ${result.type} backup ${result.label} in ${result.stop - result.start} s, database ${mb(result.size)}, ${mb(result.repoSize)} written to the repository, WAL ${result.walStart}..${result.walStop}`,
        result,
      );
      process.exitCode = ExitCode.ok;
    });

  withInventoryOptions(backup.command('list'))
    .description("list each cluster's backups and its WAL archive")
    .option('--cluster <name>', 'only this cluster')
    .action(async (opts: ListOptions) => {
      const reporter = createReporter(opts);
      const clusters = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
        const names = opts.cluster ? [opts.cluster] : Object.keys(session.model.inventory.clusters).filter((n) => session.model.inventory.clusters[n]!.backup);
        for (const n of names) backedUpCluster(session.model, session.loaded.path, n);
        await openAccess(session, undefined, { createMissing: false });
        return Promise.all(names.map(async (name) => ({ name, ...(await readStanza(session, name)) })));
      });
      const text = clusters
        .flatMap(({ name, host, info }) => {
          const good = info.backups.filter((b) => !b.error).sort((a, b) => a.stop - b.stop);
          return [
            `cluster ${name} (repository read on ${host}): ${info.message}`,
            `  ${'LABEL'.padEnd(36)} TYPE STOPPED               TOOK      DATABASE  REPOSITORY  WAL`,
            ...info.backups.map((b) => `  ${backupLine(b)}`),
            ...info.archives.map((a) => `  WAL archive ${a.id}: ${a.min || '-'}..${a.max || '-'}`),
            `  oldest recoverable point: ${good[0] ? iso(good[0].stop) : 'none (no backup)'}`,
          ];
        })
        .join('\n');
      await reporter.result(text, { clusters: clusters.map(({ name, host, info }) => ({ name, host, ...info })) });
      process.exitCode = ExitCode.ok;
    });

  withLockOptions(withInventoryOptions(program.command('restore')))
    .description('point-in-time recovery of a whole cluster in place from its repository (the current data is moved aside, never deleted)')
    .requiredOption('--cluster <name>', 'cluster to restore')
    .option('--to <target>', 'latest, or a time with its zone (2026-11-29T21:40:00Z)')
    .option('--lsn <lsn>', 'recover up to this WAL location')
    .option('--name <point>', 'recover up to this restore point (pg_create_restore_point)')
    .option('--yes-replace-data', "confirm that every member's data directory is moved aside and the cluster's state in etcd is deleted")
    .option('--into <cluster>', 'restore into another cluster of the inventory (not supported yet: refused)')
    .action(async (opts: RestoreOptions) => {
      if (opts.into !== undefined) {
        throw new HapgError(
          'USAGE',
          `--into: restoring ${opts.cluster}'s backups into another cluster is not supported yet: the copy would carry ${opts.cluster}'s role passwords and system identifier, which its own Patroni logins and pgBackRest stanza do not match; restore a copy with pgbackrest restore by hand; nothing was changed`,
        );
      }
      const target = parseRestoreTarget(opts);
      if (!opts.yesReplaceData) {
        throw new HapgError('USAGE', `restore stops cluster ${opts.cluster}, moves the data of all its members aside and replaces it from the repository: add --yes-replace-data to confirm`);
      }
      const reporter = createReporter(opts);
      const started = Date.now();
      const outcome: RestoreOutcome = {};
      const report = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
        const prepared = await prepareSecrets(session.loaded, { createMissing: false });
        await openAccess(session, prepared.secrets, { createMissing: false });
        const stages = [preflightStage(), ...restoreStages(session.model, session.loaded.path, opts.cluster, target, outcome), ...deployGraph(session.model, { preflight: false })];
        return withRunLock(session, { command: `restore --cluster ${opts.cluster}`, breakLock: opts.breakLock ?? false }, (lock) =>
          deploy(session, prepared.secrets, { ...options, freshSecrets: prepared.created, beforeFirstChange: prepared.persist, afterStage: lock.afterStage }, stages),
        );
      });
      const restored = report.clusters.find((c) => c.name === opts.cluster);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      await reporter.result(
        `cluster ${opts.cluster}: restored to ${describeTarget(target)} in ${seconds}s on ${outcome.host}; leader ${restored?.leader ?? '?'}, replicas rebuilt, write verified; the old data is kept in ${outcome.movedAside?.join(' and ')} on every member`,
        { ...report, seconds: Number(seconds), target: describeTarget(target), movedAside: outcome.movedAside },
      );
      process.exitCode = ExitCode.ok;
    });
}
