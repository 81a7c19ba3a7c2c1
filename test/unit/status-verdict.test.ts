import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { certificateProblems } from '../../src/tasks/tls/expiry.js';
import { renderStatus } from '../../src/commands/status.js';
import { serverVersionText, type ClusterMember } from '../../src/tasks/patroni/rest.js';
import { mixedReleaseNote } from '../../src/tasks/status/gather.js';
import { clusterProblems } from '../../src/tasks/status/verdict.js';

const { inventory } = await loadInventory('inventories/three-hosts.yml');
const cluster = inventory.clusters['main']!;
const member = (name: string, extra: Partial<ClusterMember> = {}): ClusterMember => ({
  name,
  role: 'replica',
  state: 'running',
  syncStandby: false,
  host: name,
  timeline: 1,
  lag: 0,
  pendingRestart: false,
  ...extra,
});
const healthy = [member('pg1', { role: 'leader', lag: undefined }), member('pg2'), member('pg3')];

describe('cluster verdict (the checks of field report 004)', () => {
  it('a healthy cluster has no problems', () => expect(clusterProblems(cluster, healthy, new Set(['pg2', 'pg3']))).toEqual([]));

  it('a replica the leader does not list as streaming is a problem, though Patroni says running', () => {
    expect(clusterProblems(cluster, healthy, new Set(['pg2']))).toEqual(['pg3 is not streaming from the leader']);
  });

  it.each<[string, ClusterMember[] | undefined, string]>([
    ['nobody answers', undefined, 'no member answers on its REST API'],
    ['no leader', [member('pg1'), member('pg2'), member('pg3')], 'no leader'],
    ['two leaders', [member('pg1', { role: 'leader' }), member('pg2', { role: 'leader' }), member('pg3')], '2 leaders: pg1, pg2'],
    ['a member missing', healthy.slice(0, 2), 'missing members: pg3'],
    ['a member stopped', [healthy[0]!, member('pg2', { state: 'stopped' }), member('pg3')], 'pg2 is stopped'],
    ['a member on an old timeline', [member('pg1', { role: 'leader', timeline: 2 }), member('pg2', { timeline: 2 }), member('pg3', { timeline: 1 })], 'pg3 is on timeline 1, the leader on 2'],
    ['a member lagging', [healthy[0]!, member('pg2', { lag: 2_000_000 }), member('pg3')], 'pg2 lags 2000000 bytes (maximum_lag_on_failover 1048576)'],
    ['a stranger', [...healthy, member('pg9')], 'members not in the inventory: pg9'],
  ])('%s', (_, members, problem) => expect(clusterProblems(cluster, members)).toContain(problem));
});

describe('what each member runs', () => {
  it('reads PostgreSQL version numbers as Patroni reports them', () => {
    expect(serverVersionText(170006)).toBe('17.6');
    expect(serverVersionText(150014)).toBe('15.14');
    expect(serverVersionText(undefined)).toBeUndefined();
  });

  it('notes members on different Debian releases (a rolling OS upgrade), not when they agree', () => {
    expect(mixedReleaseNote(new Map([['pg1', 'Debian 12'], ['pg2', 'Debian 13'], ['pg3', 'Debian 13']]))).toBe('members run different releases: Debian 12 (pg1), Debian 13 (pg2, pg3)');
    expect(mixedReleaseNote(new Map([['pg1', 'Debian 13'], ['pg2', 'Debian 13'], ['pg3', undefined]]))).toBeUndefined();
  });

  it('shows release, PostgreSQL and Patroni versions per member', () => {
    const members = healthy.map((m) => ({ ...m, release: 'Debian 13', postgresVersion: '17.6', patroniVersion: '4.0.7' }));
    const text = renderStatus({ etcd: [], clusters: [{ name: 'main', members, haproxy: [], vipHolders: [], problems: [], notes: [] }], certificates: [], certificateProblems: [], unreachable: [], healthy: true });
    expect(text).toMatch(/^MEMBER\s+HOST\s+RELEASE\s+POSTGRES\s+PATRONI\s+ROLE/m);
    expect(text).toMatch(/^pg1\s+pg1\s+Debian 13\s+17\.6\s+4\.0\.7\s+leader/m);
  });

  it('names a host it cannot reach as a problem, and is degraded', () => {
    const text = renderStatus({ etcd: [], clusters: [], certificates: [], certificateProblems: [], unreachable: [{ host: 'pg3', reason: 'connection refused' }], healthy: false });
    expect(text).toMatch(/^  problem: pg3 cannot be reached over SSH: connection refused$/m);
    expect(text.trim().split('\n').at(-1)).toBe('DEGRADED');
  });

  it('lists when certificates expire; one inside the renewal window, expired or missing is a problem', () => {
    const certs = [
      { host: 'pg1', service: 'etcd', notAfter: '2027-11-30T00:00:00.000Z', daysLeft: 365 },
      { host: 'pg2', service: 'postgres', notAfter: '2026-12-20T00:00:00.000Z', daysLeft: 20 },
      { host: 'pg3', service: 'postgres', notAfter: '2026-11-01T00:00:00.000Z', daysLeft: -29 },
      { host: 'pg3', service: 'etcd', notAfter: undefined, daysLeft: undefined },
    ];
    const problems = certificateProblems(certs, 30);
    expect(problems).toEqual([
      'postgres certificate on pg2 expires in 20 days, within the renewal window of 30 days (deploy renews it)',
      'postgres certificate on pg3 expired on 2026-11-01 (deploy renews it)',
      'etcd certificate on pg3 is missing or unreadable (deploy issues it)',
    ]);
    expect(certificateProblems(certs.slice(0, 1), 30)).toEqual([]);
    const text = renderStatus({ etcd: [], clusters: [], certificates: certs, certificateProblems: problems, unreachable: [], healthy: false });
    expect(text).toMatch(/^certificates: 4, the first to expire: postgres on pg3 in -29 days \(2026-11-01\)$/m);
    expect(text).toMatch(/^  problem: postgres certificate on pg2 expires in 20 days/m);
  });
});
