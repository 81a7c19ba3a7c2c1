import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { loadInventory } from '../../src/inventory/load.js';
import { buildModel } from '../../src/model/model.js';
import { withTestAccess } from '../support/tls-access.js';
import type { StepOutcome } from '../../src/run/executor.js';
import { Secret } from '../../src/secret.js';
import { runGraph } from '../../src/stages/run.js';
import { sequenceOf, sequenceShape } from '../../src/stages/sequence.js';
import type { GraphMode, StageContext } from '../../src/stages/stage.js';
import { DEFAULT_ROLLING } from '../../src/tasks/patroni/restart-options.js';
import { restartsStage, RESTART_TITLE } from '../../src/tasks/patroni/restarts.js';
import { CLUSTER_SECRETS, clusterSecretKey } from '../../src/inventory/secrets.js';
import { fakeSession } from '../support/fake-hosts.js';
import { clusterHealth, receivedLag, replicaHealth, switchoverCandidate } from '../../src/tasks/patroni/member-health.js';
import { parseParameterSettings } from '../../src/tasks/patroni/pg-settings.js';
import { parsePatroniState, type PatroniState } from '../../src/tasks/patroni/rest.js';
import {
  classifyParameters,
  describeParameterChange,
  leaderRestartsFirst,
  restartSequence,
  type RestartAction,
  type RestartSequenceInput,
} from '../../src/tasks/patroni/restart-plan.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/facts/${name}`, import.meta.url), 'utf8');
/** pg_settings as captured on a lab leader running max_connections 150, shared_buffers 256MB, work_mem 8MB. */
const rowsOf = (text: string) => text.split('\n').filter(Boolean).map((l) => l.split('\t'));
const settings = parseParameterSettings(rowsOf(fixture('pg-settings.txt')));
const loaded = await loadInventory('inventories/three-hosts.yml');
const { inventory } = loaded;
const cluster = inventory.clusters['main']!;

const change = (name: string, from: unknown, to: unknown) => ({ key: `postgresql.parameters.${name}`, from, to });

describe('how a changed parameter takes effect (from pg_settings, not a list)', () => {
  it('parses pg_settings rows captured from a lab leader', () => {
    expect(settings.get('shared_buffers')).toEqual({ context: 'postmaster', setting: '32768', unit: '8kB' });
    expect(settings.get('work_mem')).toEqual({ context: 'user', setting: '8192', unit: 'kB' });
    expect(settings.get('max_connections')).toEqual({ context: 'postmaster', setting: '150', unit: undefined });
  });

  it.each<[string, unknown, unknown, string, boolean]>([
    ['work_mem', '8MB', '16MB', 'reload', false],
    ['log_min_duration_statement', -1, '250ms', 'reload', false],
    ['wal_keep_size', '128MB', '1GB', 'reload', false],
    ['shared_buffers', '256MB', '128MB', 'restart', false],
    ['max_connections', 150, 200, 'restart', false],
    ['max_connections', 150, 120, 'restart', true],
    ['max_connections', 150, '120', 'restart', true],
    ['max_worker_processes', 8, 4, 'restart', true],
    ['max_locks_per_transaction', 64, 128, 'restart', false],
    ['no_such_parameter', undefined, 'x', 'unknown', false],
  ])('%s %s → %s: %s (decrease %s)', (name, from, to, applies, decrease) => {
    const [p] = classifyParameters([change(name, from, to)], settings);
    expect(p).toMatchObject({ name, applies, decrease });
  });

  it('ignores settings that are not PostgreSQL parameters', () => {
    expect(classifyParameters([{ key: 'loop_wait', from: 5, to: 10 }], settings)).toEqual([]);
  });

  it('says how each applies, in one line', () => {
    const [reload, restart, decrease, unknown] = classifyParameters(
      [change('work_mem', undefined, '16MB'), change('shared_buffers', '256MB', '512MB'), change('max_connections', 150, 100), change('my.option', undefined, 1)],
      settings,
    );
    expect(describeParameterChange(reload!)).toBe('work_mem (unset) → 16MB: applies on reload (pg_settings.context user)');
    expect(describeParameterChange(restart!)).toBe('shared_buffers 256MB → 512MB: needs a restart (pg_settings.context postmaster)');
    expect(describeParameterChange(decrease!)).toBe('max_connections 150 → 100: needs a restart (pg_settings.context postmaster); a decrease: the leader restarts first');
    expect(describeParameterChange(unknown!)).toMatch(/^my\.option \(unset\) → 1: not known to the running server/);
  });

  it('the leader goes first when a shared-memory parameter is below what it runs (also on a re-run)', () => {
    expect(leaderRestartsFirst({ max_connections: 100, shared_buffers: '1GB' }, settings)).toBe(true);
    expect(leaderRestartsFirst({ max_connections: 150, max_worker_processes: 8 }, settings)).toBe(false);
    expect(leaderRestartsFirst({ max_connections: 200, max_wal_senders: 5 }, settings)).toBe(true);
    expect(leaderRestartsFirst({ shared_buffers: '64MB' }, settings)).toBe(false);
  });
});

