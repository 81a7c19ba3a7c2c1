import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { Secret } from '../../src/secret.js';
import { PatroniApi } from '../../src/model/endpoints.js';
import { buildModel } from '../../src/model/model.js';
import { dynamicConfigChanges, planDynamicConfig } from '../../src/tasks/patroni/dynamic-config.js';

const model = buildModel((await loadInventory('inventories/three-hosts.yml')).inventory);
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
