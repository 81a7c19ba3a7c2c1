import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { fileContent } from '../facts/files.js';
import { prepareSecrets } from '../inventory/secrets.js';
import { openAccess } from '../model/access.js';
import { withSession } from '../run/session.js';
import { planConverting } from '../stages/conversion.js';
import { planJson, renderPlan } from '../ui/plan-render.js';
import { createReporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, type InventoryCommandOptions } from './options.js';
import { rollingOptionsOf, withMembershipOptions, withRollingOptions, type MembershipCommandOptions, type RollingCommandOptions } from './rolling-options.js';

/** `hapg plan`: what deploy would change, stage by stage, with file diffs; changes nothing. */
export function registerPlanCommand(program: Command): void {
  withMembershipOptions(withRollingOptions(withInventoryOptions(program.command('plan'))))
    .description('show what deploy would change (file diffs with secrets masked, packages, services, parameters and how they apply, the order of reloads, restarts and switchovers); changes nothing')
    .option('--force', 'plan what `deploy --force` would do on an unhealthy cluster')
    .option('--rotate-secrets', 'plan what `deploy --rotate-secrets` would do')
    .action(async (opts: InventoryCommandOptions & RollingCommandOptions & MembershipCommandOptions & { force?: boolean; rotateSecrets?: boolean }) => {
      const reporter = createReporter({ ...opts, quiet: !opts.json });
      await withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
        const prepared = await prepareSecrets(session.loaded, { createMissing: false, placeholders: true });
        await openAccess(session, prepared.secrets, { createMissing: false, placeholder: true });
        const { plan, passes } = await planConverting(session, prepared.secrets, { force: opts.force ?? false, rolling: rollingOptionsOf(opts), freshSecrets: prepared.created, rotateSecrets: opts.rotateSecrets ?? false, allowEven: opts.allowEven ?? false, prune: opts.prune ?? [] });
        const text = await renderPlan(plan, (host, path) => session.facts.get(host, fileContent(path)));
        await reporter.result([...passes, text].join('\n'), { ...planJson(plan), ...(passes.length ? { tlsConversion: passes } : {}) });
      });
      process.exitCode = ExitCode.ok;
    });
}
