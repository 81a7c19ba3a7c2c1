// Day-2 membership changes on pg35-pg40, one deployment shared by the file: a Patroni cluster
// on pg35-pg37 (etcd on the same hosts, HAProxy and a VIP on pg40 and pg38) whose etcd cluster
// grows to five members (pg38, pg39 join as learners) and shrinks back to three (pg37 and pg38
// leave) while a client writes through the VIP and the test polls every etcd member's /health
// and Patroni's leader key. Quorum is never lost, the leader key never goes away, no
// acknowledged row is lost, no PostgreSQL restarts, and a re-deploy changes nothing. Then the
// cluster's leader leaves the cluster (3 → 2): switchover first, its slot gone, HAProxy on pg40
// left with two backends, the other members not restarted. Then pg39's power is cut for good
// and pg38 replaces its etcd member; the replica's host is replaced by a fresh one under its
// name (`lab rebuild`: a new disk) and deploy installs it and re-clones it on its old slot; the
// VIP's holder leaves the HAProxy hosts and the VIP stays up on the other. Last, a one-member
// standby cluster of main on pg39 is shut down and taken out of the inventory: its slot on main
// is kept and warned about (plan, deploy, status) until `deploy --prune` drops it, and the WAL
// it held back is released.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { missingRows, startWriteLoad, type PgTarget, type WriteLoadReport } from '../support/write-load.js';
import { withWholeLab } from './lab-lock.js';
import { addressOfHost, dataDirOf, etcdGateway, eventually, hapg, healthyStateOf, jsonEvents, jsonResult, onHost, pgMajor, vipAddress, writeInventory } from './hapg.js';

const lab = inject('lab');
const PG = ['pg35', 'pg36', 'pg37'];
const GROWN = [...PG, 'pg38', 'pg39'];
const SHRUNK = ['pg35', 'pg36', 'pg39'];
const ALL = [...GROWN, 'pg40'];
const VIP = { address: vipAddress(lab, 110), interface: 'eth0', router_id: 70 };
const LEADER_KEY = '/service/main/leader';
let inventory: string;
let app: PgTarget;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const BIN = path.resolve(import.meta.dirname, '../../bin/hapg.js');
const labCommand = (args: string[]) => execa('node', [BIN, 'lab', ...args], { reject: false, env: { NO_COLOR: '1' } });

/** etcd's gateway as hapg reaches it (TLS, client certificate, root login): made once the inventory is written. */
let gateway: Awaited<ReturnType<typeof etcdGateway>> | undefined;

async function etcdPost<T>(host: string, urlPath: string, body: unknown): Promise<T> {
  gateway ??= await etcdGateway(inventory, 'dc1');
  return gateway.post<T>(addressOfHost(lab, host), urlPath, body);
}

async function etcdHealthy(host: string): Promise<boolean> {
  try {
    gateway ??= await etcdGateway(inventory, 'dc1');
    return await gateway.healthy(addressOfHost(lab, host));
  } catch {
    return false;
  }
}

interface Member { name: string; isLearner?: boolean; peerURLs?: string[] }

async function memberList(host: string): Promise<Member[]> {
  return (await etcdPost<{ members: Member[] }>(host, '/v3/cluster/member/list', {})).members;
}

async function leaderKey(host: string): Promise<string | undefined> {
  const r = await etcdPost<{ kvs?: { value: string }[] }>(host, '/v3/kv/range', { key: b64(LEADER_KEY) });
  return r.kvs?.[0] ? Buffer.from(r.kvs[0].value, 'base64').toString() : undefined;
}

/**
 * Polls every host that may run a member (every 250 ms): which members answer /health healthy,
 * and Patroni's leader key as a healthy member reads it. A sample with no healthy member, or
 * none holding a majority of the member list, is quorum lost.
 */
