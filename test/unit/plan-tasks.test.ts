import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RemoteFileState } from '../../src/facts/files.js';
import type { ServiceState } from '../../src/facts/services.js';
import { loadInventory } from '../../src/inventory/load.js';
import { CLUSTER_SECRETS, clusterSecretKey } from '../../src/inventory/secrets.js';
import { buildModel } from '../../src/model/model.js';
import { ETCD_ENV_PATH } from '../../src/tasks/etcd/context.js';
import { HAPROXY_CONFIG_PATH } from '../../src/tasks/haproxy/context.js';
import { KEEPALIVED_CONFIG_PATH } from '../../src/tasks/keepalived/context.js';
import { PATRONI_CONFIG_PATH, PATRONI_UNIT_PATH } from '../../src/tasks/patroni/model.js';
import type { PlanItem } from '../../src/run/steps.js';
import { Secret } from '../../src/secret.js';
import { etcdEnvFile, planEtcdMember } from '../../src/tasks/etcd/plan.js';
import { haproxyFile, planHaproxyHost } from '../../src/tasks/haproxy/plan.js';
import { keepalivedFile, planKeepalivedHost } from '../../src/tasks/keepalived/plan.js';
import { APT_PROXY_PATH, CREATECLUSTER_PATH, packageSourceFiles, planPackages } from '../../src/tasks/packages/plan.js';
import { runtimeConfigDigest, WITHOUT_BOOTSTRAP_AWK, withoutBootstrap } from '../../src/tasks/patroni/facts.js';
import { memberSteps, patroniFiles, planPatroniMember } from '../../src/tasks/patroni/plan.js';

const { inventory } = await loadInventory('inventories/three-hosts.yml');
const dedicated = (await loadInventory('inventories/dedicated-etcd.yml')).inventory;
const model = buildModel(inventory);
const wantedPackages = (inv: typeof inventory, host: string) => buildModel(inv).packagesOn(host);
const secrets = new Map(CLUSTER_SECRETS.map((s) => [clusterSecretKey('main', s), new Secret(`secret-${s}`)]));

/** The state a host reports for a file hapg wrote with exactly this content. */
const written = (f: { content: string; mode: number; owner: string; group: string }): RemoteFileState => ({
  sha256: createHash('sha256').update(f.content).digest('hex'),
  mode: f.mode,
  owner: f.owner,
  group: f.group,
});
const svc = (name: string, active: string, enabled = 'enabled'): ServiceState => ({ name, loaded: true, active, enabled, activeSince: 1, mainPid: 1 });
const kinds = (items: PlanItem[]) =>
  items.map((i) => (i.kind === 'noop' ? 'noop' : i.kind === 'service' ? `${i.state} ${i.name}` : i.kind === 'file' ? `file ${i.path}` : i.kind === 'exec' ? `exec ${i.argv[0]}` : i.kind));

describe('packages', () => {
  it('wants each role its packages, and only those', () => {
    expect(wantedPackages(inventory, 'pg1')).toEqual(['etcd-client', 'etcd-server', 'haproxy', 'keepalived', 'openssl', 'patroni', 'postgresql-17', 'python3-etcd']);
    const etcdOnly = dedicated.etcd[Object.keys(dedicated.etcd)[0]!]!.hosts[0]!;
    expect(wantedPackages(dedicated, etcdOnly)).toEqual(['etcd-client', 'etcd-server', 'openssl']);
  });

  it('bare host: proxy, createcluster.conf, then one install of everything missing', () => {
    const items = planPackages(inventory, 'pg1', wantedPackages(inventory, 'pg1'), { codename: 'trixie', installed: new Set(), files: new Map() });
    expect(kinds(items)).toEqual([`file ${APT_PROXY_PATH}`, `file ${CREATECLUSTER_PATH}`, 'exec sh']);
    const install = items[2]!;
    expect(install.kind === 'exec' && install.argv.slice(4)).toEqual(['etcd-client', 'etcd-server', 'haproxy', 'keepalived', 'openssl', 'patroni', 'postgresql-17', 'python3-etcd']);
    expect(install.kind === 'exec' && install.argv[2]).toContain('policy-rc.d');
  });

  it('converged host: a noop that says why', () => {
    const wanted = wantedPackages(inventory, 'pg1');
    const files = new Map(packageSourceFiles(inventory, 'pg1', wanted, 'trixie').map((f) => [f.path, written(f)]));
    const items = planPackages(inventory, 'pg1', wanted, { codename: 'trixie', installed: new Set(wanted), files });
    expect(items).toEqual([{ kind: 'noop', host: 'pg1', reason: '8 packages installed' }]);
  });
});

