// Debian 12 (bookworm) on a lab of its own, beside the Debian 13 lab the other files use:
// PostgreSQL 15, Patroni 3.0, etcd 3.4, HAProxy 2.6 and keepalived 2.2. A cluster and its
// standby cluster deploy from bare hosts in one run (the standby never a leader), re-run as
// a no-op, switch over, and roll a restart-needing change under write load with no
// acknowledged write lost.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { missingRows, startWriteLoad, tableDigest, type PgTarget } from '../support/write-load.js';
import { addressOfHost, caOf, eventually, hapg, healthyStateOf, jsonResult, onHost, pgMajor, vipAddress, writeInventory } from './hapg.js';
import type { LabContext } from './lab-context.js';
import { RoleWatcher } from './role-watcher.js';

const bookworm = inject('labBookworm');
if (!bookworm) throw new Error('no bookworm lab: the e2e global setup brings one up (HAPG_E2E_BOOKWORM_LAB names one that is up)');
const lab: LabContext = bookworm;

const MAIN = ['pg1', 'pg2', 'pg3'];
const DR = ['pg4', 'pg5'];
const TABLE = 'bookworm_load';
const MAIN_VIP = { address: vipAddress(lab, 100), interface: 'eth0', router_id: 61 };
const DR_VIP = { address: vipAddress(lab, 101), interface: 'eth0', router_id: 62 };
const addressOf = (host: string) => addressOfHost(lab, host);

let inventory: string;
let app: PgTarget;

interface StatusJson {
  healthy: boolean;
  clusters: { name: string; members: { name: string; role: string; state: string; timeline?: number; pendingRestart: boolean; release?: string; postgresVersion?: string; patroniVersion?: string }[]; problems: string[] }[];
}

async function healthyStatus(): Promise<StatusJson> {
  return eventually('both clusters healthy', async () => {
    const r = await hapg(['status', '-i', inventory, '--json']);
    const s = jsonResult<StatusJson>(r.stdout);
    return s.healthy ? s : new Error(s.clusters.flatMap((c) => c.problems).join('; '));
  }, 90_000);
}

const leaderOf = (s: StatusJson, cluster: string) => s.clusters.find((c) => c.name === cluster)!.members.find((m) => m.role === 'leader')?.name;

async function setMaxConnections(value: number): Promise<void> {
  const doc = YAML.parse(await readFile(inventory, 'utf8'));
  for (const c of ['main', 'dr']) doc.clusters[c].postgres.parameters.max_connections = value;
  await writeFile(inventory, YAML.stringify(doc));
}

async function sql(host: string, query: string): Promise<string> {
  return (await onHost(lab, host, `cd / && runuser -u postgres -- psql -XAtc "${query}"`)).stdout.trim();
}

beforeAll(async () => {
  const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8'));
  const postgres = { parameters: { max_connections: 100, shared_buffers: '128MB', wal_keep_size: '256MB' }, hba: base.clusters.main.postgres.hba };
  inventory = await writeInventory(lab, {
    hosts: [...MAIN, ...DR],
    etcd: { dc1: { hosts: MAIN }, dc2: { hosts: ['pg4'] } },
    clusters: {
      main: { hosts: MAIN, postgres: { ...postgres, users: { app: { options: ['LOGIN'] } }, databases: { app: { owner: 'app' } } }, haproxy: {}, vip: MAIN_VIP },
      dr: { hosts: DR, postgres, haproxy: {}, vip: DR_VIP, standby: { cluster: 'main' } },
    },
  });
  // dr's hosts (and its etcd) are in a second datacenter.
  const doc = YAML.parse(await readFile(inventory, 'utf8'));
  for (const h of DR) doc.hosts[h].datacenter = 'dc2';
  await writeFile(inventory, YAML.stringify(doc));
});

