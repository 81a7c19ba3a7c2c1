// Two datacenters on one lab: `main` on pg9-pg11 (dc1, its own etcd) and the standby cluster
// `dr` on pg12-pg13 (dc2, its own etcd). Under a write load that includes large out-of-line
// rows, hapg bootstraps dr as a standby without any member ever reporting the leader role,
// refuses to convert a normal cluster, rebuilds it cleanly, promotes it for disaster
// recovery, and rebuilds the old primary as a standby of the new one. Every step compares
// the data itself, not just "streaming".
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { execa } from 'execa';
import YAML from 'yaml';
import { missingRows, startWriteLoad, tableDigest, type PgTarget, type WriteLoad, type WriteLoadReport } from '../support/write-load.js';
import { withWholeLab } from './lab-lock.js';
import { RoleWatcher } from './role-watcher.js';
import { caOf, dataDirOf, etcdctlTls, etcdRootPassword, vipAddress, healthyStateOf, leaderRoleName, eventually, hapg, jsonEvents, jsonResult, onHost, patroniGet, sequenceOfRun, writeInventory } from './hapg.js';

const lab = inject('lab');
const DC1 = ['pg9', 'pg10', 'pg11'];
const DC2 = ['pg12', 'pg13'];
const MAIN_VIP = { address: vipAddress(lab, 103), interface: 'eth0', router_id: 54 };
const DR_VIP = { address: vipAddress(lab, 104), interface: 'eth0', router_id: 55 };
/** A second address of pg13: the same machine under another name. */
const ALIAS_ADDRESS = vipAddress(lab, 123);
const TABLE = 'standby_load';

let dir: string;
let hba: unknown;
const inventories: Record<'mainOnly' | 'drNormal' | 'both' | 'flipped', string> = { mainOnly: '', drNormal: '', both: '', flipped: '' };

const addressOf = (host: string) => lab.hosts.find((h) => h.name === host)!.address;
const APP = { users: { app: { options: ['LOGIN'] } }, databases: { app: { owner: 'app' } } };

function cluster(hosts: string[], vip: object, extra: { standby?: object; app?: boolean } = {}) {
  return {
    hosts,
    postgres: {
      parameters: { max_connections: 100, shared_buffers: '128MB', wal_keep_size: '512MB' },
      hba,
      ...(extra.app ? APP : {}),
    },
    haproxy: {},
    vip,
    ...(extra.standby ? { standby: extra.standby } : {}),
  };
}

/** An inventory of the scenario's hosts and etcd clusters in its directory (they share the secrets file layout). */
async function write(file: string, clusters: Record<string, unknown>): Promise<string> {
  const target = path.join(dir, file);
  await writeInventory(lab, { hosts: [...DC1, ...DC2], etcd: { dc1: { hosts: DC1 }, dc2: { hosts: ['pg12'] } }, clusters }, target);
  // The lab's hosts are all in dc1; dr's hosts are in dc2 here.
  const doc = YAML.parse(await readFile(target, 'utf8'));
  for (const h of DC2) doc.hosts[h].datacenter = 'dc2';
  await writeFile(target, YAML.stringify(doc));
  return target;
}

/** Every inventory of the scenario. */
async function writeAll(): Promise<void> {
  inventories.mainOnly = await write('main-only.yml', { main: cluster(DC1, MAIN_VIP, { app: true }) });
  inventories.drNormal = await write('dr-normal.yml', { main: cluster(DC1, MAIN_VIP, { app: true }), dr: cluster(DC2, DR_VIP) });
  inventories.both = await write('both.yml', { main: cluster(DC1, MAIN_VIP, { app: true }), dr: cluster(DC2, DR_VIP, { standby: { cluster: 'main' } }) });
  inventories.flipped = await write('flipped.yml', { main: cluster(DC1, MAIN_VIP, { standby: { cluster: 'dr' } }), dr: cluster(DC2, DR_VIP, { app: true }) });
}

