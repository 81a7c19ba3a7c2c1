import { describe, expect, it } from 'vitest';
import { PATRONI_ROLES } from '../../src/render/roles.js';
import { file, noop, service, type HttpStep } from '../../src/run/steps.js';
import { Secret } from '../../src/secret.js';
import type { ParameterChange } from '../../src/tasks/patroni/restart-plan.js';
import type { Plan, PlanSection } from '../../src/tasks/plan/collect.js';
import { planSequence, renderSequence } from '../../src/tasks/plan/sequence.js';
import { planJson, renderPlan } from '../../src/ui/plan-render.js';

const patch: HttpStep = {
  kind: 'http',
  host: 'pg2',
  title: 'PATCH /config: max_connections 100 → 150, work_mem 4MB → 8MB',
  port: 8008,
  method: 'PATCH',
  path: '/config',
  body: { postgresql: { parameters: { max_connections: 150, work_mem: '8MB' } } },
  basicAuth: { user: PATRONI_ROLES.restApi, password: new Secret('s3cret-rest-api') },
};
const parameters: ParameterChange[] = [
  { name: 'max_connections', from: 100, to: 150, applies: 'restart', context: 'postmaster', decrease: false },
  { name: 'work_mem', from: '4MB', to: '8MB', applies: 'reload', context: 'user', decrease: false },
];
const patroni: PlanSection = {
  title: 'Patroni cluster main',
  items: [
    file('pg3', '/etc/patroni/patroni.yml', 'new\n', { mode: 0o600, owner: 'postgres' }),
    service('pg3', 'patroni', 'reloaded'),
    file('pg1', '/etc/patroni/patroni.yml', 'new\n', { mode: 0o600, owner: 'postgres' }),
    service('pg1', 'patroni', 'reloaded'),
    noop('pg2', 'patroni running, configuration unchanged'),
  ],
  actions: [],
};
const dynamic: PlanSection = {
  title: 'Dynamic configuration of main',
  items: [patch],
  actions: [],
  parameters,
  restarts: {
    lagLimit: 1048576,
    actions: [
      { kind: 'restart', hosts: ['pg1'], role: 'replica' },
      { kind: 'restart', hosts: ['pg3'], role: 'replica' },
      { kind: 'switchover', from: 'pg2', to: 'pg1' },
      { kind: 'restart-old-leader', host: 'pg2' },
    ],
  },
};
const proxies: PlanSection = {
  title: 'HAProxy and keepalived',
  items: [service('pg2', 'haproxy', 'reloaded'), service('pg1', 'haproxy', 'reloaded'), noop('pg1', 'keepalived running, configuration unchanged')],
  actions: [],
};

describe('the order of reloads, restarts and switchovers', () => {
  it('follows the stages: Patroni reloads, the PATCH, the rolling restart, HAProxy', () => {
    const steps = planSequence([patroni, dynamic, proxies]);
    expect(steps.map((s) => `${s.kind} ${s.hosts.join(',')}`)).toEqual([
      'reload pg1,pg3',
      'patch pg2',
      'restart pg1',
      'restart pg3',
      'switchover pg2',
      'restart pg2',
      'reload pg1,pg2',
    ]);
    expect(renderSequence(steps)).toEqual([
      '  1. [pg1, pg3] reload Patroni: it re-reads patroni.yml (local settings, pg_hba) and reloads PostgreSQL, no restart',
      '  2. [pg2] PATCH /config on the leader; Patroni on every member applies it and reloads PostgreSQL (on reload: work_mem; pending a restart: max_connections)',
      '  3. [pg1] restart PostgreSQL (replica), wait until it streams again with lag below 1048576 bytes',
      '  4. [pg3] restart PostgreSQL (replica), wait until it streams again with lag below 1048576 bytes',
      '  5. switch over from pg2 to pg1 (a healthy restarted replica; chosen again at that point)',
      '  6. [pg2] restart PostgreSQL (the old leader, now a replica) if still pending, wait until it streams again',
      '  7. [pg1, pg2] reload HAProxy gracefully: new workers take over the listeners, established connections stay',
    ]);
  });

  it('a leader restarted in place (a decrease, or --no-switchover) says writes pause', () => {
    const steps = planSequence([{ ...dynamic, restarts: { lagLimit: 1, actions: [{ kind: 'restart', hosts: ['pg2'], role: 'leader' }, { kind: 'restart', hosts: ['pg1', 'pg3'], role: 'replica' }] } }]);
    expect(renderSequence(steps).slice(1)).toEqual([
      '  2. [pg2] restart PostgreSQL on the leader in place (writes pause until it runs again), then wait until every replica streams again',
      '  3. [pg1, pg3] restart PostgreSQL (replicas together), wait until they stream again with lag below 1 bytes',
    ]);
  });
});

describe('plan output', () => {
  const plan: Plan = { sections: [patroni, dynamic, proxies], sequence: planSequence([patroni, dynamic, proxies]) };
  const contentOf = async () => 'old\n';

  it('text: each parameter with how it applies, the restart steps, then the whole order', async () => {
    const text = await renderPlan(plan, contentOf);
    expect(text).toContain(
      [
        'Dynamic configuration of main: 1 change',
        '  + [pg2] PATCH /config: max_connections 100 → 150, work_mem 4MB → 8MB',
        '      max_connections 100 → 150: needs a restart (pg_settings.context postmaster)',
        '      work_mem 4MB → 8MB: applies on reload (pg_settings.context user)',
      ].join('\n'),
    );
    expect(text).toMatch(/\nOrder of reloads, restarts and switchovers:\n  1\. \[pg1, pg3\] reload Patroni.*\n(  \d\. .*\n){6}\n7 changes planned; run `hapg deploy` to apply$/);
  });

  it('a restart left pending by a stopped run counts as a cluster action', async () => {
    const pendingOnly: PlanSection = { title: 'Dynamic configuration of main', items: [noop('pg2', 'dynamic configuration as declared')], actions: ['[pg3] restart PostgreSQL (replica), …'] };
    const text = await renderPlan({ sections: [pendingOnly], sequence: [] }, contentOf);
    expect(text.split('\n').at(-1)).toBe('0 changes and 1 cluster action planned; run `hapg deploy` to apply');
  });

  it('nothing to do says so', async () => {
    const text = await renderPlan({ sections: [{ title: 'Packages', items: [noop('pg1', '7 packages installed')], actions: [] }], sequence: [] }, contentOf);
    expect(text.split('\n').at(-1)).toBe('nothing to do: everything is as the inventory declares');
  });

  it('JSON: classification, restart actions and the sequence as data; never file contents or secrets', () => {
    const json = planJson(plan);
    const dyn = (json['sections'] as Record<string, unknown>[])[1]!;
    expect(dyn['parameters']).toEqual([
      { name: 'max_connections', from: '100', to: '150', applies: 'restart', context: 'postmaster', decrease: false },
      { name: 'work_mem', from: '4MB', to: '8MB', applies: 'reload', context: 'user', decrease: false },
    ]);
    expect(dyn['restarts']).toEqual(dynamic.restarts!.actions);
    expect((json['sequence'] as { kind: string }[]).map((s) => s.kind)).toEqual(['reload', 'patch', 'restart', 'restart', 'switchover', 'restart', 'reload']);
    expect(JSON.stringify(json)).not.toContain('new\\n');
    expect(JSON.stringify(json)).not.toContain('s3cret');
  });
});
