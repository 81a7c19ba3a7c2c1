import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { Secret } from '../../src/secret.js';
import { PatroniApi } from '../../src/model/endpoints.js';
import { buildModel } from '../../src/model/model.js';
import { withTestAccess } from '../support/tls-access.js';
import { dynamicConfigStage } from '../../src/tasks/patroni/config-stage.js';
import { dynamicConfigChanges, leftoverSlots, planDynamicConfig } from '../../src/tasks/patroni/dynamic-config.js';
import { pruneGate } from '../../src/tasks/patroni/prune-gate.js';
import { HapgError } from '../../src/errors.js';
import { DEFAULT_ROLLING } from '../../src/tasks/patroni/restart-options.js';
import { fakeSession } from '../support/fake-hosts.js';

const loaded = await loadInventory('inventories/three-hosts.yml');
const model = withTestAccess(buildModel(loaded.inventory));
const api = new PatroniApi('main', 8008, { user: 'patroni', password: new Secret('rest-secret') }, () => '192.0.2.11');
const desired = model.cluster('main').dynamicConfig;

/** What Patroni 3.0.2 returns from GET /config right after bootstrapping from bootstrap.dcs. */
const liveAfterBootstrap = () => JSON.parse(JSON.stringify(desired)) as Record<string, unknown>;

describe('dynamic configuration', () => {
  it('right after bootstrap: nothing to change', () => {
    expect(planDynamicConfig('pg1', api, desired, liveAfterBootstrap())).toEqual([{ kind: 'noop', host: 'pg1', reason: 'dynamic configuration as declared' }]);
  });

  it('treats numbers and their strings alike (Patroni and PostgreSQL do)', () => {
    const live = liveAfterBootstrap();
    (live['postgresql'] as { parameters: Record<string, unknown> }).parameters['max_connections'] = '200';
    live['ttl'] = '30';
    expect(dynamicConfigChanges(live, desired)).toEqual([]);
  });

  it('failsafe_mode: unset in a cluster bootstrapped before hapg set it means false (Patroni\'s default); true is patched', () => {
    const live = liveAfterBootstrap();
    delete live['failsafe_mode'];
    expect(dynamicConfigChanges(live, desired)).toEqual([]);
    expect(dynamicConfigChanges(live, { ...desired, failsafe_mode: true })).toEqual([{ key: 'failsafe_mode', from: undefined, to: true }]);
  });

  it('one PATCH with only the differing keys, nested as Patroni expects, with credentials', () => {
    const live = liveAfterBootstrap();
    (live['postgresql'] as { parameters: Record<string, unknown> }).parameters['shared_buffers'] = '128MB';
    live['loop_wait'] = 5;
    const [step] = planDynamicConfig('pg1', api, desired, live);
    expect(step).toMatchObject({
      kind: 'http',
      host: 'pg1',
      method: 'PATCH',
      path: '/config',
      port: 8008,
      body: { loop_wait: 10, postgresql: { parameters: { shared_buffers: '256MB' } } },
      title: 'PATCH /config: loop_wait 5 → 10, shared_buffers 128MB → 256MB',
    });
    expect(step?.kind === 'http' && step.basicAuth?.user).toBe('patroni');
  });

  it('sets a parameter the live configuration lacks; leaves keys the inventory does not name alone', () => {
    const live = liveAfterBootstrap();
    const params = (live['postgresql'] as { parameters: Record<string, unknown> }).parameters;
    delete params['wal_keep_size'];
    params['work_mem'] = '64MB'; // set by someone with patronictl edit-config
    expect(dynamicConfigChanges(live, desired)).toEqual([{ key: 'postgresql.parameters.wal_keep_size', from: undefined, to: '1GB' }]);
  });

  it('says so when the leader has no dynamic configuration to read', () => {
    expect(planDynamicConfig('pg1', api, desired, undefined)[0]).toMatchObject({ kind: 'noop' });
  });
});

