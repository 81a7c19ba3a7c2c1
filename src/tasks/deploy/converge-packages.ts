import { fileStates } from '../../facts/files.js';
import { installedPackages } from '../../facts/packages.js';
import { applyPlan } from '../../run/apply-plan.js';
import type { Session } from '../../run/session.js';
import type { PlanItem } from '../../run/steps.js';
import { packageSourceFiles, planPackages } from '../packages/plan.js';
import { wantedPackages } from '../packages/wanted.js';

/** Package plan of every host (read-only). */
export async function planAllPackages(session: Session): Promise<PlanItem[]> {
  const { inventory } = session.loaded;
  const plans = await Promise.all(
    [...session.remotes.keys()].map(async (host) => {
      const wanted = wantedPackages(inventory, host);
      const paths = packageSourceFiles(inventory, host, wanted).map((f) => f.path);
      const [installed, files] = await Promise.all([
        session.facts.get(host, installedPackages(wanted)),
        session.facts.get(host, fileStates(paths)),
      ]);
      return planPackages(inventory, host, wanted, { installed, files });
    }),
  );
  return plans.flat();
}

/** Installs what each host's roles need, on all hosts at once. */
export async function convergePackages(session: Session): Promise<number> {
  return applyPlan(await planAllPackages(session), session, 'packages');
}