describe('restart order', () => {
  const base: RestartSequenceInput = {
    members: ['pg1', 'pg2', 'pg3'],
    leader: 'pg2',
    pending: new Set(['pg1', 'pg2', 'pg3']),
    leaderFirst: false,
    switchover: true,
    batch: 1,
    candidate: 'pg1',
  };
  const show = (actions: RestartAction[]) =>
    actions.map((a) => (a.kind === 'restart' ? `${a.role} ${a.hosts.join('+')}` : a.kind === 'switchover' ? `switchover ${a.from}→${a.to}` : `old-leader ${a.host}`));

  it.each<[string, Partial<RestartSequenceInput>, string[]]>([
    ['an increase: replicas one at a time, switchover, old leader', {}, ['replica pg1', 'replica pg3', 'switchover pg2→pg1', 'old-leader pg2']],
    ['a decrease: the leader in place first, then replicas', { leaderFirst: true }, ['leader pg2', 'replica pg1', 'replica pg3']],
    ['--no-switchover: the leader in place, last', { switchover: false }, ['replica pg1', 'replica pg3', 'leader pg2']],
    ['--serial 2: replicas two at a time', { members: ['pg1', 'pg2', 'pg3', 'pg4', 'pg5'], pending: new Set(['pg1', 'pg2', 'pg3', 'pg4', 'pg5']), batch: 2 }, ['replica pg1+pg3', 'replica pg4+pg5', 'switchover pg2→pg1', 'old-leader pg2']],
    ['a re-run after a stop: only who still waits', { pending: new Set(['pg3', 'pg2']) }, ['replica pg3', 'switchover pg2→pg1', 'old-leader pg2']],
    ['a decrease re-run after the leader restarted', { leaderFirst: false, pending: new Set(['pg3']) }, ['replica pg3']],
    ['a single member restarts in place', { members: ['pg2'], pending: new Set(['pg2']) }, ['leader pg2']],
    ['nothing pending', { pending: new Set() }, []],
  ])('%s', (_what, input, want) => {
    expect(show(restartSequence({ ...base, ...input }))).toEqual(want);
  });
});

