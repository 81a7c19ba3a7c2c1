import type { HttpFact } from '../../facts/fact.js';

/** A server of an HAProxy listener, as the stats page shows it. */
export interface BackendServer {
  proxy: string;
  server: string;
  /** UP, DOWN, "UP 1/2" (going down), MAINT, no check … */
  status: string;
  /** Result of the last health check: INI until the first one ran. */
  checkStatus: string;
}

/** Server states from HAProxy's stats page in CSV (`GET /;csv`), read on the host's loopback. */
export function haproxyServers(statsPort: number): HttpFact<BackendServer[] | undefined> {
  return {
    id: `haproxy-stats:${statsPort}`,
    http: { method: 'GET', port: statsPort, path: '/;csv', timeoutMs: 5000 },
    parse: (res) => (res && res.status === 200 ? parseHaproxyCsv(res.body) : undefined),
  };
}

/** Parses HAProxy's stats CSV (header line starts with "# pxname,svname,…"). */
export function parseHaproxyCsv(body: string): BackendServer[] {
  const lines = body.split('\n').filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').replace(/^#\s*/, '').split(',');
  const [px, sv, st, ck] = ['pxname', 'svname', 'status', 'check_status'].map((c) => header.indexOf(c)) as [number, number, number, number];
  if (px < 0 || sv < 0 || st < 0) return [];
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((c) => c[sv] !== 'FRONTEND' && c[sv] !== 'BACKEND')
    .map((c) => ({ proxy: c[px] ?? '', server: c[sv] ?? '', status: c[st] ?? '', checkStatus: ck < 0 ? '' : (c[ck] ?? '') }));
}
