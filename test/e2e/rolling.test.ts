// Rolling configuration changes under write load on pg14-pg16 (etcd, Patroni, HAProxy and the
// VIP on the same three hosts). A client writes numbered rows through the VIP's read-write
// port while deploy applies each change; afterwards every acknowledged row is on every
// member, the cluster is healthy on one timeline with no restart pending, and the changes
// that need no restart restarted nothing.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { missingRows, startWriteLoad, tableDigest, type PgTarget, type WriteLoadReport } from '../support/write-load.js';
import { caOf, dataDirOf, patroniGet, vipAddress, healthyStateOf, eventually, hapg, jsonEvents, jsonResult, onHost, sequenceOfRun, writeInventory } from './hapg.js';

const lab = inject('lab');
const HOSTS = ['pg14', 'pg15', 'pg16'];
const VIP = { address: vipAddress(lab, 102), interface: 'eth0', router_id: 53 };
const RESTART_TITLE = 'restart PostgreSQL (pending restart)';
let inventory: string;
let app: PgTarget;

interface StatusJson {
  healthy: boolean;
  clusters: { members: { name: string; role: string; state: string; timeline?: number; pendingRestart: boolean }[]; problems: string[] }[];
}

const addressOf = (host: string) => lab.hosts.find((h) => h.name === host)!.address;

async function status(): Promise<StatusJson> {
  return jsonResult<StatusJson>((await hapg(['status', '-i', inventory, '--json'])).stdout);
}

/** Waits for a healthy status (a demoted leader reports its new timeline at its next loop). */
async function healthyStatus(): Promise<StatusJson> {
  return eventually('a healthy cluster', async () => {
    const s = await status();
    return s.healthy ? s : new Error(s.clusters[0]!.problems.join('; '));
  }, 60_000);
}

const leaderOf = (s: StatusJson) => s.clusters[0]!.members.filter((m) => m.role === 'leader').map((m) => m.name);

/** Each member's postmaster: PID and start time (postmaster.pid lines 1 and 3). */
async function postmasters(): Promise<string[]> {
  return Promise.all(HOSTS.map(async (h) => `${h} ${(await onHost(lab, h, `sed -n "1p;3p" ${dataDirOf(lab, 'main')}/postmaster.pid`)).stdout.replace(/\n/g, ' ').trim()}`));
}

async function show(host: string, parameter: string): Promise<string> {
  return (await onHost(lab, host, `cd / && runuser -u postgres -- psql -XAtc 'show ${parameter}'`)).stdout.trim();
}

async function editInventory(edit: (cluster: Record<string, any>) => void): Promise<void> {
  const doc = YAML.parse(await readFile(inventory, 'utf8'));
  edit(doc.clusters.main);
  await writeFile(inventory, YAML.stringify(doc));
}

interface Applied {
  deploy: Awaited<ReturnType<typeof hapg>>;
  load: WriteLoadReport;
  seconds: number;
  restarts: string[];
}

/**
 * Runs deploy (with extra flags) while the client writes, then stops the client. plan runs
 * first: a deploy that succeeds ran exactly the reloads, restarts and switchovers plan showed.
 */
async function deployUnderLoad(table: string, flags: string[] = []): Promise<Applied> {
  const planned = sequenceOfRun((await hapg(['plan', '-i', inventory, '--json', ...flags.filter((f) => f === '--no-switchover')])).stdout);
  const load = await startWriteLoad(app, { table, largeEvery: 20, largeBytes: 8192 });
  await new Promise((r) => setTimeout(r, 1000));
  const started = Date.now();
  const deploy = await hapg(['deploy', '-i', inventory, '--json', ...flags]);
  const seconds = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  const report = await load.stop();
  const restarts = jsonEvents(deploy.stdout).filter((e) => e.kind === 'change' && e.title === RESTART_TITLE).map((e) => e.host!);
  if (deploy.exitCode === 0) expect(sequenceOfRun(deploy.stdout), 'deploy ran what plan showed').toEqual(planned);
  process.stderr.write(
    `rolling e2e ${table}: deploy ${seconds.toFixed(1)} s, ${report.acked.length} rows acknowledged, ${report.failedAttempts} failed attempts, longest write gap ${report.longestGapMs} ms, restarts: ${restarts.join(', ') || 'none'}\n`,
  );
  return { deploy, load: report, seconds, restarts };
}

