// A running plaintext cluster (deployed with tls: false) converted to TLS and etcd
// authentication by deploy, on pg24, pg25 and pg29 (etcd, Patroni, HAProxy and the VIP .124 on
// the same three hosts), while a client writes through the VIP and a watcher polls every
// member's role. The first deploy is killed right after it restarted the first Patroni (the
// clusters paused, HAProxy's checks suspended, etcd half converted); a second deploy finishes.
// Afterwards: no acknowledged write lost, the same rows on every member, no postmaster
// restarted, the leader never changed, every hop speaks TLS only and etcd asks for a login,
// the cluster resumed, and a re-run changes nothing.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { missingRows, startWriteLoad, tableDigest, type PgTarget } from '../support/write-load.js';
import { addressOfHost, dataDirOf, eventually, hapg, jsonResult, onHost, patroniGet, vipAddress, writeInventory } from './hapg.js';
import { RoleWatcher } from './role-watcher.js';

const lab = inject('lab');
const HOSTS = ['pg24', 'pg25', 'pg29'];
const VIP = { address: vipAddress(lab, 124), interface: 'eth0', router_id: 74 };
const CA = '/etc/hapg/tls/ca.crt';
let inventory: string;
let app: PgTarget;

const hapgLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('hapg:'));
const addr = (host: string) => addressOfHost(lab, host);

async function setTls(tls: boolean): Promise<void> {
  const doc = YAML.parse(await readFile(inventory, 'utf8'));
  doc.clusters.conv.tls = tls;
  await writeFile(inventory, YAML.stringify(doc));
}

/** Each member's postmaster PID (a restarted PostgreSQL has a new one). */
async function postmasters(): Promise<string[]> {
  return Promise.all(HOSTS.map(async (h) => (await onHost(lab, h, `head -1 ${dataDirOf(lab, 'conv')}/postmaster.pid`)).stdout.trim()));
}

/** What the hosts hold and run: service files, postmasters, TLS material. */
async function hostState(host: string): Promise<string> {
  const files = '/etc/default/etcd /etc/patroni/patroni.yml /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf';
  return (await onHost(lab, host, `sha256sum ${files}; head -1 ${dataDirOf(lab, 'conv')}/postmaster.pid; ls /etc/hapg/tls 2>&1 | head -1`)).stdout;
}