function startEtcdMonitor(hosts: readonly string[]) {
  const samples: { at: number; healthy: string[]; members: number; leader: string | undefined | 'unread' }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      const health = await Promise.all(hosts.map(async (h) => [h, await etcdHealthy(h)] as const));
      const healthy = health.filter(([, ok]) => ok).map(([h]) => h);
      let members = 0;
      let leader: string | undefined | 'unread' = 'unread';
      for (const h of healthy) {
        try {
          members = (await memberList(h)).filter((m) => !m.isLearner).length;
          leader = await leaderKey(h);
          break;
        } catch {
          /* the next healthy member */
        }
      }
      samples.push({ at, healthy, members, leader });
      await new Promise((r) => setTimeout(r, Math.max(0, 250 - (Date.now() - at))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function status() {
  return jsonResult<{ healthy: boolean; clusters: { members: { name: string; role: string; state: string; timeline?: number }[]; problems: string[] }[] }>(
    (await hapg(['status', '-i', inventory, '--json'])).stdout,
  );
}

/** Each PostgreSQL member's postmaster: PID and start time. */
async function postmasters(hosts: readonly string[] = PG): Promise<string[]> {
  return Promise.all(hosts.map(async (h) => `${h} ${(await onHost(lab, h, `sed -n "1p;3p" ${dataDirOf(lab, 'main')}/postmaster.pid`)).stdout.replace(/\n/g, ' ').trim()}`));
}

async function setClusterHosts(hosts: string[]): Promise<void> {
  const doc = YAML.parse(await readFile(inventory, 'utf8'));
  doc.clusters.main.hosts = hosts;
  await writeFile(inventory, YAML.stringify(doc));
}

async function setEtcdHosts(hosts: string[]): Promise<void> {
  const doc = YAML.parse(await readFile(inventory, 'utf8'));
  doc.etcd.dc1.hosts = hosts;
  await writeFile(inventory, YAML.stringify(doc));
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('hapg:'));

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  seconds: number;
  load: WriteLoadReport;
  samples: Awaited<ReturnType<ReturnType<typeof startEtcdMonitor>['stop']>>;
}

/** deploy while the client writes and (unless etcdHosts is null) the monitor polls etcd. */
async function deployUnderLoad(table: string, flags: string[] = [], etcdHosts: readonly string[] | null = GROWN): Promise<Run> {
  const load = await startWriteLoad(app, { table, intervalMs: 10 });
  const monitor = etcdHosts ? startEtcdMonitor(etcdHosts) : undefined;
  await new Promise((r) => setTimeout(r, 1000));
  const started = Date.now();
  const r = await hapg(['deploy', '-i', inventory, '--json', ...flags]);
  const seconds = (Date.now() - started) / 1000;
  await new Promise((r2) => setTimeout(r2, 1000));
  const samples = monitor ? await monitor.stop() : [];
  const report = await load.stop();
  process.stderr.write(
    `membership e2e ${table}: deploy ${seconds.toFixed(1)} s (exit ${r.exitCode}), ${report.acked.length} rows acknowledged, ${report.failedAttempts} failed attempts, longest write gap ${report.longestGapMs} ms${monitor ? `, ${samples.length} etcd samples` : ''}\n`,
  );
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, seconds, load: report, samples };
}

/**
 * Quorum never lost, the leader key always there and never changed, no acknowledged row lost.
 * A handed-over raft leadership (the leaving leader's, before its removal) leaves the cluster
 * without a leader for a few milliseconds, which one sample may catch: quorum counts as lost
 * only when two samples in a row (over 250 ms) see no healthy majority.
 */
async function expectSafe(run: Run, table: string, leaderBefore: string): Promise<void> {
  expect(run.samples.length).toBeGreaterThan(20);
  const noMajority = (s: Run['samples'][number]) => s.healthy.length === 0 || s.healthy.length < Math.floor(s.members / 2) + 1;
  const blips = run.samples.filter(noMajority);
  if (blips.length) process.stderr.write(`membership e2e ${table}: samples without a healthy majority: ${blips.map((s) => new Date(s.at).toISOString()).join(', ')}\n`);
  const lost = run.samples.filter((s, i) => i > 0 && noMajority(s) && noMajority(run.samples[i - 1]!));
  expect(lost.map((s) => `${new Date(s.at).toISOString()}: healthy ${s.healthy.join(',') || 'none'} of ${s.members}`)).toEqual([]);
  expect(run.samples.filter((s) => s.leader !== 'unread').length).toBeGreaterThan(20);
  expect([...new Set(run.samples.filter((s) => s.leader !== 'unread').map((s) => s.leader))]).toEqual([leaderBefore]);
  expect(run.load.acked.length).toBeGreaterThan(100);
  const leader = (await status()).clusters[0]!.members.find((m) => m.role === 'leader')!.name;
  expect(await missingRows({ ...app, host: addressOfHost(lab, leader), port: 5432 }, table, run.load.acked)).toEqual([]);
}

beforeAll(async () => {
  const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8'));
  inventory = await writeInventory(lab, {
    hosts: ALL,
    etcd: { dc1: { hosts: PG } },
    clusters: {
      main: {
        hosts: PG,
        postgres: { hba: base.clusters.main.postgres.hba, users: { app: { options: ['LOGIN'] } }, databases: { app: { owner: 'app' } } },
        // HAProxy and the VIP on pg40 and pg38: PostgreSQL hosts can leave without taking them along.
        haproxy: { hosts: ['pg40', 'pg38'] },
        vip: VIP,
      },
    },
  });
  const r = await hapg(['deploy', '-i', inventory]);
  if (r.exitCode !== 0) throw new Error(`initial deploy failed: ${errorLines(r.stderr).join(' ') || r.stderr.slice(-500)}`);
  const secrets = YAML.parse(await readFile(path.join(path.dirname(inventory), '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
  app = { host: VIP.address, port: 5000, user: 'app', password: secrets['clusters.main.users.app']!, database: 'app' };
});

describe('etcd membership under write load', () => {
  it('grows 3 → 5: plan shows each learner step; deploy adds them one at a time, quorum and leader key kept, nothing restarts', async () => {
    await setEtcdHosts(GROWN);
    const plan = await hapg(['plan', '-i', inventory]);
    expect(errorLines(plan.stderr)).toEqual([]);
    for (const h of ['pg38', 'pg39']) {
      expect(plan.stdout).toContain(`add ${h} to etcd cluster dc1 as a learner`);
      expect(plan.stdout).toContain(`promote learner ${h} to a voting member of etcd cluster dc1`);
    }
    expect(plan.stdout.indexOf('promote learner pg38')).toBeLessThan(plan.stdout.indexOf('add pg39 to etcd cluster dc1 as a learner'));
    const leaderBefore = (await leaderKey('pg35'))!;
    const pids = await postmasters();

    const run = await deployUnderLoad('grow');
    expect(errorLines(run.stderr)).toEqual([]);
    expect(run.exitCode).toBe(0);
    await expectSafe(run, 'grow', leaderBefore);
    const members = await memberList('pg35');
    expect(members.map((m) => m.name).sort()).toEqual(GROWN);
    expect(members.filter((m) => m.isLearner)).toEqual([]);
    for (const h of GROWN) expect(await etcdHealthy(h)).toBe(true);
    // The joined members started with initial-cluster-state existing; the old ones' files kept their first-start lines.
    expect((await onHost(lab, 'pg39', 'grep ^ETCD_INITIAL_CLUSTER_STATE= /etc/default/etcd')).stdout.trim()).toBe('ETCD_INITIAL_CLUSTER_STATE="existing"');
    expect((await onHost(lab, 'pg35', 'grep ^ETCD_INITIAL_CLUSTER_STATE= /etc/default/etcd')).stdout.trim()).toBe('ETCD_INITIAL_CLUSTER_STATE="new"');
    // Patroni's endpoint list names all five.
    const patroniYml = (await onHost(lab, 'pg36', 'cat /etc/patroni/patroni.yml')).stdout;
    for (const h of GROWN) expect(patroniYml).toContain(addressOfHost(lab, h));
    expect(await postmasters()).toEqual(pids);
  });

  it('a re-deploy of the grown cluster changes nothing', async () => {
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => `${e.host}: ${e.title}`)).toEqual([]);
  });

  it('refuses to leave 2 members without --allow-even, changing nothing', async () => {
    await setEtcdHosts(['pg35', 'pg36']);
    const r = await hapg(['plan', '-i', inventory]);
    expect(r.exitCode).not.toBe(0);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^hapg: etcd cluster dc1 would end with 2 members: /)]);
    expect((await memberList('pg35')).length).toBe(5);
  });

  it('shrinks 5 → 3: clients first, each member removed with quorum checked, stopped, data moved aside', async () => {
    await setEtcdHosts(SHRUNK);
    const plan = await hapg(['plan', '-i', inventory]);
    expect(errorLines(plan.stderr)).toEqual([]);
    for (const h of ['pg37', 'pg38']) expect(plan.stdout).toMatch(new RegExp(`remove member ${h} from etcd cluster dc1`));
    // Patroni's endpoint lists change (reload) before the first member leaves.
    expect(plan.stdout.indexOf('patroni')).toBeLessThan(plan.stdout.indexOf('remove member pg3'));
    const leaderBefore = (await leaderKey('pg35'))!;
    const pids = await postmasters();

    const run = await deployUnderLoad('shrink');
    expect(errorLines(run.stderr)).toEqual([]);
    expect(run.exitCode).toBe(0);
    await expectSafe(run, 'shrink', leaderBefore);
    const members = await memberList('pg35');
    expect(members.map((m) => m.name).sort()).toEqual(SHRUNK);
    for (const h of ['pg37', 'pg38']) {
      expect((await onHost(lab, h, 'systemctl is-active etcd; systemctl is-enabled etcd')).stdout.trim().split('\n')).toEqual(['inactive', 'disabled']);
      expect((await onHost(lab, h, 'ls -d /var/lib/etcd/dc1.hapg-removed-* && test ! -e /var/lib/etcd/dc1')).exitCode).toBe(0);
    }
    const patroniYml = (await onHost(lab, 'pg36', 'cat /etc/patroni/patroni.yml')).stdout;
    expect(patroniYml).not.toContain(`${addressOfHost(lab, 'pg38')}:2379`);
    expect(patroniYml).not.toContain(`${addressOfHost(lab, 'pg37')}:2379`);
    expect(await postmasters()).toEqual(pids);
    const s = await eventually('a healthy cluster', async () => {
      const st = await status();
      return st.healthy ? st : new Error(st.clusters[0]!.problems.join('; '));
    });
    expect(s.clusters[0]!.members.length).toBe(3);
  });

  it('a re-deploy of the shrunk cluster changes nothing', async () => {
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => `${e.host}: ${e.title}`)).toEqual([]);
  });
});

