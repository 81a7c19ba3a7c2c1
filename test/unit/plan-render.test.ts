import { describe, expect, it } from 'vitest';
import { PatroniApi } from '../../src/model/endpoints.js';
import { file, noop, service, type HttpStep } from '../../src/run/steps.js';
import { Secret } from '../../src/secret.js';
import type { Plan } from '../../src/stages/deploy.js';
import type { PlannedStage } from '../../src/stages/run.js';
import { renderSequence, sequenceOf, sequenceShape } from '../../src/stages/sequence.js';
import type { Block, StagePlan } from '../../src/stages/stage.js';
import { PATRONI_SECRET_LINES } from '../../src/tasks/patroni/context.js';
import { describeRestartAction, type ParameterChange, type RestartAction } from '../../src/tasks/patroni/restart-plan.js';
import { RESTART_TITLE } from '../../src/tasks/patroni/restarts.js';
import { maskFile, planJson, renderPlan } from '../../src/ui/plan-render.js';

const api = new PatroniApi('main', 8008, { user: 'patroni', password: new Secret('s3cret-rest-api') }, () => '192.0.2.11');
const patch: HttpStep = api.patchConfig('pg2', { postgresql: { parameters: { max_connections: 150, work_mem: '8MB' } } }, 'PATCH /config: max_connections 100 → 150, work_mem 4MB → 8MB');
const parameters: ParameterChange[] = [
  { name: 'max_connections', from: 100, to: 150, applies: 'restart', context: 'postmaster', decrease: false },
  { name: 'work_mem', from: '4MB', to: '8MB', applies: 'reload', context: 'user', decrease: false },
];
const stageOf = (id: string, title: string, plan: Partial<StagePlan>): PlannedStage => ({
  stage: { id, title, plan: async () => ({ blocks: [], notes: [] }) },
  plan: { blocks: [], notes: [], ...plan },
});
const says = (a: RestartAction) => describeRestartAction(a, 1048576).replace(/^\[[^\]]*\] /, '');
const restartBlock = (a: Extract<RestartAction, { kind: 'restart' }>): Block => ({ items: a.hosts.map((h) => api.restartPending(h, RESTART_TITLE, 120)), says: says(a) });

const patroni = stageOf('patroni:main', 'Patroni cluster main', {
  blocks: [
    {
      items: [
        file('pg3', '/etc/patroni/patroni.yml', 'new\n', { mode: 0o600, owner: 'postgres' }),
        service('pg3', 'patroni', 'reloaded'),
        file('pg1', '/etc/patroni/patroni.yml', 'new\n', { mode: 0o600, owner: 'postgres' }),
        service('pg1', 'patroni', 'reloaded'),
        noop('pg2', 'patroni running, configuration unchanged'),
      ],
    },
  ],
});
const dynamic = stageOf('dynamic-config:main', 'Dynamic configuration of main', { blocks: [{ items: [patch] }], parameters });
const switchover: RestartAction = { kind: 'switchover', from: 'pg2', to: 'pg1' };
const restarts = stageOf('restarts:main', 'Restarts of main', {
  blocks: [
    restartBlock({ kind: 'restart', hosts: ['pg1'], role: 'replica' }),
    restartBlock({ kind: 'restart', hosts: ['pg3'], role: 'replica' }),
    { items: [api.switchover('pg2', 'pg1')], says: says(switchover) },
  ],
  notes: [],
});
const proxies = stageOf('haproxy', 'HAProxy', { blocks: [{ items: [service('pg2', 'haproxy', 'reloaded'), service('pg1', 'haproxy', 'reloaded')] }] });

