import type { Command } from 'commander';
import { ExitCode, HapgError } from '../errors.js';
import { prepareSecrets, resolveSecrets } from '../inventory/secrets.js';
import { openAccess } from '../model/access.js';
import { buildModel, type DesiredState, type RestoreInto } from '../model/model.js';
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
import { fileContent } from '../facts/files.js';
import { loadInventory } from '../inventory/load.js';
import { isClusterInitialized } from '../tasks/patroni/cluster-state.js';
import { checkRestoreInto, restoreIntoGraph, type IntoOutcome } from '../tasks/pgbackrest/into.js';
import { renderPlan } from '../ui/plan-render.js';
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
  dryRun?: boolean;
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
    .description('point-in-time recovery of a whole cluster in place from its repository, or of a copy of it into another cluster (--into); data replaced is moved aside, never deleted')
    .requiredOption('--cluster <name>', 'cluster to restore')
    .option('--to <target>', 'latest, or a time with its zone (2026-11-29T21:40:00Z)')
    .option('--lsn <lsn>', 'recover up to this WAL location')
    .option('--name <point>', 'recover up to this restore point (pg_create_restore_point)')
    .option('--yes-replace-data', "confirm that every member's data directory is moved aside and the cluster's state in etcd is deleted")
    .option('--into <cluster>', "restore the backups of --cluster into this other cluster of the inventory (a copy; --cluster is only read); with --yes-replace-data when it holds data")
    .option('--dry-run', 'with --into: check everything and print the steps; change nothing')
    .action(async (opts: RestoreOptions) => {
      if (opts.into !== undefined) return restoreInto(opts, opts.into);
      if (opts.dryRun) throw new HapgError('USAGE', '--dry-run: only with --into (hapg plan previews a deploy)');
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

/**
 * `hapg restore --cluster SRC --into TARGET`: the inventory's refusals before any connection,
 * then the whole run as one graph under the run lock (or its plan, with --dry-run).
 */
async function restoreInto(opts: RestoreOptions, targetName: string): Promise<void> {
  const into: RestoreInto = { source: opts.cluster, target: targetName };
  const target = parseRestoreTarget(opts);
  const loaded = await loadInventory(opts.inventory);
  checkRestoreInto(buildModel(loaded.inventory), loaded.path, into);
  const reporter = createReporter(opts);
  const started = Date.now();
  const outcome: IntoOutcome = {};
  const replaceData = opts.yesReplaceData ?? false;
  if (opts.dryRun) {
    const text = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
      const prepared = await prepareSecrets(session.loaded, { createMissing: false, placeholders: true });
      await openAccess(session, prepared.secrets, { createMissing: false, placeholder: true });
      const reading = buildModel(session.loaded.inventory, { restoreInto: into });
      reading.access = session.model.access;
      const targetInitialized = (await isClusterInitialized(session.facts, session.model, into.target)) === true;
      const graph = restoreIntoGraph(session.model, reading, into, target, { replaceData, targetInitialized }, outcome);
      const run = await runGraph(graph, { session, model: session.model, secrets: prepared.secrets, options: { ...options, freshSecrets: prepared.created } }, 'plan');
      const plan = await renderPlan({ stages: run.stages, sequence: [] }, (host, path) => session.facts.get(host, fileContent(path)));
      return plan.replace(/run `hapg deploy` to apply$/, 'run the same command without --dry-run to restore');
    });
    await reporter.result(text, { dryRun: true, source: into.source, target: into.target, to: describeTarget(target) });
    process.exitCode = ExitCode.ok;
    return;
  }
  const report = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
    const prepared = await prepareSecrets(session.loaded, { createMissing: true });
    await openAccess(session, prepared.secrets, { createMissing: false });
    const reading = buildModel(session.loaded.inventory, { restoreInto: into });
    reading.access = session.model.access;
    const targetInitialized = (await isClusterInitialized(session.facts, session.model, into.target)) === true;
    const graph = restoreIntoGraph(session.model, reading, into, target, { replaceData, targetInitialized }, outcome);
    // The target's generated passwords made now are meant for it: its data is replaced, with the flag when it held any.
    const fresh = prepared.created.filter((k) => !k.startsWith(`clusters.${into.target}.`));
    return withRunLock(session, { command: `restore --cluster ${into.source} --into ${into.target}`, breakLock: opts.breakLock ?? false }, (lock) =>
      deploy(session, prepared.secrets, { ...options, freshSecrets: fresh, beforeFirstChange: prepared.persist, afterStage: lock.afterStage }, [preflightStage(), ...graph]),
    );
  });
  const restored = report.clusters.find((c) => c.name === into.target);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const kept = [
    ...(outcome.movedAside ? [`${into.target}'s data of before is kept in ${outcome.movedAside.join(' and ')} on every member`] : []),
    ...(outcome.stanzaAside ? [`its former stanza in ${outcome.stanzaAside}`] : []),
  ];
  await reporter.result(
    `cluster ${into.target}: restored from ${into.source}'s backups to ${describeTarget(target)} in ${seconds}s on ${outcome.host}; leader ${restored?.leader ?? '?'}, replicas rebuilt, write verified; ${into.source} only read${kept.length ? `; ${kept.join('; ')}` : ''}`,
    { ...report, seconds: Number(seconds), source: into.source, target: into.target, to: describeTarget(target), movedAside: outcome.movedAside, stanzaAside: outcome.stanzaAside },
  );
  process.exitCode = ExitCode.ok;
}