describe('PostgreSQL host removal under write load', () => {
  it('removes the leader (3 → 2): switchover first, Patroni stopped, slot released (gone, or kept inactive for member_slots_ttl by Patroni 4), HAProxy lists 2 backends, nothing else restarts', async () => {
    const before = await status();
    const leader = before.clusters[0]!.members.find((m) => m.role === 'leader')!.name;
    const staying = PG.filter((h) => h !== leader);
    await setClusterHosts(staying);
    const plan = await hapg(['plan', '-i', inventory]);
    expect(errorLines(plan.stderr)).toEqual([]);
    expect(plan.stdout).toContain(`switch over from ${leader} to `);
    expect(plan.stdout).toContain(`remove ${leader} from cluster main: stop its Patroni for good`);
    expect(plan.stdout.indexOf(`switchover ${leader} → `)).toBeLessThan(plan.stdout.indexOf(`delete ${leader}'s member key`));
    const pids = await postmasters(staying);

    const r = await deployUnderLoad('leave', [], null);
    const report = r.load;
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    const switched = jsonEvents(r.stdout).filter((e) => e.kind === 'change' && e.title?.startsWith(`switchover ${leader} → `));
    expect(switched.length).toBe(1);

    const after = await eventually('a healthy cluster of two', async () => {
      const st = await status();
      return st.healthy && st.clusters[0]!.members.length === 2 ? st : new Error(`${st.clusters[0]!.members.map((m) => `${m.name} ${m.role} ${m.state}`).join(', ')}; ${st.clusters[0]!.problems.join('; ')}`);
    });
    const newLeader = after.clusters[0]!.members.find((m) => m.role === 'leader')!.name;
    expect(staying).toContain(newLeader);
    expect(report.acked.length).toBeGreaterThan(100);
    expect(await missingRows({ ...app, host: addressOfHost(lab, newLeader), port: 5432 }, 'leave', report.acked)).toEqual([]);
    const slots = (await onHost(lab, newLeader, `cd / && runuser -u postgres -- psql -XAtc "select slot_name from pg_replication_slots order by 1"`)).stdout.trim().split('\n');
    // Patroni 4 keeps a departed member's slot for member_slots_ttl (30 min by default), plan says so; Patroni 3 drops it at once.
    const retained = /keeps slot \S+ on the leader for member_slots_ttl/.test(plan.stdout);
    expect(retained).toBe(lab.release !== 'bookworm');
    expect(slots).toEqual([...staying.filter((h) => h !== newLeader), ...(retained ? [leader] : [])].sort());
    if (retained) {
      const active = (await onHost(lab, newLeader, `cd / && runuser -u postgres -- psql -XAtc "select active from pg_replication_slots where slot_name = '${leader}'"`)).stdout.trim();
      expect(active).toBe('f');
    }
    const cfg = (await onHost(lab, 'pg40', 'cat /etc/haproxy/haproxy.cfg')).stdout;
    expect(cfg).not.toContain(addressOfHost(lab, leader) + ':');
    for (const h of staying) expect(cfg).toContain(addressOfHost(lab, h) + ':');
    expect((await onHost(lab, leader, 'systemctl is-active patroni; systemctl is-enabled patroni')).stdout.trim().split('\n')).toEqual(['inactive', 'disabled']);
    expect((await onHost(lab, leader, `ls -d ${dataDirOf(lab, 'main')}.hapg-removed-* && test ! -e ${dataDirOf(lab, 'main')}`)).exitCode).toBe(0);
    expect(await postmasters(staying)).toEqual(pids);
  });

  it('a re-deploy after the removal changes nothing', async () => {
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => `${e.host}: ${e.title}`)).toEqual([]);
  });
});

