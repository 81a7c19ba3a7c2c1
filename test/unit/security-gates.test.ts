// The guards that keep a run from harming a live cluster, planned from fixture hosts: made-up
// passwords on an initialised cluster, two inventory names for one machine, a standby
// rebuild against a host of another cluster, a promotion that cannot fence its source, and a
// policy-rc.d a killed run left behind.
import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { loadInventory } from '../../src/inventory/load.js';
import { CLUSTER_SECRETS, clusterSecretKey } from '../../src/inventory/secrets.js';
import { Secret } from '../../src/secret.js';
import type { GraphMode, StageContext } from '../../src/stages/stage.js';
import { KEEPALIVED_SECRET_LINES } from '../../src/tasks/keepalived/context.js';
import { POLICY_RC_PATH, planPackages } from '../../src/tasks/packages/plan.js';
import { DEFAULT_ROLLING } from '../../src/tasks/patroni/restart-options.js';
import { freshSecretsGate } from '../../src/tasks/patroni/secrets-gate.js';
import { checkIdentity } from '../../src/tasks/preflight/checks.js';
import { promoteStages } from '../../src/tasks/standby/promote.js';
import { rebuildStages } from '../../src/tasks/standby/rebuild.js';
import { maskFile } from '../../src/ui/plan-render.js';
import { fakeSession, type FakeHandlers } from '../support/fake-hosts.js';

const loaded = await loadInventory('inventories/two-datacenters.yml');
const secrets = new Map(['main', 'dr'].flatMap((c) => CLUSTER_SECRETS.map((s) => [clusterSecretKey(c, s), new Secret(`${c}-${s}-password`)] as const)));

/** etcd answering range requests from `keys` (Patroni's scope keys), Patroni from `patroni`. */
function hosts(opts: { keys?: Record<string, string>; patroni?: (host: string) => Record<string, unknown> | undefined; exec?: FakeHandlers['exec'] } = {}): FakeHandlers {
  return {
    http: (host, req) => {
      if (req.path === '/health') return { status: 200, body: '{"health":"true"}' };
      if (req.path === '/v3/cluster/member/list') return { status: 200, body: JSON.stringify({ members: [] }) };
      if (req.path === '/v3/kv/range') {
        const key = Buffer.from((JSON.parse(req.body ?? '{}') as { key: string }).key, 'base64').toString();
        const value = opts.keys?.[key];
        return { status: 200, body: JSON.stringify(value === undefined ? { count: '0' } : { count: '1', kvs: [{ value: Buffer.from(value).toString('base64') }] }) };
      }
      if (req.path === '/patroni') {
        const state = opts.patroni?.(host);
        return state ? { status: 200, body: JSON.stringify(state) } : undefined;
      }
      return undefined;
    },
    ...(opts.exec ? { exec: opts.exec } : {}),
  };
}

const ctxOf = (session: ReturnType<typeof fakeSession>, options: Partial<StageContext['options']> = {}, mode: GraphMode = 'deploy'): StageContext => ({
  session,
  model: session.model,
  secrets,
  options: { force: false, rolling: DEFAULT_ROLLING, ...options },
  mode,
  earlier: new Map(),
});

