import type { Command } from 'commander';
import { ExitCode, HapgError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { prepareSecrets, resolveSecrets } from '../inventory/secrets.js';
import { withRunLock } from '../run/lock.js';
import { patroniApi } from '../model/endpoints.js';
import { buildModel } from '../model/model.js';
import { openAccess } from '../model/access.js';
import { withSession } from '../run/session.js';
import { deploy } from '../stages/deploy.js';
import { deployGraph } from '../stages/graph.js';
import { runGraph } from '../stages/run.js';
import { DEFAULT_ROLLING } from '../tasks/patroni/restart-options.js';
import { preflightStage } from '../tasks/preflight/stage.js';
import { describeLastLeader, describeStream, promoteNextSteps, promoteStages, type PromoteOutcome } from '../tasks/standby/promote.js';
import { rebuildStages, standbyClusterNamed } from '../tasks/standby/rebuild.js';
import { createReporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, withLockOptions, type ChangingCommandOptions, type InventoryCommandOptions } from './options.js';

interface RebuildOptions extends InventoryCommandOptions, ChangingCommandOptions {
  cluster: string;
  yesWipeData?: boolean;
}

interface PromoteOptions extends InventoryCommandOptions, ChangingCommandOptions {
  cluster: string;
  force?: boolean;
}

const options = { force: false, rolling: DEFAULT_ROLLING };

/** `hapg standby rebuild|promote`: the standby-cluster operations that deploy never does on its own. */
export function registerStandbyCommands(program: Command): void {
  const standby = program.command('standby').description('operate standby clusters (rebuild from the source, promote for disaster recovery)');

  withLockOptions(withInventoryOptions(standby.command('rebuild')))
    .description("wipe a standby cluster's data and DCS state and bootstrap it again as a standby of its source (the source is only read)")
    .requiredOption('--cluster <name>', 'standby cluster to rebuild')
    .option('--yes-wipe-data', "confirm that the cluster's data directories are moved aside and its state in etcd is deleted")
    .action(async (opts: RebuildOptions) => {
      if (!opts.yesWipeData) {
        throw new HapgError('USAGE', `standby rebuild moves the data of cluster ${opts.cluster} aside on all its members and deletes its state in etcd: add --yes-wipe-data to confirm`);
      }
      const reporter = createReporter(opts);
      const started = Date.now();
      const report = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
        const prepared = await prepareSecrets(session.loaded, { createMissing: true });
        const tls = await openAccess(session, prepared.secrets, { createMissing: true });
        const stages = [preflightStage(), ...rebuildStages(session.model, session.loaded.path, opts.cluster), ...deployGraph(session.model, { preflight: false })];
        const beforeFirstChange = async () => {
          await prepared.persist();
          await tls.persist();
        };
        return withRunLock(session, { command: `standby rebuild --cluster ${opts.cluster}`, breakLock: opts.breakLock ?? false }, (lock) =>
          deploy(session, prepared.secrets, { ...options, freshSecrets: prepared.created, beforeFirstChange, afterStage: lock.afterStage }, stages),
        );
      });
      const rebuilt = report.clusters.find((c) => c.name === opts.cluster);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      await reporter.result(
        `cluster ${opts.cluster}: rebuilt as a standby of ${rebuilt?.standby?.source ?? '?'} in ${seconds}s; standby leader ${rebuilt?.leader ?? '?'}, copy verified`,
        { ...report, seconds: Number(seconds) },
      );
      process.exitCode = ExitCode.ok;
    });

  withLockOptions(withInventoryOptions(standby.command('promote')))
    .description('disaster recovery: make a standby cluster a primary (refused while its source has a running leader, unless --force)')
    .requiredOption('--cluster <name>', 'standby cluster to promote')
    .option('--force', "promote even though the source's leader is reachable and running (split-brain risk: fence it yourself)")
    .action(async (opts: PromoteOptions) => {
      const reporter = createReporter(opts);
      // The standby's side must answer; the source may be gone, which is the point.
      const { inventory, path } = await loadInventory(opts.inventory);
      const cluster = standbyClusterNamed(buildModel(inventory), path, opts.cluster, 'standby promote');
      const hosts = [...new Set([...cluster.hosts, ...(inventory.etcd[cluster.etcd]?.hosts ?? []), ...(cluster.haproxy?.hosts ?? [])])];
      const source = inventory.clusters[cluster.standby.cluster]!;
      const optional = [...source.hosts, ...(inventory.etcd[source.etcd]?.hosts ?? [])];
      const outcome: PromoteOutcome = {};
      let timeline: number | undefined;
      await withSession({ ...sessionOptionsOf(opts), hosts, optional }, reporter.sink, async (session) => {
        const secrets = await resolveSecrets(session.loaded, { createMissing: false });
        await openAccess(session, secrets, { createMissing: false });
        await withRunLock(session, { command: `standby promote --cluster ${opts.cluster}`, breakLock: opts.breakLock ?? false }, () =>
          runGraph(promoteStages(session.model, path, opts.cluster, { force: opts.force ?? false }, outcome), { session, model: session.model, secrets, options }, 'deploy'),
        );
        timeline = (await session.facts.fresh(outcome.leader!, patroniApi(session.model, opts.cluster).state(outcome.leader!)))?.timeline;
      });
      const next = promoteNextSteps(path, opts.cluster, cluster.standby.cluster);
      await reporter.result(
        [
          `cluster ${opts.cluster}: promoted; leader ${outcome.leader} on timeline ${timeline ?? '?'} takes writes (verified)`,
          `source ${cluster.standby.cluster}: last known leader ${describeLastLeader(outcome)}; ${describeStream(outcome)}; fenced (Patroni stopped and disabled): ${outcome.fenced?.join(', ') || 'none reachable'}`,
          'next:',
          ...next.map((n) => `  - ${n}`),
        ].join('\n'),
        { cluster: opts.cluster, leader: outcome.leader, timeline, source: outcome.probe, lastSourceLeader: outcome.lastSourceLeader, lastSourceLeaderFrom: outcome.lastSourceLeaderFrom, streamedThrough: outcome.streamedThrough, streaming: outcome.streaming, replayedUpTo: outcome.replayedUpTo, fenced: outcome.fenced, next },
      );
      process.exitCode = ExitCode.ok;
    });
}
