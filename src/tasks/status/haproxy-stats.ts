import type { HttpFact } from '../../facts/fact.js';

export interface BackendServer {
  proxy: string;
  server: string;
  /** UP, DOWN, MAINT, no check … */
  status: string;
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
  const col = (name: string) => header.indexOf(name);
  const [px, sv, st] = [col('pxname'), col('svname'), col('status')];
  if (px < 0 || sv < 0 || st < 0) return [];
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((c) => c[sv] !== 'FRONTEND' && c[sv] !== 'BACKEND')
    .map((c) => ({ proxy: c[px] ?? '', server: c[sv] ?? '', status: c[st] ?? '' }));
}