describe('the order of reloads, restarts and switchovers', () => {
  it('follows the stages: Patroni reloads, the PATCH, the rolling restart, HAProxy', () => {
    const steps = sequenceOf([patroni, dynamic, restarts, proxies]);
    expect(sequenceShape(steps)).toEqual(['reload patroni pg1,pg3', 'patch pg2', 'restart pg1', 'restart pg3', 'switchover pg2', 'reload haproxy pg1,pg2']);
    expect(renderSequence(steps)).toEqual([
      '  1. [pg1, pg3] reload Patroni: it re-reads patroni.yml (local settings, pg_hba) and reloads PostgreSQL, no restart',
      '  2. [pg2] PATCH /config on the leader; Patroni on every member applies it and reloads PostgreSQL (on reload: work_mem; pending a restart: max_connections)',
      '  3. [pg1] restart PostgreSQL (replica), wait until it streams again with lag below 1048576 bytes',
      '  4. [pg3] restart PostgreSQL (replica), wait until it streams again with lag below 1048576 bytes',
      '  5. switch over from pg2 to pg1 (a healthy restarted replica; chosen again at that point)',
      '  6. [pg1, pg2] reload HAProxy gracefully: new workers take over the listeners, established connections stay',
    ]);
  });

  it("waking the leader's loop for starting replicas is no action of the sequence; their start is", () => {
    const bootstrap = stageOf('patroni:main', 'Patroni cluster main', {
      blocks: [{ items: [service('pg2', 'patroni', 'started'), service('pg3', 'patroni', 'started')] }, { items: [api.wakeLoop('pg1', 'wake pg1')] }],
    });
    expect(sequenceShape(sequenceOf([bootstrap, dynamic]))).toEqual(['start patroni pg2,pg3', 'patch pg2']);
  });

  it('a leader restarted in place (a decrease, or --no-switchover) says writes pause', () => {
    const inPlace = stageOf('restarts:main', 'Restarts of main', {
      blocks: [restartBlock({ kind: 'restart', hosts: ['pg2'], role: 'leader' }), restartBlock({ kind: 'restart', hosts: ['pg1', 'pg3'], role: 'replica' })],
    });
    expect(renderSequence(sequenceOf([inPlace]))).toEqual([
      '  1. [pg2] restart PostgreSQL on the leader in place (writes pause until it runs again), then wait until every replica streams again',
      '  2. [pg1, pg3] restart PostgreSQL (replicas together), wait until they stream again with lag below 1048576 bytes',
    ]);
  });
});

describe('plan output', () => {
  const stages = [patroni, dynamic, restarts, proxies];
  const plan: Plan = { stages, sequence: sequenceOf(stages) };
  const contentOf = async () => 'old\n';

  it('text: each parameter with how it applies, then the whole order', async () => {
    const text = await renderPlan(plan, contentOf);
    expect(text).toContain(
      [
        'Dynamic configuration of main: 1 change',
        '  + [pg2] PATCH /config: max_connections 100 → 150, work_mem 4MB → 8MB',
        '      max_connections 100 → 150: needs a restart (pg_settings.context postmaster)',
        '      work_mem 4MB → 8MB: applies on reload (pg_settings.context user)',
      ].join('\n'),
    );
    expect(text).toMatch(/\nOrder of reloads, restarts and switchovers:\n  1\. \[pg1, pg3\] reload Patroni.*\n(  \d\. .*\n){5}\n10 changes planned; run `hapg deploy` to apply$/);
  });

  it('a restart left pending by a stopped run counts as a cluster action', async () => {
    const pendingOnly = stageOf('restarts:main', 'Restarts of main', { notes: ['restart PostgreSQL (replica), …'] });
    const text = await renderPlan({ stages: [pendingOnly], sequence: [] }, contentOf);
    expect(text.split('\n').at(-1)).toBe('0 changes and 1 cluster action planned; run `hapg deploy` to apply');
  });

  it('nothing to do says so', async () => {
    const text = await renderPlan({ stages: [stageOf('packages', 'Packages', { blocks: [{ items: [noop('pg1', '7 packages installed')] }] })], sequence: [] }, contentOf);
    expect(text.split('\n').at(-1)).toBe('nothing to do: everything is as the inventory declares');
  });

  it('JSON: classification and the sequence as data; never file contents or secrets', () => {
    const json = planJson(plan);
    const dyn = (json['stages'] as Record<string, unknown>[])[1]!;
    expect(dyn['parameters']).toEqual([
      { name: 'max_connections', from: '100', to: '150', applies: 'restart', context: 'postmaster', decrease: false },
      { name: 'work_mem', from: '4MB', to: '8MB', applies: 'reload', context: 'user', decrease: false },
    ]);
    expect((json['sequence'] as { kind: string }[]).map((s) => s.kind)).toEqual(['reload', 'patch', 'restart', 'restart', 'switchover', 'reload']);
    expect(JSON.stringify(json)).not.toContain('new\\n');
    expect(JSON.stringify(json)).not.toContain('s3cret');
  });
});

describe('secrets in file diffs', () => {
  const step = { secretLines: PATRONI_SECRET_LINES, secrets: [new Secret('known-current-secret')] };

  it('masks every password line by position, whatever its value: old, foreign or short', () => {
    const onHost = ['restapi:', '  authentication:', '    username: patroni', '    password: "an-old-rotated-password"', 'postgresql:', '    password: x', '    password:', ''].join('\n');
    expect(maskFile(onHost, step)).toBe(['restapi:', '  authentication:', '    username: patroni', '    password: "***"', 'postgresql:', '    password: "***"', '    password:', ''].join('\n'));
  });

  it('masks a JSON-escaped password on the wanted side too', () => {
    const wanted = '    password: "pw-with-\\"quote\\"-and-\\\\backslash"\n';
    expect(maskFile(wanted, step)).toBe('    password: "***"\n');
  });

  it('still masks a known secret that appears elsewhere', () => {
    expect(maskFile('note: known-current-secret\n', step)).toBe('note: ***\n');
  });
});
