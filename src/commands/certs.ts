import type { Command } from 'commander';
import { ExitCode, HapgError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { prepareSecrets } from '../inventory/secrets.js';
import { openAccess } from '../model/access.js';
import { assertOwnCa, forgetRetiringCa, promoteNextCa, retirePreviousCa, rotationPhase, rotationSteps, stageNextCa } from '../pki/rotation.js';
import { issuedBy } from '../pki/x509.js';
import { withRunLock } from '../run/lock.js';
import { withSession } from '../run/session.js';
import { deploy } from '../stages/deploy.js';
import { tlsHosts } from '../tasks/tls/model.js';
import { requireCa, tlsFactOf } from '../tasks/tls/stage.js';
import { createReporter, type Reporter } from '../ui/reporter.js';
import { sessionOptionsOf, withInventoryOptions, withLockOptions, type ChangingCommandOptions, type InventoryCommandOptions } from './options.js';
import { rollingOptionsOf } from './rolling-options.js';

interface RotateCaOptions extends InventoryCommandOptions, ChangingCommandOptions {
  dryRun?: boolean;
}

/** `hapg certs …`: the cluster CA's lifecycle. */
export function registerCertsCommands(program: Command): void {
  const certs = program.command('certs').description("the CA hapg made for the inventory's hosts");
  withLockOptions(withInventoryOptions(certs.command('rotate-ca')))
    .description('replace hapg\'s CA without downtime: hosts trust old and new, every certificate is reissued by the new CA, then the old CA is dropped; each phase verified; a re-run finishes a rotation that was cut short')
    .option('--dry-run', 'print the phases still to run; change nothing')
    .action(async (opts: RotateCaOptions) => {
      process.exitCode = await rotateCa(opts);
    });
}

async function rotateCa(opts: RotateCaOptions): Promise<number> {
  const reporter = createReporter(opts);
  const loaded = await loadInventory(opts.inventory);
  assertOwnCa(loaded);
  const start = await rotationPhase(loaded);
  if (opts.dryRun) {
    const lines = [`CA rotation ${start === 'none' ? 'not started' : `stands at: ${start}`}; would run:`, ...rotationSteps(start).map((s) => `  - ${s}`)];
    await reporter.result(lines.join('\n'), { phase: start, steps: rotationSteps(start) });
    return ExitCode.ok;
  }
  const started = Date.now();
  const done: string[] = [];
  if (start === 'none') await stageNextCa(loaded);
  if (start === 'none' || start === 'trust') {
    done.push(`phase 1 (hosts trust old and new CA): ${await deployPhase(opts, reporter)} changes`);
  }
  if (start !== 'reissue' && start !== 'retire') await promoteNextCa(loaded);
  if (start !== 'retire') done.push(`phase 2 (certificates reissued by the new CA): ${await deployPhase(opts, reporter, true)} changes`);
  await retirePreviousCa(loaded);
  done.push(`phase 3 (old CA dropped from every bundle): ${await deployPhase(opts, reporter)} changes`);
  await forgetRetiringCa(loaded);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  await reporter.result([...done, `CA rotated in ${seconds}s`].join('\n'), { phases: done, seconds: Number(seconds) });
  return ExitCode.ok;
}

/**
 * One phase: a deploy of the inventory as it is, with the CA files as they now stand (the TLS
 * stage writes the bundle and issues certificates; deploy verifies the clusters at its end).
 * `checkIssuer`: afterwards every certificate on every host must be the current CA's.
 */
async function deployPhase(opts: RotateCaOptions, reporter: Reporter, checkIssuer = false): Promise<number> {
  return withSession(sessionOptionsOf(opts), reporter.sink, async (session) => {
    const prepared = await prepareSecrets(session.loaded, { createMissing: false });
    const tls = await openAccess(session, prepared.secrets, { createMissing: true });
    const report = await withRunLock(session, { command: 'certs rotate-ca', breakLock: opts.breakLock ?? false }, (lock) =>
      deploy(session, prepared.secrets, {
        force: false,
        rolling: rollingOptionsOf({}, 120_000),
        freshSecrets: prepared.created,
        rotateSecrets: false,
        allowEven: false,
        prune: [],
        beforeFirstChange: async () => {
          await tls.persist();
        },
        afterStage: lock.afterStage,
      }),
    );
    if (checkIssuer) {
      const ca = requireCa(session.model);
      const unreachable = tlsHosts(session.model.inventory).filter((h) => !session.remotes.has(h));
      if (unreachable.length) throw new HapgError('UNSAFE_OPERATION', `${unreachable.join(', ')} unreachable: their certificates cannot be checked, the old CA stays trusted (run rotate-ca again)`);
      for (const host of tlsHosts(session.model.inventory)) {
        const held = await session.facts.fresh(host, tlsFactOf(session.model, host));
        for (const [certPath, c] of held.certificates) {
          if (!c.cert || !issuedBy(c.cert, [ca.signerInfo])) {
            throw new HapgError('UNSAFE_OPERATION', `${host}: ${certPath} is not issued by the new CA after phase 2: the old CA stays trusted (run rotate-ca again)`, { host });
          }
        }
      }
    }
    return report.changes;
  });
}