describe('made-up passwords on a live cluster', () => {
  const initialised = fakeSession(loaded, hosts({ keys: { '/service/main/initialize': '7710846471947005033' } }));

  it('refuses, naming the cluster, the secrets file and what to do, never a value', async () => {
    const err = await freshSecretsGate(initialised.model).plan(ctxOf(initialised, { freshSecrets: ['clusters.main.superuser', 'clusters.main.users.app'] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HapgError);
    expect((err as HapgError).code).toBe('UNSAFE_OPERATION');
    expect((err as HapgError).message).toMatch(/^cluster main is already initialised, but \S+\.secrets\.yml lacks its generated passwords \(superuser, users\.app\): deploying would set new ones on the live cluster/);
    expect((err as HapgError).hint).toMatch(/--rotate-secrets/);
  });

  it('plan refuses the same way', async () => {
    await expect(freshSecretsGate(initialised.model).plan(ctxOf(initialised, { freshSecrets: ['clusters.main.rest_api'] }, 'plan'))).rejects.toThrow(/already initialised/);
  });

  it('lets a deliberate rotation through, and new passwords for a cluster not initialised yet', async () => {
    await expect(freshSecretsGate(initialised.model).plan(ctxOf(initialised, { freshSecrets: ['clusters.main.superuser'], rotateSecrets: true }))).resolves.toMatchObject({ blocks: [] });
    await expect(freshSecretsGate(initialised.model).plan(ctxOf(initialised, { freshSecrets: ['clusters.dr.rest_api'] }))).resolves.toMatchObject({ blocks: [] });
  });
});

describe('one machine under two names', () => {
  it('fails the preflight of both names', () => {
    expect(checkIdentity('0f3a7c1e9b1d4e2a 02:68:70:67:4d:13', ['pg9'])).toMatchObject({
      verdict: 'fail',
      detail: 'the same machine as pg9 (machine-id 0f3a7c1e9b1d4e2a, same network interfaces): each inventory host must be a machine of its own',
    });
    expect(checkIdentity('0f3a7c1e9b1d4e2a 02:68:70:67:4d:13', [])).toMatchObject({ verdict: 'ok' });
  });
});

describe('standby rebuild proves each member is what the inventory says', () => {
  const scopes = (running: Record<string, string>, configured: Record<string, string> = {}) =>
    fakeSession(
      loaded,
      hosts({
        keys: { '/service/main/leader': 'pg1' },
        patroni: (host) => (running[host] ? { state: 'running', role: host === 'pg1' ? 'master' : 'replica', patroni: { scope: running[host] } } : undefined),
        exec: (host, argv) => (argv[0] === 'sed' ? { stdout: `${configured[host] ?? ''}\n` } : undefined),
      }),
    );

  it('refuses when a member runs Patroni of another scope, before stopping anything', async () => {
    const session = scopes({ pg1: 'main', dr1: 'dr', dr2: 'main' });
    const [stage] = rebuildStages(session.model, 'inv.yml', 'dr');
    const err = (await stage!.plan(ctxOf(session)).catch((e: unknown) => e)) as HapgError;
    expect(err.message).toBe('dr2 belongs to Patroni scope main, not dr: refusing to stop or wipe it; nothing was changed');
    expect(session.remoteOf('dr2').calls.filter((c) => /systemctl|mv |rm /.test(c))).toEqual([]);
  });

  it("refuses when a stopped member's patroni.yml names another scope", async () => {
    const session = scopes({ pg1: 'main' }, { dr3: 'main' });
    const [stage] = rebuildStages(session.model, 'inv.yml', 'dr');
    await expect(stage!.plan(ctxOf(session))).rejects.toThrow(/^dr3 belongs to Patroni scope main, not dr/);
  });

  it('moves the data aside (never deletes it) and says where', async () => {
    const session = scopes({ pg1: 'main', dr1: 'dr' }, { dr1: 'dr' });
    const [stage] = rebuildStages(session.model, 'inv.yml', 'dr');
    const plan = await stage!.plan(ctxOf(session));
    const moves = plan.blocks.at(-1)!.items;
    expect(moves.map((i) => i.kind === 'exec' && i.argv.slice(-2)[0])).toEqual(['/var/lib/postgresql/15/dr', '/var/lib/postgresql/15/dr', '/var/lib/postgresql/15/dr']);
    expect(JSON.stringify(moves)).not.toMatch(/rm -rf|"rm"/);
    expect(plan.notes[0]).toMatch(/is moved aside to \/var\/lib\/postgresql\/15\/dr\.hapg-wiped-\d{8}T\d{6}Z; remove it once/);
  });
});

describe('standby promote fences its source', () => {
  const drUp = (unreachable: string[]) => {
    const session = fakeSession(
      loaded,
      hosts({
        patroni: (host) => (host.startsWith('dr') ? { state: 'running', role: host === 'dr1' ? 'standby_leader' : 'replica', patroni: { scope: 'dr' } } : { state: 'stopped', role: 'uninitialized' }),
        exec: () => ({ stdout: '' }),
      }),
    );
    for (const h of unreachable) {
      (session.remotes as Map<string, unknown>).delete(h);
      (session.unreachable as Map<string, string>).set(h, `${h}: connect timed out`);
    }
    return session;
  };
  const live = { standby_cluster: { host: '192.0.2.11', port: 5000 } };
  const withConfig = (session: ReturnType<typeof drUp>) => {
    const base = session.facts.get.bind(session.facts);
    session.facts.get = ((host: string, fact: { id: string }) => (fact.id.startsWith('patroni-config') ? Promise.resolve(live) : base(host, fact as never))) as typeof session.facts.get;
    return session;
  };

  it('refuses while source members cannot be reached: they may still run a primary', async () => {
    const session = withConfig(drUp(['pg1', 'pg2']));
    const [stage] = promoteStages(session.model, 'inv.yml', 'dr', { force: false }, {});
    await expect(stage!.plan(ctxOf(session))).rejects.toThrow(/^source cluster main: pg1, pg2 cannot be reached and may still run a primary: promoting dr now risks two primaries \(split brain\); nothing was changed$/);
  });

  it('stops and disables Patroni on every source member it reaches before the PATCH', async () => {
    const session = withConfig(drUp([]));
    const outcome = {};
    const [stage] = promoteStages(session.model, 'inv.yml', 'dr', { force: false }, outcome);
    const plan = await stage!.plan(ctxOf(session));
    expect(plan.blocks[0]!.items).toEqual(['pg1', 'pg2', 'pg3'].map((h) => expect.objectContaining({ kind: 'service', host: h, name: 'patroni', state: 'stopped', enabled: false })));
    expect(plan.blocks[1]!.items[0]).toMatchObject({ kind: 'http', host: 'dr1', method: 'PATCH', path: '/config', body: { standby_cluster: null } });
    expect(outcome).toMatchObject({ leader: 'dr1', fenced: ['pg1', 'pg2', 'pg3'] });
  });
});

describe('leftovers of a killed run', () => {
  it("removes hapg's own policy-rc.d when nothing is left to install", () => {
    const items = planPackages(loaded.inventory, 'pg1', ['patroni'], { codename: 'trixie', installed: new Set(['patroni']), files: new Map(), leftoverPolicyRc: true });
    expect(items).toEqual([expect.objectContaining({ kind: 'exec', argv: ['rm', '-f', '--', POLICY_RC_PATH] })]);
  });
});

describe('secrets in keepalived.conf', () => {
  it('masks auth_pass by position', () => {
    expect(maskFile('    authentication {\n        auth_type PASS\n        auth_pass Xy7-abc9\n', { secretLines: KEEPALIVED_SECRET_LINES })).toBe(
      '    authentication {\n        auth_type PASS\n        auth_pass "***"\n',
    );
  });
});