/** Every acknowledged row on every member, the same table everywhere, one timeline, nothing pending. */
async function expectConverged(table: string, load: WriteLoadReport): Promise<StatusJson> {
  expect(load.acked.length).toBeGreaterThan(50);
  const s = await healthyStatus();
  const members = s.clusters[0]!.members;
  expect(members.map((m) => m.state)).toEqual(members.map((m) => healthyStateOf(lab, m.role)));
  expect(members.map((m) => m.role).sort()).toEqual(['leader', 'replica', 'replica']);
  expect(new Set(members.map((m) => m.timeline)).size).toBe(1);
  expect(members.filter((m) => m.pendingRestart)).toEqual([]);
  const leader = leaderOf(s)[0]!;
  expect(await missingRows({ ...app, host: addressOf(leader), port: 5432 }, table, load.acked)).toEqual([]);
  const digests = await Promise.all(
    HOSTS.map((h) =>
      eventually(`every acknowledged row on ${h}`, async () => {
        const target = { ...app, host: addressOf(h), port: 5432 };
        const missing = await missingRows(target, table, load.acked);
        return missing.length === 0 ? tableDigest(target, table) : new Error(`${missing.length} missing, first ${missing[0]}`);
      }, 30_000),
    ),
  );
  expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
  return s;
}

