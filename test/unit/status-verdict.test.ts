import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import type { ClusterMember } from '../../src/tasks/patroni/rest.js';
import { clusterProblems } from '../../src/tasks/status/verdict.js';

const { inventory } = await loadInventory('inventories/three-hosts.yml');
const cluster = inventory.clusters['main']!;
const member = (name: string, extra: Partial<ClusterMember> = {}): ClusterMember => ({
  name,
  role: 'replica',
  state: 'running',
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