beforeAll(async () => {
  const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8'));
  inventory = await writeInventory(lab, {
    hosts: HOSTS,
    etcd: { dc1: { hosts: HOSTS } },
    clusters: {
      conv: {
        hosts: HOSTS,
        tls: false,
        postgres: { hba: base.clusters.main.postgres.hba, users: { app: { options: ['LOGIN'] } }, databases: { app: { owner: 'app' } } },
        haproxy: {},
        vip: VIP,
      },
    },
  });
  const r = await hapg(['deploy', '-i', inventory]);
  if (r.exitCode !== 0) throw new Error(`initial deploy failed: ${hapgLines(r.stderr).join(' ') || r.stderr.slice(-500)}`);
  const secrets = YAML.parse(await readFile(path.join(path.dirname(inventory), '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
  app = { host: VIP.address, port: 5000, user: 'app', password: secrets['clusters.conv.users.app']!, database: 'app' };
}, 900_000);

describe('a running plaintext cluster converted to TLS by deploy', () => {
  it('plan names the conversion and its passes, and changes nothing', async () => {
    const before = await Promise.all(HOSTS.map(hostState));
    await setTls(true);
    const plan = await hapg(['plan', '-i', inventory]);
    expect(hapgLines(plan.stderr)).toEqual([]);
    expect(plan.exitCode).toBe(0);
    expect(plan.stdout).toMatch(/^TLS conversion of etcd cluster dc1, cluster conv \(running without TLS; the inventory asks for it\), in 4 passes/m);
    expect(plan.stdout.match(/^ {2}\d\. (prepare|peers|clients|final): /gm)).toHaveLength(4);
    expect(plan.stdout).toMatch(/\[pg24\] restart etcd/);
    expect(plan.stdout).not.toMatch(/PRIVATE KEY/);
    expect(await Promise.all(HOSTS.map(hostState))).toEqual(before);
  });

  it('deploy converts it under write load, finishing a run killed half-way: no write lost, no postmaster restarted, the leader kept', async () => {
    const pids = await postmasters();
    const leaderBefore = (await onHost(lab, 'pg24', `curl -s http://${addr('pg24')}:8008/cluster`)).stdout;
    const leader = (JSON.parse(leaderBefore) as { members: { name: string; role: string }[] }).members.find((m) => m.role === 'leader')!.name;
    let ca: string | undefined;
    const watcher = new RoleWatcher(lab, HOSTS, true, async () => {
      if (!ca) {
        const text = (await onHost(lab, 'pg24', `cat ${CA} 2>/dev/null`)).stdout;
        if (text.includes('BEGIN CERTIFICATE')) ca = text;
      }
      return ca;
    });
    const load = await startWriteLoad(app, { table: 'converted' });
    await new Promise((r) => setTimeout(r, 1000));
    const started = Date.now();
    const killed = await hapg(['deploy', '-i', inventory, '--json'], { env: { HAPG_FAULT_KILL: 'change:restart patroni#1' } });
    const finished = await hapg(['deploy', '-i', inventory, '--json']);
    const seconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const report = await load.stop();
    const roles = await watcher.stop();
    process.stderr.write(
      `tls-convert e2e: converted in ${seconds.toFixed(1)} s (killed run and the run that finished); ${report.acked.length} rows acknowledged, ${report.failedAttempts} failed attempts, longest write gap ${report.longestGapMs} ms\n`,
    );

    expect(killed.signal).toBe('SIGKILL'); // right after the first Patroni restart
    expect(hapgLines(finished.stderr)).toEqual([]);
    expect(finished.exitCode).toBe(0);
    expect(jsonResult<{ clusters: { leader: string }[] }>(finished.stdout).clusters[0]!.leader).toBe(leader);

    expect(report.acked.length).toBeGreaterThan(50);
    expect(report.longestGapMs).toBeLessThan(15_000);
    const digests = await Promise.all(
      HOSTS.map((h) =>
        eventually(`every acknowledged row on ${h}`, async () => {
          const target = { ...app, host: addr(h), port: 5432 };
          const missing = await missingRows(target, 'converted', report.acked);
          return missing.length === 0 ? tableDigest(target, 'converted') : new Error(`${missing.length} missing, first ${missing[0]}`);
        }, 30_000),
      ),
    );
    expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
    expect(await postmasters()).toEqual(pids);
    expect(roles.leaders.length).toBeGreaterThan(0);
    expect(roles.leaders.map((l) => l.host).every((h) => h === leader)).toBe(true);
    expect(roles.polls).toBeGreaterThan(10);
  });

  it('every hop speaks TLS only: etcd peers and clients over https with a login, the REST API, pg_hba; the cluster resumed', async () => {
    const a = addr('pg24');
    const peers = await onHost(lab, 'pg25', `curl -s -m 5 --cacert ${CA} --cert /etc/hapg/tls/etcd.crt --key /etc/hapg/tls/etcd.key https://${a}:2379/v3/cluster/member/list -X POST -d '{}'`);
    expect(peers.stdout.match(/https:\/\/[0-9.]+:2380/g)).toHaveLength(3);
    expect(peers.stdout).not.toMatch(/http:\/\//);
    const plain = await onHost(lab, 'pg25', `curl -s -m 5 http://${a}:2379/v3/kv/range -d '{"key":"Lw=="}' ; echo " exit=$?"`);
    expect(plain.stdout).not.toMatch(/"header"/);
    const noLogin = await onHost(lab, 'pg25', `curl -s -m 5 --cacert ${CA} --cert /etc/hapg/tls/etcd.crt --key /etc/hapg/tls/etcd.key https://${a}:2379/v3/kv/range -d '{"key":"Lw=="}'`);
    expect(noLogin.stdout).toMatch(/user name is empty/);
    const restPlain = await onHost(lab, 'pg25', `curl -s -m 5 -o /dev/null -w '%{http_code}' http://${a}:8008/patroni; echo " exit=$?"`);
    expect(restPlain.stdout).not.toMatch(/^200/);
    const ca = (await onHost(lab, 'pg24', `cat ${CA}`)).stdout;
    for (const h of HOSTS) expect((await patroniGet<{ pause?: boolean; state: string }>(addr(h), '/patroni', ca)).pause).toBeUndefined();
    const conn = `PGPASSWORD=not-the-password psql -X -At "host=${a} port=5432 user=hapg_check dbname=postgres connect_timeout=5 sslmode=disable" -c 'select 1' 2>&1; echo " exit=$?"`;
    expect((await onHost(lab, 'pg25', conn)).stdout).toMatch(/no encryption/);
    const vip = await onHost(lab, 'pg25', `openssl s_client -connect ${VIP.address}:5000 -starttls postgres -CAfile ${CA} -verify_return_error -verify_ip ${VIP.address} </dev/null 2>&1`);
    expect(vip.stdout).toMatch(/Verify return code: 0 \(ok\)/);
    const status = await hapg(['status', '-i', inventory, '--json']);
    expect(status.exitCode).toBe(0);
  });

  it('a re-run changes nothing', async () => {
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(hapgLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(jsonResult<{ changes: number }>(r.stdout).changes).toBe(0);
  });
});
