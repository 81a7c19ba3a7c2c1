// The new replicas' slots made at once: hapg waits until the starting members are registered
// in etcd (the leader's GET /cluster), then wakes the leader's loop with a PATCH /config that
// changes nothing, instead of waiting up to loop_wait for Patroni to make the slots.
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { patroniApi } from '../../src/model/endpoints.js';
import { runStep } from '../../src/run/executor.js';
import type { HttpRequest } from '../../src/ssh/types.js';
import { waitForRegistered } from '../../src/tasks/patroni/waits.js';
import { fakeSession } from '../support/fake-hosts.js';

const loaded = await loadInventory('inventories/three-hosts.yml');
const clusterBody = (names: string[]) => JSON.stringify({ members: names.map((name) => ({ name, role: name === 'pg1' ? 'leader' : 'replica', state: 'running', host: name })) });

describe("waking the leader's loop when replicas start", () => {
  it('sends an empty patch of the postgresql section to the leader and reports it unchanged', async () => {
    const requests: HttpRequest[] = [];
    const session = fakeSession(loaded, { http: (_h, req) => (requests.push(req), { status: 200, body: '{"loop_wait":10,"postgresql":{"use_slots":true}}' }) });
    const step = patroniApi(session.model, 'main').wakeLoop('pg1', 'wake');
    const outcome = await runStep(step, session);
    expect(outcome.changed).toBe(false);
    expect(requests.map((r) => `${r.method} ${r.path} ${r.body}`)).toEqual(['PATCH /config {"postgresql":{}}']);
    expect(session.events.at(-1)).toMatchObject({ kind: 'noop', host: 'pg1', reason: 'loop woken' });
  });

  it('fails the step on any other answer', async () => {
    const session = fakeSession(loaded, { http: () => ({ status: 503, body: 'Service Unavailable' }) });
    await expect(runStep(patroniApi(session.model, 'main').wakeLoop('pg1', 'wake'), session)).rejects.toThrow(/PATCH \/config answered 503/);
  });

  it('waits until every starting member is listed in the leader\'s GET /cluster', async () => {
    let reads = 0;
    const session = fakeSession(loaded, {
      http: (host, req) => {
        if (host !== 'pg1' || req.path !== '/cluster') return undefined;
        reads++;
        return { status: 200, body: clusterBody(reads < 2 ? ['pg1', 'pg2'] : ['pg1', 'pg2', 'pg3']) };
      },
    });
    const outcome = await runStep(waitForRegistered(session.model, 'main', 'pg1', ['pg2', 'pg3']), session);
    expect(reads).toBe(2);
    expect(outcome.status).toBe('registered');
  });

  it('times out naming the members not registered', async () => {
    const session = fakeSession(loaded, { http: (host, req) => (host === 'pg1' && req.path === '/cluster' ? { status: 200, body: clusterBody(['pg1', 'pg2']) } : undefined) });
    await expect(runStep(waitForRegistered(session.model, 'main', 'pg1', ['pg2', 'pg3'], 1500), session)).rejects.toThrow(/not registered yet: pg3/);
  });
});