/** The cluster's members now: the leader and the rest. */
async function roles(): Promise<{ leader: string; replicas: string[] }> {
  const members = (await status()).clusters[0]!.members;
  return { leader: members.find((m) => m.role === 'leader')!.name, replicas: members.filter((m) => m.role !== 'leader').map((m) => m.name) };
}

const psql = (host: string, sql: string) => onHost(lab, host, `cd / && runuser -u postgres -- psql -XAtc "${sql}"`);

describe('replacements', () => {
  it("an etcd member's host lost for good (power cut), replaced by another host: plan says so; the dead member leaves, the new one joins as a learner, under load", async () => {
    const { leader, replicas } = await roles();
    // The whole lab is this test's while pg39 is off (lab.test expects every host running); it
    // comes back at the end, its etcd stopped for good (the cluster no longer has that member).
    await withWholeLab(lab, async () => {
      expect((await labCommand(['stop', '--hard', 'pg39'])).exitCode).toBe(0);
      try {
        const doc = YAML.parse(await readFile(inventory, 'utf8'));
        delete doc.hosts.pg39;
        doc.etcd.dc1.hosts = ['pg35', 'pg36', 'pg38'];
        await writeFile(inventory, YAML.stringify(doc));
        const plan = await hapg(['plan', '-i', inventory]);
        expect(errorLines(plan.stderr)).toEqual([]);
        expect(plan.stdout).toContain('replace pg39 (unreachable)');
        expect(plan.stdout).toContain('add pg38 to etcd cluster dc1 as a learner');
        expect(plan.stdout.indexOf('remove member pg39 from etcd cluster dc1')).toBeLessThan(plan.stdout.indexOf('add pg38 to etcd cluster dc1 as a learner'));
        const leaderBefore = (await leaderKey('pg35'))!;
        const pids = await postmasters([leader, ...replicas]);

        const run = await deployUnderLoad('replace', [], ['pg35', 'pg36', 'pg38']);
        expect(errorLines(run.stderr)).toEqual([]);
        expect(run.exitCode).toBe(0);
        await expectSafe(run, 'replace', leaderBefore);
        expect(run.load.failedAttempts).toBe(0);
        const members = await memberList('pg35');
        expect(members.map((m) => m.name).sort()).toEqual(['pg35', 'pg36', 'pg38']);
        expect(members.filter((m) => m.isLearner)).toEqual([]);
        for (const h of [leader, ...replicas]) {
          const patroniYml = (await onHost(lab, h, 'cat /etc/patroni/patroni.yml')).stdout;
          expect(patroniYml).toContain(`${addressOfHost(lab, 'pg38')}:2379`);
          expect(patroniYml).not.toContain(`${addressOfHost(lab, 'pg39')}:2379`);
        }
        expect(await postmasters([leader, ...replicas])).toEqual(pids);
      } finally {
        const started = await labCommand(['start', 'pg39']);
        expect(started.exitCode, `lab start pg39: ${started.stderr}`).toBe(0);
        await onHost(lab, 'pg39', 'systemctl disable --now etcd');
      }
    });
  });

  it("a replica's host replaced by a fresh one under its name (lab rebuild: a new disk, nothing installed): deploy installs it and clones it on its old slot; nothing else restarts", async () => {
    const unknown = await labCommand(['rebuild', 'pg99']);
    expect(unknown.exitCode).not.toBe(0);
    expect(errorLines(unknown.stderr)).toEqual([`hapg: unknown lab host "pg99" (the lab has ${lab.hosts.map((h) => h.name).join(', ')})`]);
    const { leader, replicas } = await roles();
    const replica = replicas[0]!;
    const slotsBefore = (await psql(leader, 'select slot_name from pg_replication_slots order by 1')).stdout.trim();
    expect(slotsBefore.split('\n')).toContain(replica);
    const leaderPid = await postmasters([leader]);
    const etcdMembers = (await memberList('pg38')).map((m) => m.name).sort();
    // The host is down for a few seconds: the whole lab is this test's meanwhile (lab.test expects every host running).
    const rebuilt = await withWholeLab(lab, () => labCommand(['rebuild', replica]));
    expect(errorLines(rebuilt.stderr)).toEqual([]);
    expect(rebuilt.exitCode).toBe(0);
    expect((await onHost(lab, replica, `test ! -e /etc/patroni && test ! -e ${dataDirOf(lab, 'main')} && ! command -v patroni && echo fresh`)).stdout.trim()).toBe('fresh');
    const plan = await hapg(['plan', '-i', inventory]);
    expect(errorLines(plan.stderr)).toEqual([]);
    expect(plan.stdout).toContain(`start patroni`);

    const r = await deployUnderLoad('reclone', [], null);
    const report = r.load;
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    await eventually(`${replica} streaming again`, async () => {
      const m = (await status()).clusters[0]!.members.find((x) => x.name === replica);
      const repl = (await psql(leader, `select state from pg_stat_replication where application_name = '${replica}'`)).stdout.trim();
      return m?.state === healthyStateOf(lab, 'replica') && repl === 'streaming' ? true : new Error(`${replica}: ${m?.state ?? 'not listed'}, replication ${repl || 'none'}`);
    });
    expect((await psql(leader, 'select slot_name from pg_replication_slots order by 1')).stdout.trim()).toBe(slotsBefore);
    expect((await psql(leader, `select active from pg_replication_slots where slot_name = '${replica}'`)).stdout.trim()).toBe('t');
    expect(report.acked.length).toBeGreaterThan(100);
    expect(await missingRows({ ...app, host: addressOfHost(lab, leader), port: 5432 }, 'reclone', report.acked)).toEqual([]);
    expect(await missingRows({ ...app, host: addressOfHost(lab, replica), port: 5432 }, 'reclone', report.acked)).toEqual([]);
    expect(await postmasters([leader])).toEqual(leaderPid);
    const installed = jsonEvents(r.stdout).filter((e) => e.kind === 'change' && e.host === replica && e.title?.startsWith('install '));
    expect(installed.map((e) => e.title)).toEqual([expect.stringMatching(new RegExp(`\\bpostgresql-${pgMajor(lab)}\\b.*\\bpatroni\\b|\\bpatroni\\b.*\\bpostgresql-${pgMajor(lab)}\\b`))]);
    // Only the replica changed (and, when it was an etcd member too, its member was replaced on the others' side).
    expect([...new Set(jsonEvents(r.stdout).filter((e) => e.kind === 'change' && e.host !== replica && !/etcd|member/.test(e.title ?? '')).map((e) => `${e.host}: ${e.title}`))]).toEqual([]);
    expect((await memberList('pg38')).map((m) => m.name).sort()).toEqual(etcdMembers);
  });

  it("the VIP's holder leaves the HAProxy hosts: its keepalived and HAProxy stop for good, the VIP stays up on the other host, no row lost", async () => {
    const holds = async (h: string) => (await onHost(lab, h, 'ip -o addr show')).stdout.includes(` ${VIP.address}/`);
    const holder = (await holds('pg40')) ? 'pg40' : 'pg38';
    const other = holder === 'pg40' ? 'pg38' : 'pg40';
    expect(await holds(other)).toBe(false);
    const doc = YAML.parse(await readFile(inventory, 'utf8'));
    doc.clusters.main.haproxy.hosts = [other];
    await writeFile(inventory, YAML.stringify(doc));
    const plan = await hapg(['plan', '-i', inventory]);
    expect(errorLines(plan.stderr)).toEqual([]);
    expect(plan.stdout).toContain(`${holder} no longer carries a VIP: stop and disable its keepalived`);
    expect(plan.stdout).toContain(`${holder} is no longer a HAProxy host of any cluster: stop and disable its HAProxy`);

    const r = await deployUnderLoad('proxyleave', [], null);
    const report = r.load;
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    const steps = jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => `${e.host}: ${e.title}`);
    expect(steps.indexOf(`${holder}: stop keepalived`)).toBeGreaterThanOrEqual(0);
    expect(steps.indexOf(`${holder}: stop keepalived`)).toBeLessThan(steps.indexOf(`${holder}: stop haproxy`));
    for (const unit of ['keepalived', 'haproxy']) {
      expect((await onHost(lab, holder, `systemctl is-active ${unit}; systemctl is-enabled ${unit}`)).stdout.trim().split('\n')).toEqual(['inactive', 'disabled']);
    }
    expect(await holds(other)).toBe(true);
    expect(await holds(holder)).toBe(false);
    expect((await onHost(lab, other, 'cat /etc/keepalived/keepalived.conf')).stdout).not.toContain(addressOfHost(lab, holder));
    const { leader } = await roles();
    expect(report.acked.length).toBeGreaterThan(100);
    expect(await missingRows({ ...app, host: addressOfHost(lab, leader), port: 5432 }, 'proxyleave', report.acked)).toEqual([]);
  });

  it('a re-deploy after the replacements changes nothing', async () => {
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => `${e.host}: ${e.title}`)).toEqual([]);
  });
});

