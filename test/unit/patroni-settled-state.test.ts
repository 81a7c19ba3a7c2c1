// A Patroni that has just started serves its REST API a few seconds later. A run that starts
// right after another restarted the leader's Patroni (a run cut short there) must not take the
// leader for absent: the cluster health gate would refuse the leaderless cluster. Such a member
// is read again until it answers or has run PATRONI_START_GRACE_S; a Patroni that runs longer,
// or does not run, is taken as it answers at once.
import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { loadInventory } from '../../src/inventory/load.js';
import { clusterHealthGate } from '../../src/tasks/patroni/gate.js';
import { PATRONI_START_GRACE_S } from '../../src/tasks/patroni/facts.js';
import { DEFAULT_ROLLING } from '../../src/tasks/patroni/restart-options.js';
import type { StageContext } from '../../src/stages/stage.js';
import { fakeSession, type FakeHandlers } from '../support/fake-hosts.js';

const loaded = await loadInventory('inventories/three-hosts.yml');

/**
 * etcd says the cluster is initialised; pg2 and pg3 answer as replicas; pg1 (the leader)
 * answers only from its `answersFrom`-th GET /patroni on, and its Patroni has run `age` seconds
 * (undefined: patroni.service has no main process).
 */
function cluster(opts: { answersFrom: number; age: number | undefined }): FakeHandlers & { leaderReads: () => number } {
  let reads = 0;
  return {
    leaderReads: () => reads,
    http: (host, req) => {
      if (req.path === '/v3/kv/range') return { status: 200, body: JSON.stringify({ count: '1', kvs: [{ value: Buffer.from('7710846471947005033').toString('base64') }] }) };
      if (req.path !== '/patroni') return undefined;
      if (host !== 'pg1') return { status: 200, body: JSON.stringify({ state: 'running', role: 'replica' }) };
      reads++;
      return reads >= opts.answersFrom ? { status: 200, body: JSON.stringify({ state: 'running', role: 'primary', pause: true }) } : undefined;
    },
    exec: (host, argv) => {
      if (!argv.join(' ').includes('ExecMainStartTimestamp')) return undefined;
      return host === 'pg1' && opts.age !== undefined ? { stdout: `${opts.age}\n` } : { exitCode: 1 };
    },
  };
}

function gate(handlers: FakeHandlers) {
  const session = fakeSession(loaded, handlers);
  const ctx: StageContext = { session, model: session.model, secrets: new Map(), options: { force: false, rolling: DEFAULT_ROLLING }, mode: 'deploy', earlier: new Map() };
  return clusterHealthGate(session.model, 'main').plan(ctx);
}

describe('a member whose Patroni has just started', () => {
  it('is waited for: the leader that answers on the fourth read passes the health gate', async () => {
    const hosts = cluster({ answersFrom: 4, age: 1 });
    await expect(gate(hosts)).resolves.toBeDefined();
    expect(hosts.leaderReads()).toBe(4);
  });

  it('is waited for until it has run the grace period, then the cluster is refused as leaderless', async () => {
    const hosts = cluster({ answersFrom: Infinity, age: PATRONI_START_GRACE_S - 1 });
    const started = Date.now();
    const err = await gate(hosts).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(err).toBeInstanceOf(HapgError);
    expect((err as HapgError).message).toBe('cluster main has no leader: not changing anything');
    expect(hosts.leaderReads()).toBeGreaterThan(1);
  });

  it('is not waited for once it has run longer than the grace period, nor when Patroni does not run', async () => {
    for (const age of [PATRONI_START_GRACE_S, undefined]) {
      const hosts = cluster({ answersFrom: 2, age });
      const err = await gate(hosts).catch((e: unknown) => e);
      expect((err as HapgError).message).toBe('cluster main has no leader: not changing anything');
      expect(hosts.leaderReads()).toBe(1);
    }
  });
});