describe('etcd member', () => {
  const env = etcdEnvFile(inventory, 'dc1', 'pg2');
  const joined = etcdEnvFile(inventory, 'dc1', 'pg2', { cluster: 'pg1=http://192.0.2.11:2380,pg2=http://192.0.2.12:2380', state: 'existing' });
  it.each<[string, RemoteFileState | null, string, ServiceState | undefined, boolean, string[]]>([
    ['bare host', null, '', svc('etcd', 'inactive', 'enabled'), false, [`file ${ETCD_ENV_PATH}`, 'started etcd']],
    ['running, unchanged', written(env), env.content, svc('etcd', 'active'), true, ['noop']],
    ['running, a setting changed', { ...written(env), sha256: 'x' }, env.content.replace('ELECTION_TIMEOUT="1000"', 'ELECTION_TIMEOUT="500"'), svc('etcd', 'active'), true, [`file ${ETCD_ENV_PATH}`, 'restarted etcd']],
    ['running, a comment changed', { ...written(env), sha256: 'x' }, env.content.replace(/^# Managed by hapg.*$/m, '# older words'), svc('etcd', 'active'), true, [`file ${ETCD_ENV_PATH}`]],
    ['joined a running cluster: its first-start lines stay', written(joined), joined.content, svc('etcd', 'active'), true, ['noop']],
    ['stopped, unchanged', written(env), env.content, svc('etcd', 'inactive'), true, ['started etcd']],
  ])('%s', (_, envFile, envContent, service, hasData, expected) => {
    expect(kinds(planEtcdMember(inventory, 'dc1', 'pg2', { envFile, envContent, service, hasData }))).toEqual(expected);
  });

  it('keeps the first-start lines of a member with data, whatever the inventory lists now', () => {
    const [file] = planEtcdMember(inventory, 'dc1', 'pg2', { envFile: null, envContent: joined.content, service: svc('etcd', 'active'), hasData: true });
    expect(file?.kind === 'file' && file.content).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"');
    const [fresh] = planEtcdMember(inventory, 'dc1', 'pg2', { envFile: null, envContent: joined.content, service: svc('etcd', 'inactive'), hasData: false });
    expect(fresh?.kind === 'file' && fresh.content).toContain('ETCD_INITIAL_CLUSTER_STATE="new"');
  });
});

describe('patroni member', () => {
  const files = patroniFiles(model, 'main', 'pg1', secrets);
  const asWritten = new Map(files.map((f) => [f.path, written(f)]));
  const plan = (fileStates: Map<string, RemoteFileState | null>, service: ServiceState | undefined) =>
    kinds(
      memberSteps(
        model,
        'main',
        'pg1',
        // A member that ran before has its data directory; a bare host has none.
        planPatroniMember(model, 'main', 'pg1', secrets, { files: fileStates, service, state: undefined, hasData: fileStates.size > 0 }),
      ),
    );

  it('writes patroni.yml 0600 postgres-owned, and masks its passwords', () => {
    const cfg = files.find((f) => f.path === PATRONI_CONFIG_PATH)!;
    expect(cfg).toMatchObject({ mode: 0o600, owner: 'postgres', group: 'postgres' });
    expect(cfg.secrets?.map((s) => s.reveal()).sort()).toEqual(['superuser', 'replication', 'rewind', 'rest_api', 'etcd'].map((s) => `secret-${s}`).sort());
    expect(JSON.stringify(cfg.secrets)).not.toContain('secret-');
  });

  it.each<[string, Map<string, RemoteFileState | null>, ServiceState | undefined, string[]]>([
    ['bare host', new Map(), svc('patroni', 'inactive', 'disabled'), [`file ${PATRONI_CONFIG_PATH}`, `file ${PATRONI_UNIT_PATH}`, 'exec systemctl', 'exec sh', 'started patroni']],
    ['running, unchanged', asWritten, svc('patroni', 'active'), ['noop']],
    ['running, patroni.yml changed', new Map([...asWritten, [PATRONI_CONFIG_PATH, { ...written(files[0]!), sha256: 'old' }]]), svc('patroni', 'active'), [`file ${PATRONI_CONFIG_PATH}`, 'reloaded patroni']],
    ['running, mode drifted to 0644', new Map([...asWritten, [PATRONI_CONFIG_PATH, { ...written(files[0]!), mode: 0o644 }]]), svc('patroni', 'active'), [`file ${PATRONI_CONFIG_PATH}`, 'reloaded patroni']],
    ['stopped member (heal)', asWritten, svc('patroni', 'inactive'), ['started patroni']],
    ['running but disabled', asWritten, svc('patroni', 'active', 'disabled'), ['exec systemctl']],
  ])('%s', (_, fileStates, service, expected) => expect(plan(fileStates, service)).toEqual(expected));

  describe('a change confined to bootstrap: is written, not reloaded', () => {
    const digest = (content: string) => createHash('sha256').update(withoutBootstrap(content)).digest('hex');
    const edited = (edit: (c: (typeof inventory)['clusters'][string]) => void) => {
      const inv = structuredClone(inventory);
      edit(inv.clusters.main!);
      return buildModel(inv);
    };
    const steps = (m: ReturnType<typeof buildModel>, runtimeDigest: string | undefined) =>
      kinds(memberSteps(m, 'main', 'pg1', planPatroniMember(m, 'main', 'pg1', secrets, { files: asWritten, service: svc('patroni', 'active'), state: undefined, hasData: true, runtimeDigest })));
    const before = files.find((f) => f.path === PATRONI_CONFIG_PATH)!.content;

    it('a parameter of the dynamic configuration (bootstrap.dcs repeats it): written only', () => {
      const raised = edited((c) => (c.postgres.parameters.max_connections = 250));
      expect(patroniFiles(raised, 'main', 'pg1', secrets)[0]!.content).not.toBe(before);
      expect(steps(raised, digest(before))).toEqual([`file ${PATRONI_CONFIG_PATH}`]);
    });

    it('a pg_hba rule (read at every reload): written and reloaded', () => {
      const hba = edited((c) => c.postgres.hba.push({ type: 'host', database: 'all', user: 'all', address: '198.51.100.0/24', method: 'scram-sha-256' }));
      expect(steps(hba, digest(before))).toEqual([`file ${PATRONI_CONFIG_PATH}`, 'reloaded patroni']);
    });

    it('the host file unreadable: reloaded, as for any change', () => {
      const raised = edited((c) => (c.postgres.parameters.max_connections = 250));
      expect(steps(raised, undefined)).toEqual([`file ${PATRONI_CONFIG_PATH}`, 'reloaded patroni']);
    });

    it('the cut made on the host (the fact itself, run here on a file) is the cut made here', async () => {
      const { execa } = await import('execa');
      const dir = await mkdtemp(path.join(tmpdir(), 'hapg-cut-'));
      /** The fact's command run locally, its result as the executor hands it over. */
      const ask = async (file: string) => {
        const fact = runtimeConfigDigest(file);
        const r = await execa(fact.argv[0]!, fact.argv.slice(1), { reject: false });
        return fact.parse({ host: 'local', command: fact.argv.join(' '), exitCode: r.exitCode ?? null, stdout: r.stdout, stderr: r.stderr, durationMs: 0 });
      };
      try {
        expect(runtimeConfigDigest('/x').argv).toContain(WITHOUT_BOOTSTRAP_AWK);
        for (const content of [before, `${before}# trailing comment\n`, before.replace(/\n$/, '')]) {
          await writeFile(path.join(dir, 'patroni.yml'), content);
          expect(await ask(path.join(dir, 'patroni.yml'))).toBe(digest(content));
        }
        expect(await ask(path.join(dir, 'absent.yml'))).toBeUndefined();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      expect(withoutBootstrap(before)).not.toMatch(/^bootstrap:/m);
      expect(withoutBootstrap(before)).toMatch(/^postgresql:/m);
    });
  });
});

describe('haproxy and keepalived host', () => {
  const cfg = haproxyFile(model, 'pg3');
  const ka = keepalivedFile(model, 'pg3', secrets);
  const both = (files: Map<string, RemoteFileState | null>, haproxy: string, keepalived: string) => [
    ...planHaproxyHost(model, 'pg3', { file: files.get(HAPROXY_CONFIG_PATH), service: svc('haproxy', haproxy) }),
    ...planKeepalivedHost(model, 'pg3', secrets, { file: files.get(KEEPALIVED_CONFIG_PATH), service: svc('keepalived', keepalived) }),
  ];

  it('bare host: check the config before writing it, then start both', () => {
    const items = both(new Map(), 'inactive', 'inactive');
    expect(kinds(items)).toEqual(['exec haproxy', `file ${HAPROXY_CONFIG_PATH}`, 'started haproxy', `file ${KEEPALIVED_CONFIG_PATH}`, 'started keepalived']);
    const check = items[0]!;
    expect(check.kind === 'exec' && check.stdin).toBe(cfg.content);
  });

  it('running with a changed haproxy.cfg: graceful reload, keepalived untouched', () => {
    const files = new Map([[HAPROXY_CONFIG_PATH, { ...written(cfg), sha256: 'old' }], [KEEPALIVED_CONFIG_PATH, written(ka)]]);
    expect(kinds(both(files, 'active', 'active'))).toEqual(['exec haproxy', `file ${HAPROXY_CONFIG_PATH}`, 'reloaded haproxy', 'noop']);
  });

  it('converged: two noops', () => {
    const files = new Map([[HAPROXY_CONFIG_PATH, written(cfg)], [KEEPALIVED_CONFIG_PATH, written(ka)]]);
    expect(kinds(both(files, 'active', 'active'))).toEqual(['noop', 'noop']);
  });
});