describe('member health between restarts', () => {
  const leaderState = () => parsePatroniState(fixture('patroni-leader.json'));
  const replicaState = () => parsePatroniState(fixture('patroni-replica.json'));
  /** pg1 leads (the captured leader lists pg2 and pg3 streaming); the replicas as captured. */
  const states = (edit: (m: Map<string, PatroniState>) => void = () => {}) => {
    const m = new Map<string, PatroniState>([
      ['pg1', leaderState()],
      ['pg2', replicaState()],
      ['pg3', replicaState()],
    ]);
    edit(m);
    return m;
  };
  const lagLimit = 1048576;

  it('a streaming replica that has replayed everything is healthy', () => {
    expect(replicaHealth(states(), 'pg1', 'pg2', { lagLimit })).toEqual({ healthy: true, status: 'pg2: streaming, 0 bytes behind' });
  });

  it.each<[string, (m: Map<string, PatroniState>) => void, string]>([
    ['still starting', (m) => (m.get('pg2')!.state = 'starting'), 'pg2: starting'],
    ['restart still pending', (m) => (m.get('pg2')!.pendingRestart = true), 'pg2: restart still pending'],
    ['not in the leader\'s replication list', (m) => (m.get('pg1')!.replication = m.get('pg1')!.replication.filter((r) => r.applicationName !== 'pg2')), 'pg2: running, not streaming from pg1'],
    ['too far behind', (m) => (m.get('pg2')!.replayedPosition = 84336744 - 2_000_000), 'pg2: streaming, 2000000 bytes behind (limit 1048576)'],
    ['Patroni not answering', (m) => m.delete('pg2'), 'pg2: Patroni not answering'],
  ])('not healthy when %s', (_what, edit, status) => {
    expect(replicaHealth(states(edit), 'pg1', 'pg2', { lagLimit })).toEqual({ healthy: false, status });
  });

  it('the live lag counts the WAL a replica received, even when replay trails', () => {
    expect(receivedLag(states(), 'pg1', 'pg2')).toBe(0);
    const replayBehind = states((m) => (m.get('pg2')!.replayedPosition = 84336744 - 3_000_000));
    expect(receivedLag(replayBehind, 'pg1', 'pg2')).toBe(0);
    const receiveBehind = states((m) => Object.assign(m.get('pg2')!, { walPosition: 84336744 - 2_000_000, replayedPosition: 84336744 - 2_500_000 }));
    expect(receivedLag(receiveBehind, 'pg1', 'pg2')).toBe(2_000_000);
    expect(receivedLag(states((m) => m.delete('pg1')), 'pg1', 'pg2')).toBeUndefined();
    expect(receivedLag(states((m) => Object.assign(m.get('pg2')!, { walPosition: undefined, replayedPosition: undefined })), 'pg1', 'pg2')).toBeUndefined();
  });

  it('before replicas restart after a leader restart, they must replay past it', () => {
    expect(replicaHealth(states(), 'pg1', 'pg2', { lagLimit, replayedAtLeast: 84336745 }).healthy).toBe(false);
    expect(replicaHealth(states(), 'pg1', 'pg2', { lagLimit, replayedAtLeast: 84336744 }).healthy).toBe(true);
  });

  it('the cluster gate names every problem; pending flags are expected then', () => {
    expect(clusterHealth(states((m) => (m.get('pg3')!.pendingRestart = true)), cluster, { lagLimit, allowPending: true })).toEqual({ healthy: true, status: 'every replica streaming', leader: 'pg1' });
    const bad = clusterHealth(states((m) => ((m.get('pg2')!.state = 'stopped'), (m.get('pg3')!.replayedPosition = 0))), cluster, { lagLimit, allowPending: true });
    expect(bad).toEqual({ healthy: false, status: 'pg2: stopped; pg3: streaming, 84336744 bytes behind (limit 1048576)', leader: 'pg1' });
    expect(clusterHealth(states((m) => (m.get('pg1')!.role = 'replica')), cluster, { lagLimit, allowPending: true }).status).toBe('no running leader');
  });

  it('switches over to the most replayed healthy replica; with synchronous_mode only to the synchronous one', () => {
    const s = states((m) => (m.get('pg2')!.replayedPosition = 84336000));
    expect(switchoverCandidate(s, inventory, cluster, 'pg1')).toBe('pg3');
    const sync = { ...cluster, patroni: { ...cluster.patroni, synchronous_mode: true } };
    expect(switchoverCandidate(s, inventory, sync, 'pg1')).toBeUndefined();
    s.get('pg1')!.replication.find((r) => r.applicationName === 'pg2')!.syncState = 'sync';
    expect(switchoverCandidate(s, inventory, sync, 'pg1')).toBe('pg2');
  });
});

