import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { runStep } from '../../src/run/executor.js';
import { wait } from '../../src/run/steps.js';
import { fakeSession } from '../support/fake-hosts.js';

describe('a wait while a host goes down', () => {
  it('ends at once naming the host whose connection dropped, instead of waiting out its time', async () => {
    const session = fakeSession(await loadInventory('inventories/three-hosts.yml'), {});
    const step = wait('pg1', 'every replica streaming', async () => ({ done: false, status: 'pg3 not answering' }), { timeoutMs: 300_000, intervalMs: 10 });
    session.remoteOf('pg3').lostReason = 'connection lost: timed out';
    const started = Date.now();
    await expect(runStep(step, session)).rejects.toThrow('pg3: connection lost: timed out, while waiting for every replica streaming (pg3 not answering)');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('keeps waiting while every connection is up', async () => {
    const session = fakeSession(await loadInventory('inventories/three-hosts.yml'), {});
    const step = wait('pg1', 'every replica streaming', async () => ({ done: false, status: 'pg3 catching up' }), { timeoutMs: 200, intervalMs: 10 });
    await expect(runStep(step, session)).rejects.toThrow('timed out after 0s waiting for every replica streaming: pg3 catching up');
  });
});
