import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { prepareSecrets } from '../inventory/secrets.js';
import { openAccess } from '../model/access.js';
import { withRunLock } from '../run/lock.js';
import { withSession } from '../run/session.js';
import { deployConverting } from '../stages/conversion.js';
import type { ClusterReport } from '../stages/deploy.js';
import type { StageTiming } from '../stages/run.js';
import { createReporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, withLockOptions, type ChangingCommandOptions, type InventoryCommandOptions } from './options.js';
import { rollingOptionsOf, wholeNumber, withMembershipOptions, withRollingOptions, type MembershipCommandOptions, type RollingCommandOptions } from './rolling-options.js';

interface DeployCommandOptions extends InventoryCommandOptions, RollingCommandOptions, MembershipCommandOptions, ChangingCommandOptions {
  force?: boolean;
  restartTimeout?: number;
  rotateSecrets?: boolean;
  timings?: boolean;
}

/** `hapg deploy`: converge the hosts to the inventory, from bare hosts or on a live cluster. */
export function registerDeployCommand(program: Command): void {
  withLockOptions(withMembershipOptions(withRollingOptions(withInventoryOptions(program.command('deploy')))))
    .description('install, configure and bootstrap (or converge) everything the inventory declares, then verify')
    .option('--force', 'proceed even when a live Patroni cluster is unhealthy')
    .option('--rotate-secrets', 'generate every generated password anew and set the new ones on the live clusters')
    .option('--timings', 'print how long connecting and each stage took (planning and running)')
    .option('--restart-timeout <seconds>', 'how long a restarted member may take to run and stream again before deploy stops', wholeNumber(1), 120)
    .action(async (opts: DeployCommandOptions) => {
      process.exitCode = await runDeploy(opts);
    });
}

async function runDeploy(opts: DeployCommandOptions): Promise<number> {
  const reporter = createReporter(opts);
  const started = Date.now();
  let connectedMs = 0;
  const report = await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
    connectedMs = Date.now() - started;
    const prepared = await prepareSecrets(session.loaded, { createMissing: true, rotate: opts.rotateSecrets ?? false });
    const tls = await openAccess(session, prepared.secrets, { createMissing: true });
    return withRunLock(session, { command: 'deploy', breakLock: opts.breakLock ?? false }, (lock) =>
      deployConverting(session, prepared.secrets, {
        force: opts.force ?? false,
        rolling: rollingOptionsOf(opts, (opts.restartTimeout ?? 120) * 1000),
        freshSecrets: prepared.created,
        rotateSecrets: opts.rotateSecrets ?? false,
        allowEven: opts.allowEven ?? false, prune: opts.prune ?? [],
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
  const lines = [...report.clusters.map(clusterLine), verdict, ...(opts.timings ? ['', ...timingTable(connectedMs, report.timings, Date.now() - started)] : [])];
  await reporter.result(lines.join('\n'), { changes: report.changes, seconds: Number(seconds), clusters: report.clusters, sequence: report.sequence, connectedMs, timings: report.timings });
  return ExitCode.ok;
}

/** The table `--timings` prints: connecting (SSH and first facts), then each stage, then the total. */
export function timingTable(connectedMs: number, timings: readonly StageTiming[], totalMs: number): string[] {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rows: [string, string, string, string][] = [
    ['Connecting (SSH, host facts)', s(connectedMs), '', ''],
    ...timings.map((t): [string, string, string, string] => [t.title, s(t.planMs + t.runMs), `plan ${s(t.planMs)}`, t.changes ? `${t.changes} change${t.changes === 1 ? '' : 's'}` : '']),
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  const timeWidth = Math.max(...rows.map((r) => r[1].length));
  const table = rows.map(([title, time, plan, changes]) => `  ${title.padEnd(width)}  ${time.padStart(timeWidth)}  ${plan.padEnd(12)}  ${changes}`.trimEnd());
  return ['Timings:', ...table, `  ${'Total'.padEnd(width)}  ${s(totalMs).padStart(timeWidth)}`];
}

/** One line per cluster: who leads, where the VIP is, and what was verified. */
export function clusterLine(c: ClusterReport): string {
  const vip = c.vipHolder ? `, VIP on ${c.vipHolder}` : '';
  return c.standby
    ? `cluster ${c.name}: standby leader ${c.leader ?? '?'}${vip}, streaming from ${c.standby.source}, copy verified`
    : `cluster ${c.name}: leader ${c.leader ?? '?'}${vip}, write/read check passed`;
}
