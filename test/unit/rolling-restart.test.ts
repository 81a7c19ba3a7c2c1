import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { RunEvent } from '../../src/run/events.js';
import { desiredDynamicConfig } from '../../src/tasks/patroni/dynamic-config.js';
import { clusterHealth, replicaHealth, switchoverCandidate } from '../../src/tasks/patroni/member-health.js';
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
import { runRestartSequence, type RestartOps } from '../../src/tasks/patroni/rolling-restart.js';
import { predictRestarts } from '../../src/tasks/plan/restarts.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/facts/${name}`, import.meta.url), 'utf8');
/** pg_settings as captured on a lab leader running max_connections 150, shared_buffers 256MB, work_mem 8MB. */
const settings = parseParameterSettings(fixture('pg-settings.txt'));
const { inventory } = await loadInventory('inventories/three-hosts.yml');
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

/** A fake cluster for the sequence runner: records calls; `fail` makes a member not come back. */
function fakeOps(opts: { fail?: Record<string, string>; notPending?: string[]; switchoverFails?: string } = {}) {
  const calls: string[] = [];
  const ops: RestartOps = {
    async restart(host, role) {
      calls.push(`restart ${host} (${role})`);
      if (opts.fail?.[host]) throw new HapgError('CLUSTER_UNHEALTHY', opts.fail[host]!);
      return !opts.notPending?.includes(host);
    },
    async switchover(from, preferred) {
      calls.push(`switchover ${from}`);
      if (opts.switchoverFails) throw new HapgError('CLUSTER_UNHEALTHY', opts.switchoverFails);
      return preferred ?? 'pg1';
    },
  };
  return { ops, calls };
}

describe('running a restart sequence', () => {
  const increase: RestartAction[] = [
    { kind: 'restart', hosts: ['pg1'], role: 'replica' },
    { kind: 'restart', hosts: ['pg3'], role: 'replica' },
    { kind: 'switchover', from: 'pg2', to: 'pg1' },
    { kind: 'restart-old-leader', host: 'pg2' },
  ];
  const events: RunEvent[] = [];
  const sink = (e: RunEvent) => events.push(e);

  it('runs every step in order and reports what it did', async () => {
    const { ops, calls } = fakeOps({ notPending: ['pg2'] });
    const result = await runRestartSequence('main', increase, ops, sink);
    expect(calls).toEqual(['restart pg1 (replica)', 'restart pg3 (replica)', 'switchover pg2', 'restart pg2 (old-leader)']);
    expect(result).toEqual({ restarted: ['pg1', 'pg3'], switchedTo: 'pg1' });
    expect(events.at(-1)).toEqual({ kind: 'info', message: 'rolling restart of main done: pg1 restarted, pg3 restarted, switched over pg2 → pg1, pg2 needed no restart' });
  });

  it('stops at a member that does not come back, touches nothing after it, and says where', async () => {
    const { ops, calls } = fakeOps({ fail: { pg3: 'timed out after 120s waiting for pg3 to run and stream again: pg3: starting' } });
    const err = await runRestartSequence('main', increase, ops, sink).catch((e: unknown) => e);
    expect(calls).toEqual(['restart pg1 (replica)', 'restart pg3 (replica)']);
    expect(err).toBeInstanceOf(HapgError);
    expect((err as HapgError).code).toBe('CLUSTER_UNHEALTHY');
    expect((err as HapgError).host).toBe('pg3');
    expect((err as HapgError).message).toBe(
      'rolling restart of cluster main stopped at pg3: timed out after 120s waiting for pg3 to run and stream again: pg3: starting; done: pg1 restarted; left untouched: pg2',
    );
    expect((err as HapgError).hint).toMatch(/re-running `hapg deploy` continues from there/);
  });

  it('a failed switchover leaves the old leader untouched', async () => {
    const { ops, calls } = fakeOps({ switchoverFails: 'no healthy replica to switch over to' });
    const err = (await runRestartSequence('main', increase, ops, sink).catch((e: unknown) => e)) as HapgError;
    expect(calls).toEqual(['restart pg1 (replica)', 'restart pg3 (replica)', 'switchover pg2']);
    expect(err.message).toBe('rolling restart of cluster main stopped at the switchover from pg2: no healthy replica to switch over to; done: pg1 restarted, pg3 restarted; left untouched: pg2');
  });

  it('a batch finishes what it started, then stops naming each failed member', async () => {
    const batch: RestartAction[] = [
      { kind: 'restart', hosts: ['pg1', 'pg3', 'pg4'], role: 'replica' },
      { kind: 'restart', hosts: ['pg5'], role: 'replica' },
      { kind: 'restart', hosts: ['pg2'], role: 'leader' },
    ];
    const { ops, calls } = fakeOps({ fail: { pg3: 'boom', pg4: 'bang' } });
    const err = (await runRestartSequence('main', batch, ops, sink).catch((e: unknown) => e)) as HapgError;
    expect(calls).toEqual(['restart pg1 (replica)', 'restart pg3 (replica)', 'restart pg4 (replica)']);
    expect(err.message).toBe('rolling restart of cluster main stopped at pg3, pg4: pg3: boom; pg4: bang; done: pg1 restarted; left untouched: pg5, pg2');
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

describe('plan: predicted restarts from live facts', () => {
  const live = () => JSON.parse(JSON.stringify(desiredDynamicConfig(inventory, 'main'))) as { postgresql: { parameters: Record<string, unknown> } };
  const running = () => new Map(['pg1', 'pg2', 'pg3'].map((h) => [h, { ...parsePatroniState(fixture(h === 'pg1' ? 'patroni-leader.json' : 'patroni-replica.json')) }]));
  const rolling = { switchover: true, batch: 1 };

  it('a reload-only change restarts nobody', () => {
    const l = live();
    l.postgresql.parameters['work_mem'] = '4MB';
    const desired = { ...inventory, clusters: { main: { ...cluster, postgres: { ...cluster.postgres, parameters: { ...cluster.postgres.parameters, work_mem: '8MB' } } } } };
    const p = predictRestarts({ inventory: desired, name: 'main', leader: 'pg1', live: l, settings, states: running(), rolling });
    expect(p.parameters.map((x) => `${x.name} ${x.applies}`)).toEqual(['work_mem reload']);
    expect(p.actions).toEqual([]);
  });

  it('a restart parameter: every running member will wait; replicas, switchover, old leader', () => {
    const l = live();
    l.postgresql.parameters['shared_buffers'] = '128MB';
    const p = predictRestarts({ inventory, name: 'main', leader: 'pg1', live: l, settings, states: running(), rolling });
    expect(p.pending).toEqual(['pg1', 'pg2', 'pg3']);
    expect(p.actions).toEqual([
      { kind: 'restart', hosts: ['pg2'], role: 'replica' },
      { kind: 'restart', hosts: ['pg3'], role: 'replica' },
      { kind: 'switchover', from: 'pg1', to: 'pg2' },
      { kind: 'restart-old-leader', host: 'pg1' },
    ]);
  });

  it('no change, but a member still pending from a stopped run: that member', () => {
    const states = running();
    states.get('pg3')!.pendingRestart = true;
    const p = predictRestarts({ inventory, name: 'main', leader: 'pg1', live: live(), settings, states, rolling });
    expect(p.parameters).toEqual([]);
    expect(p.actions).toEqual([{ kind: 'restart', hosts: ['pg3'], role: 'replica' }]);
  });
});
