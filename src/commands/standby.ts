import type { Command } from 'commander';
import { ExitCode, HapgError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { resolveSecrets } from '../inventory/secrets.js';
import { withSession } from '../run/session.js';
import { promoteStandby } from '../tasks/standby/promote.js';
import { rebuildStandby } from '../tasks/standby/rebuild.js';
import { createReporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, type InventoryCommandOptions } from './options.js';

interface RebuildOptions extends InventoryCommandOptions {
  cluster: string;
  yesWipeData?: boolean;
}

interface PromoteOptions extends InventoryCommandOptions {
  cluster: string;
  force?: boolean;
}

/** `hapg standby rebuild|promote`: the standby-cluster operations that deploy never does on its own. */
export function registerStandbyCommands(program: Command): void {
  const standby = program.command('standby').description('operate standby clusters (rebuild from the source, promote for disaster recovery)');

  withInventoryOptions(standby.command('rebuild'))
    .description("wipe a standby cluster's data and DCS state and bootstrap it again as a standby of its source (the source is only read)")
    .requiredOption('--cluster <name>', 'standby cluster to rebuild')
    .option('--yes-wipe-data', "confirm that the cluster's data directories and its state in etcd are deleted")
    .action(async (opts: RebuildOptions) => {
      if (!opts.yesWipeData) {
        throw new HapgError('USAGE', `standby rebuild deletes the data of cluster ${opts.cluster} on all its members: add --yes-wipe-data to confirm`);
      }
      const reporter = createReporter(opts);
      const started = Date.now();
      const report = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
        const secrets = await resolveSecrets(session.loaded, { createMissing: true });
        return rebuildStandby(session, secrets, opts.cluster, { force: false });
      });
      const rebuilt = report.clusters.find((c) => c.name === opts.cluster);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      await reporter.result(
        `cluster ${opts.cluster}: rebuilt as a standby of ${rebuilt?.standby?.source ?? '?'} in ${seconds}s; standby leader ${rebuilt?.leader ?? '?'}, system identifier ${rebuilt?.standby?.systemId ?? '?'}, copy verified`,
        { ...report, seconds: Number(seconds) },
      );
      process.exitCode = ExitCode.ok;
    });

  withInventoryOptions(standby.command('promote'))
    .description('disaster recovery: make a standby cluster a primary (refused while its source has a running leader, unless --force)')
    .requiredOption('--cluster <name>', 'standby cluster to promote')
    .option('--force', "promote even though the source's leader is reachable and running (split-brain risk: fence it yourself)")
    .action(async (opts: PromoteOptions) => {
      const reporter = createReporter(opts);
      // Only the standby's side is connected up front: the source may be gone, which is the point.
      const { inventory } = await loadInventory(opts.inventory);
      const cluster = inventory.clusters[opts.cluster];
      const hosts = cluster ? [...new Set([...cluster.hosts, ...(inventory.etcd[cluster.etcd]?.hosts ?? []), ...(cluster.haproxy?.hosts ?? [])])] : undefined;
      const result = await withSession({ ...sessionOptionsOf(opts), ...(hosts ? { hosts } : {}) }, reporter.sink, async (session) => {
        const secrets = await resolveSecrets(session.loaded, { createMissing: false });
        return promoteStandby(session, secrets, opts.cluster, { force: opts.force ?? false });
      });
      await reporter.result(
        [`cluster ${result.cluster}: promoted; leader ${result.leader} on timeline ${result.timeline ?? '?'} takes writes (verified through the ${result.verify.write.via})`, 'next:', ...result.next.map((n) => `  - ${n}`)].join('\n'),
        result,
      );
      process.exitCode = ExitCode.ok;
    });
}
