// Hosts that still run a service hapg configured there and that the inventory no longer gives
// that role (a proxy host taken out of a cluster's haproxy hosts): found by hapg's own header on
// the service's configuration file, so a service hapg never configured is left alone.
import { fileContent } from '../facts/files.js';
import { serviceStates } from '../facts/services.js';
import type { DesiredState } from '../model/model.js';
import type { Session } from '../run/session.js';

export const HAPG_HEADER = '# Managed by hapg.';

/**
 * Reachable inventory hosts outside `keep` whose `configPath` carries hapg's header and whose
 * `name` service is running or enabled: each is to have it stopped and disabled. Hosts hapg
 * cannot reach are not judged (nothing is said about them here; preflight names them).
 */
export async function hostsStillRunning(session: Session, model: DesiredState, name: string, configPath: string, keep: ReadonlySet<string>): Promise<string[]> {
  const candidates = Object.keys(model.inventory.hosts).filter((h) => !keep.has(h) && session.remotes.has(h));
  const found = await Promise.all(
    candidates.map(async (h) => {
      const content = await session.facts.get(h, fileContent(configPath)).catch(() => '');
      if (!content.startsWith(HAPG_HEADER)) return undefined;
      const state = (await session.facts.get(h, serviceStates([name]))).get(name);
      return state?.active === 'active' || state?.active === 'activating' || state?.enabled === 'enabled' ? h : undefined;
    }),
  );
  return found.filter((h): h is string => h !== undefined);
}