beforeAll(async () => {
  const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8'));
  inventory = await writeInventory(lab, {
    hosts: HOSTS,
    etcd: { dc1: { hosts: HOSTS } },
    clusters: {
      main: {
        hosts: HOSTS,
        postgres: {
          parameters: { max_connections: 100, shared_buffers: '128MB', work_mem: '4MB' },
          hba: base.clusters.main.postgres.hba,
          users: { app: { options: ['LOGIN'] } },
          databases: { app: { owner: 'app' } },
        },
        haproxy: {},
        vip: VIP,
      },
    },
  });
  const r = await hapg(['deploy', '-i', inventory]);
  if (r.exitCode !== 0) throw new Error(`initial deploy failed: ${r.stderr.split('\n').filter((l) => l.startsWith('hapg:')).join(' ') || r.stderr.slice(-500)}`);
  const secrets = YAML.parse(await readFile(path.join(path.dirname(inventory), '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
  app = { host: VIP.address, port: 5000, user: 'app', password: secrets['clusters.main.users.app']!, database: 'app' };
});

describe('rolling configuration changes under write load', () => {
  it('(a) a reload-only parameter: plan says so, deploy restarts nothing and drops no connection', async () => {
    await editInventory((c) => (c.postgres.parameters.work_mem = '8MB'));
    const plan = await hapg(['plan', '-i', inventory]);
    expect(plan.stdout).toMatch(/^      work_mem 4MB → 8MB: applies on reload \(pg_settings\.context user\)$/m);
    expect(plan.stdout).not.toMatch(/restart PostgreSQL/);
    const before = await postmasters();
    const { deploy, load, restarts } = await deployUnderLoad('load_a');
    expect(deploy.exitCode).toBe(0);
    expect(restarts).toEqual([]);
    expect(load.failedAttempts).toBe(0);
    await expectConverged('load_a', load);
    expect(await postmasters()).toEqual(before);
    for (const h of HOSTS) expect(await show(h, 'work_mem')).toBe('8MB');
  });

  it('(b) restart parameters going up: plan shows the sequence; replicas one at a time, a switchover, no row lost', async () => {
    await editInventory((c) => Object.assign(c.postgres.parameters, { max_connections: 150, shared_buffers: '256MB' }));
    const leaderBefore = leaderOf(await status())[0]!;
    const replicas = HOSTS.filter((h) => h !== leaderBefore);
    const plan = await hapg(['plan', '-i', inventory]);
    expect(plan.stdout).toMatch(/^      max_connections 100 → 150: needs a restart \(pg_settings\.context postmaster\)$/m);
    expect(plan.stdout).toMatch(/^      shared_buffers 128MB → 256MB: needs a restart \(pg_settings\.context postmaster\)$/m);
    const order = plan.stdout.split('Order of reloads, restarts and switchovers:\n')[1]!.split('\n\n')[0]!;
    // Only parameters changed: no Patroni reload first (patroni.yml differs in bootstrap.dcs only).
    expect(order).toMatch(new RegExp(`^  1\\. \\[${leaderBefore}\\] PATCH /config on the leader.*\\n  2\\. \\[${replicas[0]}\\] restart PostgreSQL \\(replica\\).*\\n  3\\. \\[${replicas[1]}\\] restart PostgreSQL \\(replica\\).*\\n  4\\. switch over from ${leaderBefore} to `));
    const json = jsonResult<{ sequence: { kind: string; hosts: string[] }[] }>((await hapg(['plan', '-i', inventory, '--json'])).stdout);
    expect(json.sequence.filter((s) => s.kind !== 'reload').map((s) => `${s.kind} ${s.hosts.join(',')}`)).toEqual([
      `patch ${leaderBefore}`,
      `restart ${replicas[0]}`,
      `restart ${replicas[1]}`,
      `switchover ${leaderBefore}`,
    ]);

    const { deploy, load, restarts } = await deployUnderLoad('load_b');
    expect(deploy.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(deploy.exitCode).toBe(0);
    // Replicas one at a time; the old leader's demotion restarts it with the new settings.
    expect(restarts.slice(0, 2)).toEqual(replicas);
    expect(restarts.slice(2)).toEqual(restarts.length === 3 ? [leaderBefore] : []);
    const after = await expectConverged('load_b', load);
    expect(leaderOf(after)).not.toEqual([leaderBefore]);
    for (const h of HOSTS) expect([await show(h, 'max_connections'), await show(h, 'shared_buffers')]).toEqual(['150', '256MB']);
  });

  it('(c) a shared-memory decrease: the leader restarts first, in place, then the replicas', async () => {
    await editInventory((c) => (c.postgres.parameters.max_connections = 120));
    const leaderBefore = leaderOf(await status())[0]!;
    const plan = await hapg(['plan', '-i', inventory]);
    expect(plan.stdout).toMatch(/^      max_connections 150 → 120: needs a restart \(pg_settings\.context postmaster\); a decrease: the leader restarts first$/m);
    expect(plan.stdout).toMatch(new RegExp(`^  2\\. \\[${leaderBefore}\\] restart PostgreSQL on the leader in place`, 'm'));
    const { deploy, load, restarts } = await deployUnderLoad('load_c');
    expect(deploy.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(deploy.exitCode).toBe(0);
    expect(restarts[0]).toBe(leaderBefore);
    expect([...restarts].sort()).toEqual(HOSTS);
    const after = await expectConverged('load_c', load);
    expect(leaderOf(after)).toEqual([leaderBefore]);
    for (const h of HOSTS) expect(await show(h, 'max_connections')).toBe('120');
  });

  it('(d) a pg_hba change: reloaded on every member, nothing restarted, no connection dropped', async () => {
    await editInventory((c) => c.postgres.hba.push({ type: 'host', database: 'app', user: 'app', address: '192.0.2.0/24', method: 'scram-sha-256' }));
    const before = await postmasters();
    const { deploy, load, restarts } = await deployUnderLoad('load_d');
    expect(deploy.exitCode).toBe(0);
    expect(restarts).toEqual([]);
    expect(load.failedAttempts).toBe(0);
    await expectConverged('load_d', load);
    expect(await postmasters()).toEqual(before);
    // Patroni applies a SIGHUP at its next loop (loop_wait); deploy waits for it, so the new
    // rule is in the file and loaded on every member as soon as deploy returns.
    for (const h of HOSTS) {
      const rules = await onHost(lab, h, `cd / && runuser -u postgres -- psql -XAtc "select count(*), bool_and(pg_conf_load_time() >= (pg_stat_file('pg_hba.conf')).modification) from pg_hba_file_rules where address = '192.0.2.0'"`);
      expect(rules.stdout.trim(), h).toBe('1|t');
    }
    expect(await postmasters()).toEqual(before);
  });

  it('(e) an HAProxy setting: graceful reload keeps the established connection, nothing restarted', async () => {
    await editInventory((c) => (c.haproxy.read_only_port = 5011));
    const before = await postmasters();
    const { deploy, load, restarts } = await deployUnderLoad('load_e');
    expect(deploy.exitCode).toBe(0);
    expect(jsonEvents(deploy.stdout).filter((e) => e.kind === 'change' && e.title === 'reload haproxy').map((e) => e.host).sort()).toEqual(HOSTS);
    expect(restarts).toEqual([]);
    expect(load.failedAttempts).toBe(0);
    await expectConverged('load_e', load);
    expect(await postmasters()).toEqual(before);
    const replicaRead = await missingRows({ ...app, port: 5011 }, 'load_e', load.acked.slice(0, 10));
    expect(replicaRead).toEqual([]);
  });

  it('(f) a member that does not come back stops the restart where it is; re-running continues from there', async () => {
    await editInventory((c) => (c.postgres.parameters.shared_buffers = '192MB'));
    const leader = leaderOf(await status())[0]!;
    const [first, second] = HOSTS.filter((h) => h !== leader) as [string, string];
    // Replicas already streaming keep streaming; a restarted one cannot log in again.
    const superuser = `cd / && runuser -u postgres -- psql -XAtc`;
    await onHost(lab, leader, `${superuser} 'alter role replicator nologin'`);
    let stoppedRun: Awaited<ReturnType<typeof hapg>>;
    try {
      stoppedRun = await hapg(['deploy', '-i', inventory, '--json', '--restart-timeout', '15']);
    } finally {
      await onHost(lab, leader, `${superuser} 'alter role replicator login'`);
    }
    expect(stoppedRun.exitCode).toBe(1);
    const error = stoppedRun.stderr.trim().split('\n').at(-1)!;
    expect(error).toMatch(new RegExp(`^hapg: rolling restart of cluster main stopped at ${first}: timed out after 15s waiting for ${first} to run and stream again`));
    expect(error).toMatch(new RegExp(`; done: nothing; left untouched: ${second}, ${leader} \\(re-running \`hapg deploy\` continues from there`));
    expect(await show(second, 'shared_buffers')).toBe('256MB');
    await healthyStatus().catch(() => undefined);

    const { deploy, load, restarts } = await deployUnderLoad('load_f');
    expect(deploy.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(deploy.exitCode).toBe(0);
    expect(restarts.slice(0, 1)).toEqual([second]);
    expect(restarts).not.toContain(first);
    await expectConverged('load_f', load);
    for (const h of HOSTS) expect(await show(h, 'shared_buffers')).toBe('192MB');
  });

  it('(g) synchronous mode with a nofailover member: the restart switches over to the replica that may lead', async () => {
    const leader = leaderOf(await status())[0]!;
    const [capable, noFailover] = HOSTS.filter((h) => h !== leader) as [string, string];
    const doc = YAML.parse(await readFile(inventory, 'utf8'));
    doc.hosts[noFailover].tags = { nofailover: true };
    doc.clusters.main.patroni = { ...doc.clusters.main.patroni, synchronous_mode: true };
    await writeFile(inventory, YAML.stringify(doc));
    const enable = await deployUnderLoad('load_g1');
    expect(enable.deploy.exitCode, enable.deploy.stderr.slice(-1000)).toBe(0);
    expect(enable.restarts).toEqual([]);
    // Patroni names its synchronous standby among the members it may fail over to only.
    const syncStandby = async () => {
      const view = await patroniGet<{ members: { name: string; role: string }[] }>(addressOf(leader), '/cluster', await caOf(inventory));
      return view.members.filter((m) => m.role === 'sync_standby').map((m) => m.name);
    };
    await eventually(`${capable} to be the synchronous standby`, async () => {
      const sync = await syncStandby();
      return sync.length === 1 && sync[0] === capable ? sync : new Error(`synchronous standby: ${sync.join(', ') || 'none'}`);
    }, 60_000);

    await editInventory((c) => (c.postgres.parameters.max_connections = 140));
    const { deploy, load, restarts } = await deployUnderLoad('load_g2');
    expect(deploy.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(deploy.exitCode).toBe(0);
    expect(restarts.slice(0, 2).sort()).toEqual([capable, noFailover].sort());
    const after = await expectConverged('load_g2', load);
    expect(leaderOf(after)).toEqual([capable]);
    for (const h of HOSTS) expect(await show(h, 'max_connections')).toBe('140');
    expect(await syncStandby()).not.toContain(noFailover);
  });
});