describe(`Debian 12 (bookworm): PostgreSQL ${pgMajor(lab)}, Patroni 3.0, etcd 3.4`, () => {
  it('deploys a cluster and its standby cluster from bare hosts in one run; the standby is never a leader', async () => {
    const watcher = new RoleWatcher(lab, DR, true, () => caOf(inventory));
    const deploy = await hapg(['deploy', '-i', inventory]);
    const watched = await watcher.stop();
    expect(deploy.exitCode, deploy.stderr.slice(-2000)).toBe(0);
    expect(watched.leaders).toEqual([]);
    expect(watched.roles).toEqual(expect.arrayContaining(['pg4:standby_leader', 'pg5:replica']));

    const versions = (await onHost(lab, 'pg1', "dpkg-query -W -f '${Package} ${Version}\\n' postgresql-15 patroni etcd-server haproxy keepalived")).stdout;
    expect(versions).toMatch(/^postgresql-15 15\./m);
    expect(versions).toMatch(/^patroni 3\.0\./m);
    expect(versions).toMatch(/^etcd-server 3\.4\./m);
    expect(versions).toMatch(/^haproxy 2\.6\./m);
    expect(versions).toMatch(/^keepalived 1:2\.2\./m);

    const status = await healthyStatus();
    for (const c of status.clusters) {
      expect(c.members.filter((m) => m.state !== healthyStateOf(lab, m.role))).toEqual([]);
      for (const m of c.members) expect(`${m.release} ${m.postgresVersion} ${m.patroniVersion}`).toMatch(/^Debian 12 15\.\d+ 3\.0\.\d+$/);
    }
    expect(status.clusters.find((c) => c.name === 'dr')!.members.map((m) => `${m.name}:${m.role}`).sort()).toEqual(['pg4:standby_leader', 'pg5:replica']);
    const sysid = (h: string) => sql(h, 'select system_identifier from pg_control_system()');
    const id = await sysid('pg1');
    expect(id).toMatch(/^\d+$/);
    for (const h of DR) expect(await sysid(h)).toBe(id);

    const secrets = YAML.parse(await readFile(path.join(path.dirname(inventory), '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
    app = { host: MAIN_VIP.address, port: 5000, user: 'app', password: secrets['clusters.main.users.app']!, database: 'app' };
  });

  it('re-runs as a no-op', async () => {
    const again = await hapg(['deploy', '-i', inventory, '--json']);
    expect(again.exitCode, again.stderr.slice(-1000)).toBe(0);
    expect(jsonResult<{ changes: number }>(again.stdout).changes).toBe(0);
  });

  it('switches main over; writes and the standby cluster follow', async () => {
    const r = await hapg(['switchover', '-i', inventory, '--cluster', 'main', '--to', 'pg2']);
    expect(r.exitCode, r.stderr.slice(-1000)).toBe(0);
    expect(r.stdout).toMatch(/leader moved from pg1 to pg2/);
    const status = await healthyStatus();
    expect(leaderOf(status, 'main')).toBe('pg2');
  });

  it('rolls max_connections up under write load: dr before main, replicas before the leader, no acknowledged write lost', async () => {
    await setMaxConnections(150);
    const plan = await hapg(['plan', '-i', inventory]);
    expect(plan.stdout).toMatch(/max_connections 100 → 150: needs a restart/);
    const load = await startWriteLoad(app, { table: TABLE, largeEvery: 10, largeBytes: 8192, intervalMs: 5 });
    const deploy = await hapg(['deploy', '-i', inventory]);
    const report = await load.stop();
    expect(deploy.exitCode, deploy.stderr.slice(-2000)).toBe(0);
    expect(report.acked.length).toBeGreaterThan(50);
    process.stderr.write(`bookworm e2e rolling: ${report.acked.length} rows acknowledged, ${report.failedAttempts} failed attempts, longest write gap ${report.longestGapMs} ms\n`);

    const status = await healthyStatus();
    for (const c of status.clusters) expect(c.members.filter((m) => m.pendingRestart)).toEqual([]);
    const leader = leaderOf(status, 'main')!;
    const want = await tableDigest({ ...app, host: addressOf(leader), port: 5432 }, TABLE);
    for (const h of [...MAIN, ...DR]) {
      expect(await sql(h, 'show max_connections')).toBe('150');
      const member = { ...app, host: addressOf(h), port: 5432 };
      await eventually(`${h} to hold the leader's ${want.rows} rows`, async () => {
        const got = await tableDigest(member, TABLE);
        return got.digest === want.digest || new Error(`${got.rows} rows`);
      }, 60_000);
      expect(await missingRows(member, TABLE, report.acked)).toEqual([]);
    }
  });
});
