import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';
import { configLoadTime } from './pg-settings.js';

/** When each running member's PostgreSQL last loaded its configuration (members not answering are left out). */
export async function configLoadTimes(session: Session, name: string): Promise<Map<string, string>> {
  const cluster = session.loaded.inventory.clusters[name]!;
  const fact = configLoadTime(cluster.postgres.port);
  const entries = await Promise.all(cluster.hosts.map(async (h) => [h, await session.facts.fresh(h, fact).catch(() => undefined)] as const));
  return new Map(entries.filter((e): e is readonly [string, string] => e[1] !== undefined));
}

/**
 * Waits until Patroni on every member has applied a changed dynamic configuration: each
 * PostgreSQL reloaded its configuration since `before`. Patroni re-reads pg_settings'
 * pending_restart a second after that reload, so its flags are settled shortly after.
 * Soft: a member that does not reload in time (a change Patroni finds equal) is reported, not fatal.
 */
export async function waitForConfigReload(session: Session, name: string, before: ReadonlyMap<string, string>): Promise<void> {
  const cluster = session.loaded.inventory.clusters[name]!;
  let waiting: string[] = [...before.keys()];
  try {
    await waitUntil(
      `every member of ${name} to reload its PostgreSQL configuration`,
      async () => {
        const now = await configLoadTimes(session, name);
        waiting = [...before].filter(([h, t]) => now.get(h) === t).map(([h]) => h);
        return { done: waiting.length === 0, status: waiting.length ? `not yet reloaded: ${waiting.join(', ')}` : 'all reloaded' };
      },
      { timeoutMs: (cluster.patroni.loop_wait * 2 + 10) * 1000, intervalMs: 500 },
    );
  } catch {
    session.sink({ kind: 'warn', message: `cluster ${name}: ${waiting.join(', ')} did not reload PostgreSQL's configuration after the change; continuing with what Patroni reports` });
    return;
  }
  await new Promise((r) => setTimeout(r, 2000));
}
