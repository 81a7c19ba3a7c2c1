import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { resolveSecrets } from '../inventory/secrets.js';
import { withRunLock } from '../run/lock.js';
import { openAccess } from '../model/access.js';
import { withSession } from '../run/session.js';
import { runGraph } from '../stages/run.js';
import { DEFAULT_ROLLING } from '../tasks/patroni/restart-options.js';
import { promotedMs, switchoverStages, type SwitchoverChoice } from '../tasks/switchover/switchover.js';
import { createReporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, withLockOptions, type ChangingCommandOptions, type InventoryCommandOptions } from './options.js';

interface SwitchoverOptions extends InventoryCommandOptions, ChangingCommandOptions {
  cluster: string;
  to?: string;
}

/** `hapg switchover`: planned leader change, verified end to end. */
export function registerSwitchoverCommand(program: Command): void {
  withLockOptions(withInventoryOptions(program.command('switchover')))
    .description('planned switchover to a streaming replica (the most caught-up one unless --to), then verified')
    .requiredOption('--cluster <name>', 'cluster to switch over')
    .option('--to <host>', 'member to promote')
    .action(async (opts: SwitchoverOptions) => {
      const reporter = createReporter(opts);
      const result = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
        const secrets = await resolveSecrets(session.loaded, { createMissing: false });
        await openAccess(session, secrets, { createMissing: false });
        const chosen: Partial<SwitchoverChoice> = {};
        const run = await withRunLock(session, { command: `switchover --cluster ${opts.cluster}`, breakLock: opts.breakLock ?? false }, () =>
          runGraph(switchoverStages(session.model, opts.cluster, opts.to, chosen), { session, model: session.model, secrets, options: { force: false, rolling: DEFAULT_ROLLING } }, 'deploy'),
        );
        return { from: chosen.from!, to: chosen.to!, promotedMs: promotedMs(run.outcomes, opts.cluster) };
      });
      await reporter.result(`cluster ${opts.cluster}: leader moved from ${result.from} to ${result.to} in ${(result.promotedMs / 1000).toFixed(1)}s; HAProxy, VIP and a write verified`, result);
      process.exitCode = ExitCode.ok;
    });
}
