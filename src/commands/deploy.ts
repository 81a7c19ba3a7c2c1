import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { prepareSecrets } from '../inventory/secrets.js';
import { openAccess } from '../model/access.js';
import { withRunLock } from '../run/lock.js';
import { withSession } from '../run/session.js';
import { deploy, type ClusterReport } from '../stages/deploy.js';
import { createReporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, withLockOptions, type ChangingCommandOptions, type InventoryCommandOptions } from './options.js';
import { rollingOptionsOf, wholeNumber, withRollingOptions, type RollingCommandOptions } from './rolling-options.js';

interface DeployCommandOptions extends InventoryCommandOptions, RollingCommandOptions, ChangingCommandOptions {
  force?: boolean;
  restartTimeout?: number;
  rotateSecrets?: boolean;
}

/** `hapg deploy`: converge the hosts to the inventory, from bare hosts or on a live cluster. */
export function registerDeployCommand(program: Command): void {
  withLockOptions(withRollingOptions(withInventoryOptions(program.command('deploy'))))
    .description('install, configure and bootstrap (or converge) everything the inventory declares, then verify')
    .option('--force', 'proceed even when a live Patroni cluster is unhealthy')
    .option('--rotate-secrets', 'generate every generated password anew and set the new ones on the live clusters')
    .option('--restart-timeout <seconds>', 'how long a restarted member may take to run and stream again before deploy stops', wholeNumber(1), 120)
    .action(async (opts: DeployCommandOptions) => {
      process.exitCode = await runDeploy(opts);
    });
}

async function runDeploy(opts: DeployCommandOptions): Promise<number> {
  const reporter = createReporter(opts);
  const started = Date.now();
  const report = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
    const prepared = await prepareSecrets(session.loaded, { createMissing: true, rotate: opts.rotateSecrets ?? false });
    const tls = await openAccess(session, prepared.secrets, { createMissing: true });
    return withRunLock(session, { command: 'deploy', breakLock: opts.breakLock ?? false }, (lock) =>
      deploy(session, prepared.secrets, {
        force: opts.force ?? false,
        rolling: rollingOptionsOf(opts, (opts.restartTimeout ?? 120) * 1000),
        freshSecrets: prepared.created,
        rotateSecrets: opts.rotateSecrets ?? false,
        beforeFirstChange: async () => {
          await prepared.persist();
          await tls.persist();
        },
        afterStage: lock.afterStage,
      }),
    );
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const verdict = report.changes === 0 ? `nothing to do: everything already as declared (${seconds}s)` : `${report.changes} changes applied in ${seconds}s`;
  await reporter.result([...report.clusters.map(clusterLine), verdict].join('\n'), { changes: report.changes, seconds: Number(seconds), clusters: report.clusters, sequence: report.sequence });
  return ExitCode.ok;
}

/** One line per cluster: who leads, where the VIP is, and what was verified. */
export function clusterLine(c: ClusterReport): string {
  const vip = c.vipHolder ? `, VIP on ${c.vipHolder}` : '';
  return c.standby
    ? `cluster ${c.name}: standby leader ${c.leader ?? '?'}${vip}, streaming from ${c.standby.source}, copy verified`
    : `cluster ${c.name}: leader ${c.leader ?? '?'}${vip}, write/read check passed`;
}
