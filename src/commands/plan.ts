import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { fileContent } from '../facts/files.js';
import { resolveSecrets } from '../inventory/secrets.js';
import { withSession } from '../run/session.js';
import type { PlanItem } from '../run/steps.js';
import { collectPlan } from '../tasks/plan/collect.js';
import { planCounts, renderPlan } from '../ui/plan-render.js';
import { createReporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, type InventoryCommandOptions } from './options.js';

/** `hapg plan`: what deploy would change, per host, with file diffs; changes nothing. */
export function registerPlanCommand(program: Command): void {
  withInventoryOptions(program.command('plan'))
    .description('show what deploy would change (file diffs with secrets masked, packages, services, cluster actions); changes nothing')
    .action(async (opts: InventoryCommandOptions) => {
      const reporter = createReporter({ ...opts, quiet: !opts.json });
      await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
        const secrets = await resolveSecrets(session.loaded, { createMissing: false, placeholders: true });
        const sections = await collectPlan(session, secrets);
        const text = await renderPlan(sections, (host, path) => session.facts.get(host, fileContent(path)));
        await reporter.result(text, { ...planCounts(sections), sections: sections.map((s) => ({ title: s.title, actions: s.actions, items: s.items.map(describe) })) });
      });
      process.exitCode = ExitCode.ok;
    });
}

/** A plan item for JSON output: never file contents (they may hold secrets). */
function describe(item: PlanItem): Record<string, unknown> {
  if (item.kind === 'noop') return { kind: 'noop', host: item.host, reason: item.reason };
  if (item.kind === 'file') return { kind: 'file', host: item.host, path: item.path, mode: item.mode.toString(8), owner: item.owner };
  return { kind: item.kind, host: item.host, title: item.title };
}
