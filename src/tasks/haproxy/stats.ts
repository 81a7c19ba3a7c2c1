import type { HttpFact } from '../../facts/fact.js';
import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';

/** A server of an HAProxy listener, as the stats page shows it. */
export interface BackendServer {
  proxy: string;
  server: string;
  /** UP, DOWN, "UP 1/2" (going down), MAINT, no check … */
  status: string;
  /** Result of the last health check: INI until the first one ran. */
  checkStatus: string;
}

/** Where a cluster's stats page listens on an HAProxy host: loopback unless the inventory says the host's address. */
export function statsAddress(model: DesiredState, cluster: string, host: string): string {
  return model.inventory.clusters[cluster]!.haproxy?.stats_listen === 'host' ? addressOf(model.inventory, host) : '127.0.0.1';
}

/** Server states from a cluster's HAProxy stats page in CSV (`GET /;csv`) on `host`, read through its SSH connection. */
export function haproxyServers(model: DesiredState, cluster: string, host: string): HttpFact<BackendServer[] | undefined> {
  const statsPort = model.inventory.clusters[cluster]!.haproxy!.stats_port;
  return {
    id: `haproxy-stats:${statsPort}`,
    http: { method: 'GET', address: statsAddress(model, cluster, host), port: statsPort, path: '/;csv', timeoutMs: 5000 },
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
