// After HAProxy starts or reloads, its new process counts every server UP until the first
// health check (HAProxy 2.6 has no init-state): for a moment new connections to the
// read-write port may reach a replica. Deploy waits until every server has been checked and
// each cluster's read-write listener routes to exactly one member.
import type { HttpFact } from '../../facts/fact.js';
import type { Inventory } from '../../inventory/schema.js';
import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';

export interface CheckedServer {
  proxy: string;
  server: string;
  /** UP, DOWN, "UP 1/2" (going down), … */
  status: string;
  /** Result of the last health check: INI until the first one ran. */
  checkStatus: string;
}

/** Servers of HAProxy's stats CSV with their check status. */
export function parseCheckedServers(csv: string): CheckedServer[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').replace(/^#\s*/, '').split(',');
  const [px, sv, st, ck] = ['pxname', 'svname', 'status', 'check_status'].map((c) => header.indexOf(c)) as [number, number, number, number];
  if (px < 0 || sv < 0 || st < 0 || ck < 0) return [];
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((c) => c[sv] !== 'FRONTEND' && c[sv] !== 'BACKEND')
    .map((c) => ({ proxy: c[px] ?? '', server: c[sv] ?? '', status: c[st] ?? '', checkStatus: c[ck] ?? '' }));
}

function checkedServers(statsPort: number): HttpFact<CheckedServer[] | undefined> {
  return {
    id: `haproxy-checks:${statsPort}`,
    http: { method: 'GET', port: statsPort, path: '/;csv', timeoutMs: 5000 },
    parse: (res) => (res && res.status === 200 ? parseCheckedServers(res.body) : undefined),
  };
}

/** Whether HAProxy on `host` has checked every server and routes each cluster's writes to one member. */
export function routingVerdict(inventory: Inventory, host: string, servers: readonly CheckedServer[]): { done: boolean; status: string } {
  const unchecked = servers.filter((s) => s.checkStatus === 'INI').map((s) => `${s.proxy}/${s.server}`);
  if (unchecked.length) return { done: false, status: `not yet checked: ${unchecked.join(', ')}` };
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    if (!cluster.haproxy?.hosts.includes(host)) continue;
    const up = servers.filter((s) => s.proxy === `${name}_read_write` && s.status === 'UP').map((s) => s.server);
    // A standby cluster takes no writes: its read-write listener may route nowhere.
    if (up.length > 1 || (up.length === 0 && !cluster.standby)) return { done: false, status: `${name} writes routed to ${up.join(', ') || 'no member'}` };
  }
  return { done: true, status: 'every server checked, writes routed to the leader' };
}

/** Waits on each host until routingVerdict holds. */
export async function waitForHaproxyRouting(session: Session, hosts: readonly string[], timeoutMs = 30_000): Promise<void> {
  const { inventory } = session.loaded;
  await Promise.all(
    hosts.map(async (host) => {
      const statsPort = Object.values(inventory.clusters).find((c) => c.haproxy?.hosts.includes(host))?.haproxy?.stats_port;
      if (statsPort === undefined) return;
      await waitUntil(
        `HAProxy on ${host} to check every server after its reload`,
        async () => {
          const servers = await session.facts.fresh(host, checkedServers(statsPort));
          return servers ? routingVerdict(inventory, host, servers) : { done: false, status: 'stats page not answering' };
        },
        { timeoutMs, host, intervalMs: 200 },
      );
    }),
  );
}
