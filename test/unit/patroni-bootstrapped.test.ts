// A cluster being initialised (a first deploy, a restore) is waited for until Patroni has
// recorded the system identifier in etcd, not only until its leader runs: Patroni reports the
// leader running while its post_bootstrap still runs and the `initialize` key holds an empty
// value. A run that went on at that point (restore --into, on the lab) took the cluster for one
// not initialised and refused to start the replicas.
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { runStep } from '../../src/run/executor.js';
import { isClusterInitialized } from '../../src/tasks/patroni/cluster-state.js';
import { waitForBootstrapped } from '../../src/tasks/patroni/waits.js';
import { fakeSession } from '../support/fake-hosts.js';

const loaded = await loadInventory('inventories/three-hosts.yml');
const SYSID = '7710846471947005033';

/** pg1 runs as the leader; etcd's `initialize` key answers `values` in turn (null: absent), the last one from then on. */
function bootstrapping(values: (string | null)[]) {
  let reads = 0;
  const session = fakeSession(loaded, {
    http: (host, req) => {
      if (req.path === '/v3/kv/range') {
        const value = values[Math.min(reads++, values.length - 1)];
        return { status: 200, body: JSON.stringify(value === null ? { count: '0' } : { count: '1', kvs: [{ value: Buffer.from(value!).toString('base64') }] }) };
      }
      if (req.path !== '/patroni') return undefined;
      return { status: 200, body: JSON.stringify({ state: 'running', role: host === 'pg1' ? 'primary' : 'replica' }) };
    },
  });
  return { session, reads: () => reads };
}

describe('waiting for a cluster to be initialised', () => {
  it('goes on once the system identifier is in etcd, not while the key is empty, and leaves the fresh value in the run cache', async () => {
    const { session, reads } = bootstrapping([null, '', '', SYSID]);
    // Read (and cached) before the bootstrap: not initialised.
    expect(await isClusterInitialized(session.facts, session.model, 'main')).toBe(false);
    const outcome = await runStep(waitForBootstrapped(session.model, 'main', 'pg1'), session);
    expect(outcome.status).toBe(`role leader, state running, system identifier ${SYSID} in etcd`);
    expect(reads()).toBe(4);
    expect(await isClusterInitialized(session.facts, session.model, 'main')).toBe(true);
    expect(reads()).toBe(4);
  });

  it('times out saying the bootstrap is not recorded while the leader runs', async () => {
    const { session } = bootstrapping(['']);
    await expect(runStep(waitForBootstrapped(session.model, 'main', 'pg1', 1500), session)).rejects.toThrow(/role leader, state running, bootstrap not recorded in etcd yet/);
  });
});