describe('the restarts stage', () => {
  const model = withTestAccess(buildModel(inventory));
  const secrets = new Map(CLUSTER_SECRETS.map((n) => [clusterSecretKey('main', n), new Secret(`s3cret-${n}`)]));
  /** pg1 leads; the replicas as captured; `pending` members flagged pending_restart; `live` the stored dynamic configuration. */
  const session = (opts: { pending?: string[]; live?: (config: { postgresql: { parameters: Record<string, unknown> } }) => void } = {}) => {
    const live = JSON.parse(JSON.stringify(model.cluster('main').dynamicConfig));
    opts.live?.(live);
    return fakeSession(loaded, {
      http: (host, req) => {
        if (req.path === '/patroni') {
          const state = JSON.parse(fixture(host === 'pg1' ? 'patroni-leader.json' : 'patroni-replica.json'));
          return { status: 200, body: JSON.stringify({ ...state, pending_restart: opts.pending?.includes(host) ?? false }) };
        }
        if (req.path === '/config') return { status: 200, body: JSON.stringify(live) };
        return { status: 200, body: '' };
      },
      exec: (_host, argv) => (argv.some((a) => a.includes('from pg_settings')) ? { stdout: fixture('pg-settings.txt') } : undefined),
    });
  };
  const ctxOf = (s: ReturnType<typeof session>, mode: GraphMode): StageContext => ({
    session: s,
    model,
    secrets,
    options: { force: false, rolling: DEFAULT_ROLLING },
    mode,
    earlier: new Map(),
  });
  const shapeOf = async (s: ReturnType<typeof session>, mode: GraphMode) => {
    const run = await runGraph([restartsStage(model, 'main')], { session: s, model, secrets, options: { force: false, rolling: DEFAULT_ROLLING } }, mode);
    return sequenceShape(sequenceOf(run.stages));
  };

  it('plan: a reload-only change restarts nobody', async () => {
    const s = session({ live: (l) => (l.postgresql.parameters['work_mem'] = '4MB') });
    expect(await shapeOf(s, 'plan')).toEqual([]);
  });

  it('plan: a restart parameter makes every running member wait: replicas one at a time, then a switchover', async () => {
    const s = session({ live: (l) => (l.postgresql.parameters['shared_buffers'] = '128MB') });
    expect(await shapeOf(s, 'plan')).toEqual(['restart pg2', 'restart pg3', 'switchover pg1']);
    const plan = await restartsStage(model, 'main').plan(ctxOf(s, 'plan'));
    expect(plan.blocks[2]!.says).toMatch(/^switch over from pg1 to pg\d .*; its demotion restarts pg1 with the new settings$/);
  });

  it('deploy: only who Patroni flags pending, each restart followed by its wait', async () => {
    const s = session({ pending: ['pg3'] });
    const plan = await restartsStage(model, 'main').plan(ctxOf(s, 'deploy'));
    expect(plan.blocks).toHaveLength(1);
    const [restart] = plan.blocks[0]!.items;
    expect(restart).toMatchObject({ kind: 'http', host: 'pg3', method: 'POST', path: '/restart', title: RESTART_TITLE, body: { restart_pending: true, timeout: 120 } });
    expect(restart?.kind === 'http' && restart.basicAuth?.user).toBe('patroni');
    expect(plan.blocks[0]!.waits!.map((w) => w.title)).toEqual(['pg3 to run and stream again with lag below 1048576 bytes']);
  });

  it('deploy: nothing pending, nothing to do', async () => {
    expect((await restartsStage(model, 'main').plan(ctxOf(session(), 'deploy'))).blocks).toEqual([]);
  });

  it('a member that does not come back stops the run where it is, naming what was done and what was left', async () => {
    const s = session({ pending: ['pg1', 'pg2', 'pg3'] });
    const stage = restartsStage(model, 'main');
    const { blocks } = await stage.plan(ctxOf(s, 'deploy'));
    const restartOf = (i: number): StepOutcome => ({ step: blocks[i]!.items[0] as StepOutcome['step'], changed: true, ms: 10 });
    const err = stage.explainFailure!(new HapgError('CLUSTER_UNHEALTHY', 'timed out after 120s waiting for pg3 to run and stream again: pg3: starting'), [restartOf(0)], blocks.slice(1)) as HapgError;
    expect(err.code).toBe('CLUSTER_UNHEALTHY');
    expect(err.host).toBe('pg3');
    expect(err.message).toBe('rolling restart of cluster main stopped at pg3: timed out after 120s waiting for pg3 to run and stream again: pg3: starting; done: pg2 restarted; left untouched: pg1');
    expect(err.hint).toMatch(/re-running `hapg deploy` continues from there/);
    const atSwitchover = stage.explainFailure!(new HapgError('CLUSTER_UNHEALTHY', 'no healthy replica to switch over to'), [restartOf(0), restartOf(1)], blocks.slice(2));
    expect(atSwitchover.message).toBe('rolling restart of cluster main stopped at the switchover from pg1: no healthy replica to switch over to; done: pg2 restarted, pg3 restarted; left untouched: pg1');
  });

  it('the switchover target is chosen again when its turn comes; with none healthy it stops', async () => {
    const s = session({ pending: ['pg1'] });
    const { blocks } = await restartsStage(model, 'main').plan(ctxOf(s, 'deploy'));
    const switchover = blocks.find((b) => b.replan)!;
    const decided = await switchover.replan!(ctxOf(s, 'deploy'));
    expect(decided.items[0]).toMatchObject({ kind: 'http', path: '/switchover', body: { leader: 'pg1' } });
    const broken = session({ pending: ['pg1'] });
    const bare = fakeSession(loaded, { http: (host, req) => (req.path === '/patroni' && host === 'pg1' ? { status: 200, body: fixture('patroni-leader.json') } : undefined) });
    await expect(switchover.replan!({ ...ctxOf(broken, 'deploy'), session: bare })).rejects.toThrow(/no healthy replica to switch over to/);
  });
});
