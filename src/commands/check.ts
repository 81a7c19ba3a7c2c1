import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { withSession } from '../run/session.js';
import { worstVerdict, type CheckResult, type Verdict } from '../tasks/preflight/checks.js';
import { runPreflight, type HostCheckReport } from '../tasks/preflight/run.js';
import { createReporter } from '../ui/reporter.js';
import { renderTable } from '../ui/table.js';
import { sessionOptionsOf, withInventoryOptions, type InventoryCommandOptions } from './options.js';

/** `hapg check`: validate the inventory, connect to every host, run the preflight checks. */
export function registerCheckCommand(program: Command): void {
  withInventoryOptions(program.command('check'))
    .description('validate the inventory, connect to every host and run preflight checks')
    .action(async (opts: InventoryCommandOptions) => {
      process.exitCode = await runCheck(opts);
    });
}

async function runCheck(opts: InventoryCommandOptions): Promise<number> {
  const reporter = createReporter(opts);
  const reports = await withSession(
    sessionOptionsOf(opts),
    reporter.sink,
    async (session) => {
      session.sink({ kind: 'phase', title: 'Running preflight checks' });
      return runPreflight(session, session.model);
    },
  );
  const overall = worstVerdict(reports.flatMap((r) => r.checks));
  await reporter.result(renderCheckReport(reports, overall), { verdict: overall, hosts: reports });
  return overall === 'fail' ? ExitCode.failed : ExitCode.ok;
}

/** The per-host table followed by one line per warning or failure. */
export function renderCheckReport(reports: HostCheckReport[], overall: Verdict): string {
  const names = reports[0]?.checks.map((c) => c.name) ?? [];
  const rows = [
    ['HOST', 'ADDRESS', ...names.map((n) => n.toUpperCase()), 'RESULT'],
    ...reports.map((r) => [r.host, r.address, ...r.checks.map((c) => mark(c)), r.verdict]),
  ];
  const problems = reports.flatMap((r) =>
    r.checks.filter((c) => c.verdict !== 'ok').map((c) => `${c.verdict}: ${r.host}: ${c.name}: ${c.detail ?? c.summary}`),
  );
  const healthy = reports.filter((r) => r.verdict !== 'fail').length;
  const summary = `${healthy} of ${reports.length} hosts passed the preflight${overall === 'warn' ? ' (with warnings)' : ''}`;
  return [renderTable(rows), ...(problems.length ? ['', ...problems] : []), '', summary].join('\n');
}

function mark(c: CheckResult): string {
  return c.verdict === 'ok' ? c.summary : `${c.summary} (${c.verdict})`;
}