describe('a permanent slot the inventory no longer declares (a standby cluster removed)', () => {
  const withLeftover = () => {
    const live = liveAfterBootstrap();
    live['slots'] = { ...(live['slots'] as Record<string, unknown>), dr_standby: { type: 'physical' } };
    return live;
  };

  it('is found, and kept: no change without --prune', () => {
    expect(leftoverSlots(withLeftover(), desired)).toEqual(['dr_standby']);
    expect(dynamicConfigChanges(withLeftover(), desired)).toEqual([]);
    expect(planDynamicConfig('pg1', api, desired, withLeftover())).toEqual([{ kind: 'noop', host: 'pg1', reason: 'dynamic configuration as declared' }]);
  });

  it('is dropped from the configuration (null, which Patroni deletes) when --prune names it; another name changes nothing', () => {
    expect(planDynamicConfig('pg1', api, desired, withLeftover(), ['other_slot'])).toEqual([{ kind: 'noop', host: 'pg1', reason: 'dynamic configuration as declared' }]);
    const [step] = planDynamicConfig('pg1', api, desired, withLeftover(), ['dr_standby']);
    expect(step).toMatchObject({ kind: 'http', method: 'PATCH', path: '/config', body: { slots: { dr_standby: null } }, title: 'PATCH /config: slots.dr_standby {"type":"physical"} → (dropped, --prune)' });
  });

  it('a slot the inventory declares is never a leftover, whatever --prune says', () => {
    const live = liveAfterBootstrap();
    const declared = { ...desired, slots: { ...desired.slots, kept_slot: { type: 'physical' } } };
    live['slots'] = { kept_slot: { type: 'physical' } };
    expect(leftoverSlots(live, declared)).toEqual([]);
    expect(dynamicConfigChanges(live, declared, ['kept_slot'])).toEqual([]);
  });
});

describe('the dynamic configuration stage with a leftover permanent slot', () => {
  const leaderState = readFileSync(new URL('../fixtures/facts/patroni-leader.json', import.meta.url), 'utf8');
  const session = () =>
    fakeSession(loaded, {
      http: (host, req) => {
        if (req.path === '/patroni') return host === 'pg1' ? { status: 200, body: leaderState } : { status: 200, body: JSON.stringify({ state: 'running', role: 'replica', patroni: { version: '3.0.2', scope: 'main' } }) };
        if (req.path === '/config') {
          const live = liveAfterBootstrap();
          live['slots'] = { dr_standby: { type: 'physical' } };
          return { status: 200, body: JSON.stringify(live) };
        }
        return undefined;
      },
      exec: (_host, argv) => (argv.join(' ').includes('not active') ? { stdout: 'dr_standby\t16777216\n' } : {}),
    });
  const ctx = (s: ReturnType<typeof session>, prune: string[]) => ({
    session: s,
    model: s.model,
    secrets: new Map([['clusters.main.rest_api', new Secret('rest-secret')]]),
    options: { force: false, rolling: DEFAULT_ROLLING, prune },
    mode: 'plan' as const,
    earlier: new Map(),
  });

  it('without --prune: no step; a warning names the slot, the WAL it retains and the flag', async () => {
    const s = session();
    const plan = await dynamicConfigStage(s.model, 'main').plan(ctx(s, []));
    expect(plan.blocks.flatMap((b) => b.items).filter((i) => i.kind !== 'noop')).toEqual([]);
    expect(s.events.filter((e) => e.kind === 'warn')).toEqual([
      { kind: 'warn', host: 'pg1', message: 'cluster main: permanent slot dr_standby is no longer in the inventory (a standby cluster removed?) and is kept, retaining 16.0 MiB of WAL; `--prune dr_standby` drops it' },
    ]);
  });

  it('with --prune naming it: one PATCH dropping it, said in the plan, no warning', async () => {
    const s = session();
    const plan = await dynamicConfigStage(s.model, 'main').plan(ctx(s, ['dr_standby']));
    expect(plan.blocks.flatMap((b) => b.items).map((i) => (i.kind === 'http' ? `${i.method} ${i.path} ${JSON.stringify(i.body)}` : i.kind))).toEqual(['PATCH /config {"slots":{"dr_standby":null}}']);
    expect(plan.notes).toEqual(["--prune dr_standby: drop permanent slot dr_standby from main's configuration; Patroni then drops it on the leader pg1"]);
    expect(s.events.filter((e) => e.kind === 'warn')).toEqual([]);
  });

  describe('the --prune gate (before anything changes)', () => {
    it('lets a leftover slot through', async () => {
      const s = session();
      expect((await pruneGate(s.model).plan(ctx(s, ['dr_standby']))).blocks.flatMap((b) => b.items)).toEqual([]);
    });

    it('refuses a name no cluster holds as a leftover, in one line naming the leftovers', async () => {
      const s = session();
      const refused = await pruneGate(s.model).plan(ctx(s, ['dr_standy'])).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(HapgError);
      expect((refused as HapgError).code).toBe('USAGE');
      expect((refused as HapgError).message).toBe(
        '--prune dr_standy: no running cluster holds a permanent slot of that name that the inventory no longer declares (leftover slots: dr_standby (cluster main)): nothing was changed',
      );
    });

    it('without --prune: reads nothing', async () => {
      const s = fakeSession(loaded, { http: () => { throw new Error('read'); } });
      await expect(pruneGate(s.model).plan(ctx(s as ReturnType<typeof session>, []))).resolves.toMatchObject({ blocks: [] });
    });
  });
});