describe('a standby cluster removed from the inventory', () => {
  const SLOT = 'standby_dr';
  const mainMembers = async () => (await status()).clusters.find((c) => c.members.some((m) => m.role === 'leader'))!.members.map((m) => m.name);
  /** WAL the leader keeps for its slots: from the oldest slot's restart_lsn to now. */
  const retainedBySlots = async (leader: string) => Number((await psql(leader, 'select coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), min(restart_lsn)), 0)::bigint from pg_replication_slots')).stdout.trim());
  const walDirBytes = async (leader: string) => Number((await psql(leader, 'select sum(size) from pg_ls_waldir()')).stdout.trim());
  const slotOn = async (host: string) => (await psql(host, `select count(*) from pg_replication_slots where slot_name = '${SLOT}'`)).stdout.trim();
  const configSlots = async (host: string) => (YAML.parse((await onHost(lab, host, 'patronictl -c /etc/patroni/patroni.yml show-config')).stdout) as { slots?: Record<string, unknown> }).slots ?? {};

  it("keeps its slot on the source with a warning naming the WAL it retains (plan, deploy, status); an unknown --prune is refused; --prune drops it everywhere and the WAL retention falls back", async () => {
    // dr: a one-member standby cluster of main on pg39 (out of the inventory since its power cut, running again).
    const doc = YAML.parse(await readFile(inventory, 'utf8'));
    const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8'));
    doc.hosts.pg39 = base.hosts.pg39;
    doc.clusters.dr = { hosts: ['pg39'], postgres: { version: doc.clusters.main.postgres.version, hba: base.clusters.main.postgres.hba }, standby: { cluster: 'main', source: 'members' } };
    await writeFile(inventory, YAML.stringify(doc));
    const added = await hapg(['deploy', '-i', inventory]);
    expect(errorLines(added.stderr)).toEqual([]);
    expect(added.exitCode).toBe(0);
    const { leader } = await roles();
    await eventually(`${SLOT} active on ${leader}`, async () => ((await psql(leader, `select active from pg_replication_slots where slot_name = '${SLOT}'`)).stdout.trim() === 't' ? true : new Error('not active')));

    // The DR site is shut down and dr leaves the inventory with its host: main's slot for it stays.
    await onHost(lab, 'pg39', 'systemctl disable --now patroni');
    delete doc.clusters.dr;
    delete doc.hosts.pg39;
    await writeFile(inventory, YAML.stringify(doc));
    // Patroni 4 still keeps the slot of the leader that left main (member_slots_ttl, 30 min by
    // default): let it go now, so that dr's is the one slot that holds WAL back.
    if (lab.release !== 'bookworm') expect((await onHost(lab, leader, 'patronictl -c /etc/patroni/patroni.yml edit-config --force -s member_slots_ttl=0')).exitCode).toBe(0);
    const replicaSlots = (await mainMembers()).filter((h) => h !== leader);
    await eventually(`only the replicas' slots and ${SLOT} on ${leader}`, async () => {
      const slots = (await psql(leader, 'select slot_name from pg_replication_slots order by 1')).stdout.trim();
      return slots === [...replicaSlots, SLOT].sort().join('\n') ? true : new Error(slots.replace(/\n/g, ', '));
    });
    // ~48 MiB of WAL written since dr stopped, which only its slot retains.
    await psql(leader, "create table walfill as select repeat('x', 1000) as x from generate_series(1, 40000)");
    await psql(leader, 'drop table walfill');
    await psql(leader, 'checkpoint');
    const retainedBefore = await retainedBySlots(leader);
    const walBefore = await walDirBytes(leader);
    expect(retainedBefore).toBeGreaterThan(32 * 1024 * 1024);
    const warning = new RegExp(`^warning: \\[${leader}\\] cluster main: permanent slot ${SLOT} is no longer in the inventory \\(a standby cluster removed\\?\\) and is kept, retaining [\\d.]+ MiB of WAL; \`--prune ${SLOT}\` drops it$`, 'm');

    const plan = await hapg(['plan', '-i', inventory]);
    expect(errorLines(plan.stderr)).toEqual([]);
    expect(plan.exitCode).toBe(0);
    expect(plan.stderr).toMatch(warning);
    const kept = await hapg(['deploy', '-i', inventory, '--json']);
    expect(errorLines(kept.stderr)).toEqual([]);
    expect(kept.exitCode).toBe(0);
    const events = jsonEvents(kept.stdout) as { kind: string; host?: string; title?: string; message?: string }[];
    expect(events.filter((e) => e.kind === 'warn').map((e) => `warning: [${e.host}] ${e.message}`).join('\n')).toMatch(warning);
    // main's pg_hba no longer lets pg39 replicate (a reload); its configuration and slots are untouched.
    expect(events.filter((e) => e.kind === 'change' && /PATCH|slot/.test(e.title ?? '')).map((e) => `${e.host}: ${e.title}`)).toEqual([]);
    expect(await slotOn(leader)).toBe('1');
    const notes = jsonResult<{ clusters: { name: string; notes: string[] }[] }>((await hapg(['status', '-i', inventory, '--json'])).stdout).clusters.find((c) => c.name === 'main')!.notes;
    expect(notes).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^slot ${SLOT} on ${leader} is inactive and not in the inventory; it holds back \\d+ bytes of WAL`))]));

    // A --prune naming no leftover slot: one line, nothing changed.
    const typo = await hapg(['deploy', '-i', inventory, '--prune', 'standby_rd']);
    expect(typo.exitCode).toBe(2);
    expect(errorLines(typo.stderr)).toEqual([`hapg: --prune standby_rd: no running cluster holds a permanent slot of that name that the inventory no longer declares (leftover slots: ${SLOT} (cluster main)): nothing was changed (name a slot \`hapg plan\` warns about, or leave --prune out)`]);
    expect(await slotOn(leader)).toBe('1');
    expect(Object.keys(await configSlots(leader))).toContain(SLOT);

    const planned = await hapg(['plan', '-i', inventory, '--prune', SLOT]);
    expect(errorLines(planned.stderr)).toEqual([]);
    expect(planned.stdout).toContain(`slots.${SLOT} {"type":"physical"} → (dropped, --prune)`);
    expect(planned.stderr).not.toMatch(warning);
    const pruned = await hapg(['deploy', '-i', inventory, '--prune', SLOT, '--json']);
    expect(errorLines(pruned.stderr)).toEqual([]);
    expect(pruned.exitCode).toBe(0);
    expect(jsonEvents(pruned.stdout).filter((e) => e.kind === 'change').map((e) => `${e.host}: ${e.title}`)).toEqual([`${leader}: PATCH /config: slots.${SLOT} {"type":"physical"} → (dropped, --prune)`]);
    for (const h of await mainMembers()) {
      await eventually(`${SLOT} gone on ${h}`, async () => ((await slotOn(h)) === '0' ? true : new Error('still there')));
      expect(Object.keys(await configSlots(h))).not.toContain(SLOT);
    }
    await psql(leader, 'checkpoint');
    const retainedAfter = await retainedBySlots(leader);
    const walAfter = await walDirBytes(leader);
    process.stderr.write(`membership e2e prune: WAL retained by slots ${retainedBefore} → ${retainedAfter} bytes, pg_wal ${walBefore} → ${walAfter} bytes\n`);
    expect(retainedAfter).toBeLessThan(16 * 1024 * 1024);
    const after = jsonResult<{ clusters: { name: string; notes: string[] }[] }>((await hapg(['status', '-i', inventory, '--json'])).stdout).clusters.find((c) => c.name === 'main')!.notes;
    expect(after.filter((n) => n.includes(SLOT))).toEqual([]);
  });
});