const secretsPath = (name: string) => path.join(dir, '.hapg', `${name}.secrets.yml`);
/** The CA and hapg's client certificate of an inventory: both clusters (TLS, the default) trust the one CA main was deployed with. */
const TLS_FILES = ['ca.crt', 'ca.key', 'client.crt', 'client.key'];
const copyCa = async (from: string, to: string) => {
  for (const f of TLS_FILES) await copyFile(path.join(dir, '.hapg', `${from}.${f}`), path.join(dir, '.hapg', `${to}.${f}`));
};
const copySecrets = async (from: string, to: string) => {
  await copyFile(secretsPath(from), secretsPath(to));
  await copyCa(from, to);
};
/** The CA every member of the scenario trusts. */
let ca: string;

/** The app user's password, from the secrets file of an inventory (generated on first deploy). */
async function appTarget(inventory: string, host: string, port: number, clusterName: string): Promise<PgTarget> {
  const secrets = YAML.parse(await readFile(secretsPath(path.basename(inventory, '.yml')), 'utf8')) as Record<string, string>;
  const password = secrets[`clusters.${clusterName}.users.app`];
  if (!password) throw new Error(`no app password for ${clusterName} in ${inventory}'s secrets`);
  return { host, port, user: 'app', password, database: 'app' };
}

/** Waits until each standby member holds exactly the primary's rows (same digest, every payload read). */
async function expectSameData(source: PgTarget, replicas: PgTarget[], load: WriteLoadReport): Promise<{ rows: number; digest: string }> {
  expect(load.acked.length).toBeGreaterThan(50);
  expect(await missingRows(source, TABLE, load.acked)).toEqual([]);
  const want = await tableDigest(source, TABLE);
  for (const r of replicas) {
    await eventually(`${r.host} to hold the primary's ${want.rows} rows`, async () => {
      const got = await tableDigest(r, TABLE);
      return got.digest === want.digest || new Error(`${got.rows} rows, digest ${got.digest} (want ${want.rows}, ${want.digest})`);
    }, 60_000);
    expect(await missingRows(r, TABLE, load.acked)).toEqual([]);
  }
  return want;
}

async function sysid(host: string): Promise<string> {
  const r = await onHost(lab, host, `runuser -u postgres -- psql -X -A -t -c 'select system_identifier from pg_control_system()'`);
  return r.stdout.trim();
}

async function largeRows(target: PgTarget): Promise<number> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ ...target, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(`select count(*)::text as n from ${TABLE} where length(payload) >= 8000`);
    return Number(r.rows[0]!.n);
  } finally {
    await c.end();
  }
}

async function run(args: string[]) {
  const r = await hapg(args);
  if (r.exitCode !== 0) throw new Error(`hapg ${args.join(' ')} exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  return r;
}

interface StatusJson {
  clusters: { name: string; members: { name: string; role: string; state: string; timeline?: number; pendingRestart: boolean }[] }[];
}

/** `hapg status` of the two-cluster inventory once healthy (a cascade replica may lag right after a load). */
async function status(): Promise<StatusJson> {
  const r = await eventually('status to report both clusters healthy', async () => {
    const run = await hapg(['status', '-i', inventories.both, '--json']);
    return run.exitCode === 0 ? run : new Error(run.stdout.slice(-600));
  });
  return jsonResult<StatusJson>(r.stdout);
}

/** main's current leader, from its members' REST APIs (switchovers move it). */
async function mainLeader(): Promise<string> {
  return eventually('main to have a running leader', async () => {
    for (const h of DC1) {
      const s = await patroniGet<{ role?: string; state?: string }>(addressOf(h), '/patroni', ca).catch(() => ({}) as { role?: string; state?: string });
      if (s.role === leaderRoleName(lab) && s.state === 'running') return h;
    }
    return undefined;
  });
}

const mainVip = async (inv: string) => appTarget(inv, MAIN_VIP.address, 5000, 'main');
const member = (target: PgTarget, host: string): PgTarget => ({ ...target, host: addressOf(host), port: 5432 });

beforeAll(async () => {
  const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8'));
  hba = base.clusters.main.postgres.hba;
  dir = path.dirname(await writeInventory(lab, { hosts: [], etcd: {}, clusters: {} }));
  await writeAll();
  // main first, on its own: the standby is then bootstrapped while main takes writes.
  await run(['deploy', '-i', inventories.mainOnly]);
  ca = await caOf(inventories.mainOnly);
});

describe('standby cluster in a second datacenter', () => {
  let load: WriteLoad | undefined;
  // A case that fails mid-load stops its writer here, so the next case starts on a quiet cluster.
  afterEach(async () => {
    await load?.stop().catch(() => undefined);
    load = undefined;
  });

  it('bootstraps dr from main under write load: never a leader, same system identifier, same data incl. large rows', async () => {
    // The secrets file of the two-cluster inventory starts as main-only's (same generated passwords).
    await copySecrets('main-only', 'both');
    const vipTarget = await mainVip(inventories.both);
    load = await startWriteLoad(vipTarget, { table: TABLE, largeEvery: 5, largeBytes: 8192, intervalMs: 5 });
    const planned = sequenceOfRun((await hapg(['plan', '-i', inventories.both, '--json'])).stdout);
    // The standby leader alone first, then its cascade replica, after main got dr's slot.
    expect(planned.slice(-2)).toEqual(['start patroni pg12', 'start patroni pg13']);
    expect(planned).toContain('patch pg9');
    const watcher = new RoleWatcher(lab, DC2, true, ca);
    const deploy = await hapg(['deploy', '-i', inventories.both, '--json']);
    const watched = await watcher.stop();
    const report = await load.stop();
    load = undefined;
    expect(deploy.exitCode, deploy.stderr).toBe(0);
    expect(sequenceOfRun(deploy.stdout)).toEqual(planned);
    const said = jsonEvents(deploy.stdout)
      .map((e) => ('message' in e ? String(e.message) : 'status' in e ? `${e.title}: ${String(e.status)}` : ''))
      .join('\n');
    expect(said).toMatch(/standby cluster dr: no member reported the leader role \(\d+ polls/);
    for (const h of DC2) expect(said).toMatch(new RegExp(`${h} to return the check row written on pg9, its 8192-byte out-of-line value intact: intact`));
    const drReport = jsonResult<{ clusters: { name: string; leader: string; vipHolder: string; standby?: { source: string } }[] }>(deploy.stdout).clusters.find((c) => c.name === 'dr');
    expect(drReport).toMatchObject({ leader: 'pg12', vipHolder: expect.stringMatching(/^pg1[23]$/), standby: { source: 'main' } });
    expect(watched.polls).toBeGreaterThan(20);
    expect(watched.leaders).toEqual([]);
    expect(watched.roles).toEqual(expect.arrayContaining(['pg12:standby_leader', 'pg13:replica']));

    const leader = member(vipTarget, 'pg9');
    const want = await expectSameData(leader, DC2.map((h) => member(vipTarget, h)), report);
    expect(await largeRows(member(vipTarget, 'pg13'))).toBeGreaterThan(10);
    expect(want.rows).toBeGreaterThanOrEqual(report.acked.length);
    const id = await sysid('pg9');
    expect(id).toMatch(/^\d+$/);
    for (const h of DC2) expect(await sysid(h)).toBe(id);

    // The cross-datacenter stream is TLS, verified by name against the inventory's CA: the
    // standby leader's walreceiver asks verify-full, and main's leader sees the session encrypted.
    const receiver = await onHost(lab, 'pg12', `runuser -u postgres -- psql -X -A -t -c "select status, conninfo from pg_stat_wal_receiver"`);
    expect(receiver.stdout).toMatch(/^streaming\|.*sslmode=verify-full/m);
    expect(receiver.stdout).toMatch(/sslrootcert=\/etc\/hapg\/tls\/ca\.crt/);
    const sender = await onHost(lab, 'pg9', `runuser -u postgres -- psql -X -A -t -c "select r.application_name, s.ssl, s.version from pg_stat_replication r join pg_stat_ssl s using (pid) where r.application_name = 'pg12'"`);
    expect(sender.stdout.trim()).toMatch(/^pg12\|t\|TLSv1\.[23]$/);

    // Healthy once the cascade replica has replayed what the load wrote.
    const status = await eventually('status to report both clusters healthy', async () => {
      const r = await hapg(['status', '-i', inventories.both, '--json']);
      return r.exitCode === 0 ? r : new Error(r.stdout.slice(-600));
    });
    const dr = jsonResult<{ clusters: { name: string; standby?: { standbyLeader: string; receiver?: { status: string }; slot?: { name: string; active: boolean; lagBytes: number | null } } }[] }>(status.stdout).clusters.find((c) => c.name === 'dr')!;
    expect(dr.standby).toMatchObject({ standbyLeader: 'pg12', receiver: { status: 'streaming' }, slot: { name: 'standby_dr', active: true } });
    expect(dr.standby!.slot!.lagBytes).toEqual(expect.any(Number));

    const again = await run(['deploy', '-i', inventories.both, '--json']);
    expect(jsonResult<{ changes: number }>(again.stdout).changes).toBe(0);
  });

  it('rolls max_connections up on dr before main, and down on main before dr, without stopping replay', async () => {
    const setMax = async (value: number) => {
      const doc = YAML.parse(await readFile(inventories.both, 'utf8'));
      // dr sets its own parameters here, so it follows main explicitly.
      doc.clusters.main.postgres.parameters.max_connections = value;
      doc.clusters.dr.postgres.parameters.max_connections = value;
      await writeFile(inventories.both, YAML.stringify(doc));
    };
    const showMax = async (host: string) =>
      (await onHost(lab, host, `runuser -u postgres -- psql -X -A -t -c 'show max_connections'`)).stdout.trim();
    const vipTarget = await mainVip(inventories.both);
    const changed = (events: ReturnType<typeof jsonEvents>, title: RegExp, hosts: string[]) =>
      events.findIndex((e) => e.kind === 'change' && title.test(e.title ?? '') && hosts.includes(e.host ?? ''));
    for (const value of [150, 100]) {
      await setMax(value);
      const planned = sequenceOfRun((await hapg(['plan', '-i', inventories.both, '--json'])).stdout);
      const leaderBefore = (await status()).clusters.find((c) => c.name === 'main')!.members.find((m) => m.role === 'leader')!.name;
      load = await startWriteLoad(vipTarget, { table: TABLE, largeEvery: 5, largeBytes: 8192, intervalMs: 5 });
      const deploy = await hapg(['deploy', '-i', inventories.both, '--json']);
      const report = await load.stop();
      load = undefined;
      expect(deploy.exitCode, deploy.stderr.slice(-2000)).toBe(0);
      expect(sequenceOfRun(deploy.stdout)).toEqual(planned);
      const events = jsonEvents(deploy.stdout);
      const restart = /^restart PostgreSQL \(pending restart\)$/;
      if (value === 150) {
        // A raise reaches the standby first: its PATCH and restarts come before main's.
        expect(changed(events, /^PATCH \/config/, DC2)).toBeGreaterThanOrEqual(0);
        expect(changed(events, /^PATCH \/config/, DC2)).toBeLessThan(changed(events, /^PATCH \/config/, DC1));
        expect(changed(events, restart, DC2)).toBeLessThan(changed(events, restart, DC1));
      } else {
        // A decrease goes source first, its leader in place before anything else.
        expect(events[changed(events, restart, DC1)]!.host).toBe(leaderBefore);
        expect(changed(events, restart, DC1)).toBeLessThan(changed(events, restart, DC2));
      }
      const leader = (await status()).clusters.find((c) => c.name === 'main')!.members.find((m) => m.role === 'leader')!.name;
      await expectSameData(member(vipTarget, leader), [...DC1, ...DC2].filter((h) => h !== leader).map((h) => member(vipTarget, h)), report);
      for (const h of [...DC1, ...DC2]) expect(await showMax(h)).toBe(String(value));
      const after = await status();
      for (const c of after.clusters) {
        expect(c.members.filter((m) => m.pendingRestart || m.state !== healthyStateOf(lab, m.role))).toEqual([]);
        expect(new Set(c.members.map((m) => m.timeline)).size).toBe(1);
      }
    }
  });

  it('refuses to turn a normal cluster into a standby; standby rebuild does it cleanly under load', async () => {
    // dr as a normal cluster: back to bare PostgreSQL hosts, then deployed on its own.
    for (const h of DC2) await onHost(lab, h, `systemctl stop patroni && rm -rf ${dataDirOf(lab, 'dr')}`);
    const deleted = await onHost(lab, 'pg12', etcdctlTls('del --prefix /service/dr/'), { stdin: await etcdRootPassword(inventories.both, 'dc2') });
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    await copySecrets('main-only', 'dr-normal');
    // etcd dc2 already has dr's Patroni user (made by the two-cluster deploy): dr keeps its password.
    const drNormalSecrets = YAML.parse(await readFile(secretsPath('dr-normal'), 'utf8')) as Record<string, string>;
    drNormalSecrets['clusters.dr.etcd'] = (YAML.parse(await readFile(secretsPath('both'), 'utf8')) as Record<string, string>)['clusters.dr.etcd']!;
    await writeFile(secretsPath('dr-normal'), YAML.stringify(drNormalSecrets), { mode: 0o600 });
    await run(['deploy', '-i', inventories.drNormal]);
    // main still keeps dr's slot (hapg removes no DCS key on its own): status points it out.
    const withoutStandby = await hapg(['status', '-i', inventories.drNormal, '--json']);
    const mainNotes = jsonResult<{ clusters: { name: string; notes: string[] }[] }>(withoutStandby.stdout).clusters.find((c) => c.name === 'main')!.notes;
    expect(mainNotes).toEqual([expect.stringMatching(/^slot standby_dr on pg\d+ is inactive and not in the inventory; it holds back \d+ bytes of WAL/)]);
    const normalId = await sysid('pg12');
    expect(normalId).not.toBe(await sysid('pg9'));
    const before = (await onHost(lab, 'pg12', `systemctl show -p MainPID --value patroni; head -1 ${dataDirOf(lab, 'dr')}/postmaster.pid`)).stdout;

    const refused = await hapg(['deploy', '-i', inventories.both]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim().split('\n').at(-1)).toMatch(/^hapg: standby cluster dr already exists in etcd scope dr as a different cluster .*hapg standby rebuild -i \S+ --cluster dr --yes-wipe-data/);
    expect((await onHost(lab, 'pg12', `systemctl show -p MainPID --value patroni; head -1 ${dataDirOf(lab, 'dr')}/postmaster.pid`)).stdout).toBe(before);
    expect(await sysid('pg12')).toBe(normalId);

    const noFlag = await hapg(['standby', 'rebuild', '-i', inventories.both, '--cluster', 'dr']);
    expect(noFlag.exitCode).toBe(2);
    expect(noFlag.stderr).toMatch(/add --yes-wipe-data/);
    const notStandby = await hapg(['standby', 'rebuild', '-i', inventories.both, '--cluster', 'main', '--yes-wipe-data']);
    expect(notStandby.exitCode).toBe(2);
    expect(notStandby.stderr).toMatch(/does not declare it a standby cluster/);

    // An inventory that names dr's hosts as members of another standby cluster: they prove they are not.
    const impostor = await write('impostor.yml', { main: cluster(DC1, MAIN_VIP, { app: true }), drx: cluster(DC2, DR_VIP, { standby: { cluster: 'main' } }) });
    await copySecrets('both', 'impostor');
    const wrongScope = await hapg(['standby', 'rebuild', '-i', impostor, '--cluster', 'drx', '--yes-wipe-data']);
    expect(wrongScope.exitCode).toBe(1);
    expect(wrongScope.stderr.trim().split('\n').at(-1)).toMatch(/^hapg: pg12 belongs to Patroni scope dr, not drx: refusing to stop or wipe it; nothing was changed/);
    expect((await onHost(lab, 'pg12', `systemctl show -p MainPID --value patroni; head -1 ${dataDirOf(lab, 'dr')}/postmaster.pid`)).stdout).toBe(before);

    // pg13 reached a second time under another name and address: one machine, refused before anything stops.
    await onHost(lab, 'pg13', `ip addr add ${ALIAS_ADDRESS}/24 dev eth0`);
    try {
      const alias = await write('alias.yml', { main: cluster(DC1, MAIN_VIP, { app: true }), dr: cluster(['pg12', 'pgalias'], DR_VIP, { standby: { cluster: 'main' } }) });
      const doc = YAML.parse(await readFile(alias, 'utf8'));
      doc.hosts.pgalias = { ...doc.hosts.pg13, address: ALIAS_ADDRESS };
      await writeFile(alias, YAML.stringify(doc));
      await copySecrets('both', 'alias');
      const aliased = await hapg(['standby', 'rebuild', '-i', alias, '--cluster', 'dr', '--yes-wipe-data', '--accept-new-host-keys']);
      expect(aliased.exitCode).toBe(1);
      expect(aliased.stderr.trim().split('\n').at(-1)).toMatch(/^hapg: pg13: preflight machine: the same machine as pgalias \(machine-id \w+, same network interfaces\): each inventory host must be a machine of its own/);
      expect((await onHost(lab, 'pg12', `systemctl show -p MainPID --value patroni; head -1 ${dataDirOf(lab, 'dr')}/postmaster.pid`)).stdout).toBe(before);
    } finally {
      await onHost(lab, 'pg13', `ip addr del ${ALIAS_ADDRESS}/24 dev eth0`);
    }

    const vipTarget = await mainVip(inventories.both);
    load = await startWriteLoad(vipTarget, { table: TABLE, largeEvery: 5, largeBytes: 8192, intervalMs: 5 });
    const watcher = new RoleWatcher(lab, DC2, false, ca);
    const rebuild = await hapg(['standby', 'rebuild', '-i', inventories.both, '--cluster', 'dr', '--yes-wipe-data']);
    const watched = await watcher.stop();
    const report = await load.stop();
    load = undefined;
    expect(rebuild.exitCode, rebuild.stderr).toBe(0);
    expect(rebuild.stdout).toMatch(/cluster dr: rebuilt as a standby of main/);
    // The old data was moved aside, never deleted; hapg said where.
    expect(rebuild.stderr).toMatch(new RegExp(`the data of pg12, pg13 is moved aside to ${dataDirOf(lab, 'dr')}\\.hapg-wiped-\\d{8}T\\d{6}Z`));
    expect((await onHost(lab, 'pg12', `ls -d ${dataDirOf(lab, 'dr')}.hapg-wiped-*/PG_VERSION | wc -l`)).stdout.trim()).toBe('1');
    expect(watched.armed).toBe(true);
    expect(watched.leaders).toEqual([]);
    await expectSameData(member(vipTarget, await mainLeader()), DC2.map((h) => member(vipTarget, h)), report);
    for (const h of DC2) expect(await sysid(h)).toBe(await sysid('pg9'));
  });

  it('a cut between the datacenters: dr serves reads and never promotes, status names the cut link, promote refuses; healed, dr catches up', async () => {
    const vipTarget = await mainVip(inventories.both);
    load = await startWriteLoad(vipTarget, { table: TABLE, largeEvery: 5, largeBytes: 8192, intervalMs: 5 });
    await new Promise((r) => setTimeout(r, 1000));
    const watcher = new RoleWatcher(lab, DC2, true, ca);
    const lab_ = (args: string[]) => execa('node', [path.resolve('bin/hapg.js'), 'lab', ...args]);
    let cutAt = 0;
    let namedAfterMs = 0;
    let named = '';
    // `lab up` (lab.test) heals partitions: the whole lab is this test's while the cut lasts.
    await withWholeLab(lab, async () => {
      cutAt = Date.now();
      await lab_(['partition', DC1.join(','), DC2.join(',')]);
      try {
        // The walreceiver's TCP connection survives a silent cut until wal_receiver_timeout; status
        // names the link from the silence itself.
        const cut = await eventually('status to name the cut link to main', async () => {
          const r = await hapg(['status', '-i', inventories.both, '--json']);
          const s = jsonResult<{ healthy: boolean; clusters: { name: string; problems: string[] }[] }>(r.stdout);
          const dr = s.clusters.find((c) => c.name === 'dr')!;
          return dr.problems.some((p) => /^standby leader pg12 (has heard nothing from main for [\d.]+ s|is not streaming from main)/.test(p)) ? s : new Error(dr.problems.join('; ') || 'dr healthy');
        }, 90_000);
        namedAfterMs = Date.now() - cutAt;
        named = cut.clusters.find((c) => c.name === 'dr')!.problems.find((p) => p.startsWith('standby leader pg12'))!;
        expect(cut.healthy).toBe(false);
        expect(cut.clusters.find((c) => c.name === 'main')!.problems).toEqual([]);
        // main keeps taking writes; dr keeps answering reads from what it has.
        const acked = load!.ackedCount();
        await eventually('main to take writes during the cut', async () => (load!.ackedCount() > acked + 20 ? true : new Error(`${load!.ackedCount() - acked} since`)));
        expect((await tableDigest(member(vipTarget, 'pg12'), TABLE)).rows).toBeGreaterThan(0);
        expect((await tableDigest(member(vipTarget, 'pg13'), TABLE)).rows).toBeGreaterThan(0);
        // hapg reaches both sides: main's leader runs, so promoting dr would make two primaries.
        const refused = await hapg(['standby', 'promote', '-i', inventories.both, '--cluster', 'dr']);
        expect(refused.exitCode).toBe(1);
        expect(refused.stderr).toMatch(/source cluster main is reachable and its leader pg\d+ runs: promoting dr now would leave two primaries/);
      } finally {
        for (const h of DC2) await lab_(['heal', h]);
      }
    });
    const report = await load.stop();
    load = undefined;
    const watched = await watcher.stop();
    expect(watched.leaders).toEqual([]);
    expect(watched.roles).toEqual(expect.arrayContaining(['pg12:standby_leader', 'pg13:replica']));
    const caughtUpFrom = Date.now();
    await expectSameData(member(vipTarget, await mainLeader()), DC2.map((h) => member(vipTarget, h)), report);
    process.stderr.write(
      `standby e2e partition: cut named by status after ${namedAfterMs} ms ("${named}"), partition ${caughtUpFrom - cutAt} ms, dr caught up ${Date.now() - caughtUpFrom} ms after the heal, ${report.acked.length} acknowledged, 0 lost\n`,
    );
    await status();
  });

  it('promotes dr once main is down, takes writes, then rebuilds main as a standby of dr', async () => {
    const refused = await hapg(['standby', 'promote', '-i', inventories.both, '--cluster', 'dr']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/source cluster main is reachable and its leader pg\d+ runs: promoting dr now would leave two primaries/);
    const drRole = async () => (await patroniGet<{ role: string }>(addressOf('pg12'), '/patroni', ca)).role;
    expect(await drRole()).toBe('standby_leader');

    // The disaster: main's datacenter is gone (Patroni stopped on every member).
    // No writer runs now; dr has replayed all of main before main goes (with the cross-datacenter
    // stream asynchronous, what dr had not received when main stopped is the disaster's loss).
    const vipTarget = await mainVip(inventories.both);
    const want = await tableDigest(member(vipTarget, await mainLeader()), TABLE);
    await eventually(`pg12 to hold main's ${want.rows} rows before main goes`, async () => {
      const got = await tableDigest(member(vipTarget, 'pg12'), TABLE);
      return got.digest === want.digest || new Error(`${got.rows} rows`);
    }, 60_000);
    const acked = want.rows;
    await Promise.all(DC1.map((h) => onHost(lab, h, 'systemctl stop patroni')));
    // A source member out of reach may still run a primary: promotion refuses without --force.
    await execa('node', [path.resolve('bin/hapg.js'), 'lab', 'isolate', 'pg11']);
    try {
      const unreachable = await hapg(['standby', 'promote', '-i', inventories.both, '--cluster', 'dr']);
      expect(unreachable.exitCode).toBe(1);
      expect(unreachable.stderr.trim().split('\n').at(-1)).toMatch(/^hapg: source cluster main: pg11 cannot be reached and may still run a primary: promoting dr now risks two primaries \(split brain\); nothing was changed/);
    } finally {
      await execa('node', [path.resolve('bin/hapg.js'), 'lab', 'heal', 'pg11']);
    }
    expect(await drRole()).toBe('standby_leader');
    const promoted = await run(['standby', 'promote', '-i', inventories.both, '--cluster', 'dr']);
    expect(promoted.stdout).toMatch(/cluster dr: promoted; leader pg12 on timeline \d+ takes writes/);
    // The source is fenced: Patroni stopped and disabled on every member, so none comes back as a primary.
    // main's leader key expired with its Patroni; pg_control still names the member that ran as the primary.
    expect(promoted.stdout).toMatch(/source main: last known leader pg(9|10|11) \(its pg_control: it ran as the primary\); pg12 was set to stream through \S+ \(not connected\) and had replayed up to [0-9A-F]+\/[0-9A-F]+; fenced \(Patroni stopped and disabled\): pg9, pg10, pg11/);
    for (const h of DC1) expect((await onHost(lab, h, 'systemctl is-enabled patroni || true')).stdout.trim()).toBe('disabled');
    expect(promoted.stdout).toMatch(/remove clusters\.dr\.standby/);
    expect(await drRole()).toBe(leaderRoleName(lab));

    // Writes go to dr now, through its VIP; nothing main acknowledged is missing.
    // The operator carries main's passwords over to dr, now the primary (the roles are the same).
    const secrets = YAML.parse(await readFile(secretsPath('both'), 'utf8')) as Record<string, string>;
    for (const key of ['superuser', 'replication', 'rewind', 'check', 'users.app']) secrets[`clusters.dr.${key}`] = secrets[`clusters.main.${key}`]!;
    await writeFile(secretsPath('flipped'), YAML.stringify(secrets), { mode: 0o600 });
    await copyCa('both', 'flipped');
    const drVip: PgTarget = { ...vipTarget, host: DR_VIP.address };
    expect((await tableDigest(drVip, TABLE)).rows).toBeGreaterThanOrEqual(acked);

    // The inventory now says dr is the primary and main its standby: deploy refuses main as it is.
    const flippedRefused = await hapg(['deploy', '-i', inventories.flipped]);
    expect(flippedRefused.exitCode).toBe(1);
    expect(flippedRefused.stderr).toMatch(/cluster main is a primary cluster .*but the inventory declares it a standby of dr/);

    load = await startWriteLoad(drVip, { table: TABLE, largeEvery: 5, largeBytes: 8192, intervalMs: 5 });
    const watcher = new RoleWatcher(lab, DC1, true, ca);
    const rebuild = await hapg(['standby', 'rebuild', '-i', inventories.flipped, '--cluster', 'main', '--yes-wipe-data']);
    const watched = await watcher.stop();
    const report = await load.stop();
    load = undefined;
    expect(rebuild.exitCode, rebuild.stderr).toBe(0);
    expect(watched.leaders).toEqual([]);
    expect(watched.roles).toEqual(expect.arrayContaining(['pg9:standby_leader']));
    await expectSameData(member(drVip, 'pg12'), DC1.map((h) => member(drVip, h)), report);
    for (const h of DC1) expect(await sysid(h)).toBe(await sysid('pg12'));
  });
});
