// A running plaintext cluster (deployed with tls: false) meets an inventory that asks for TLS,
// on pg24, pg25 and pg29 (etcd, Patroni, HAProxy and the VIP .124 on the same three hosts).
// Converting it live is not automated yet: plan and deploy refuse up front with one line that
// names the etcd cluster and the cluster asking for TLS, while a client writes through the
// VIP; afterwards nothing on the hosts changed (configuration files, postmasters, etcd peer
// URLs), no acknowledged write is lost, and a deploy with tls: false again changes nothing.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { missingRows, startWriteLoad, tableDigest, type PgTarget } from '../support/write-load.js';
import { addressOfHost, dataDirOf, eventually, hapg, jsonResult, onHost, vipAddress, writeInventory } from './hapg.js';

const lab = inject('lab');
const HOSTS = ['pg24', 'pg25', 'pg29'];
const VIP = { address: vipAddress(lab, 124), interface: 'eth0', router_id: 74 };
const REFUSAL = /^hapg: etcd cluster dc1 runs without TLS \(http peer URLs\), but the inventory asks for TLS \(clusters\.conv\.tls: true\): converting a running plaintext cluster to TLS is not automated yet; nothing was changed/;
let inventory: string;
let app: PgTarget;

const hapgLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('hapg:'));

async function setTls(tls: boolean): Promise<void> {
  const doc = YAML.parse(await readFile(inventory, 'utf8'));
  doc.clusters.conv.tls = tls;
  await writeFile(inventory, YAML.stringify(doc));
}

/** What a conversion would change on a host: its service files, its postmaster, and whether it holds TLS material. */
async function hostState(host: string): Promise<string> {
  const files = '/etc/default/etcd /etc/patroni/patroni.yml /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf';
  const r = await onHost(lab, host, `sha256sum ${files}; head -1 ${dataDirOf(lab, 'conv')}/postmaster.pid; ls /etc/hapg/tls 2>&1 | head -1`);
  return r.stdout;
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

describe('a running plaintext cluster meets tls: true', () => {
  it('plan and deploy refuse with one line, under write load; nothing on the hosts changes and no write is lost', async () => {
    const before = await Promise.all(HOSTS.map(hostState));
    const load = await startWriteLoad(app, { table: 'convert_refused' });
    await new Promise((r) => setTimeout(r, 1000));
    await setTls(true);
    const plan = await hapg(['plan', '-i', inventory]);
    const deploy = await hapg(['deploy', '-i', inventory]);
    await new Promise((r) => setTimeout(r, 1000));
    const report = await load.stop();
    process.stderr.write(`tls-convert e2e: refused; ${report.acked.length} rows acknowledged, ${report.failedAttempts} failed attempts, longest write gap ${report.longestGapMs} ms\n`);

    for (const run of [plan, deploy]) {
      expect(run.exitCode).not.toBe(0);
      expect(hapgLines(run.stderr)).toHaveLength(1);
      expect(hapgLines(run.stderr)[0]).toMatch(REFUSAL);
    }
    expect(deploy.stdout).not.toMatch(/^\s*~ /m); // no step ran
    expect(await Promise.all(HOSTS.map(hostState))).toEqual(before);
    expect(before.every((s) => /No such file or directory/.test(s))).toBe(true); // no TLS material was put on any host
    const peers = await onHost(lab, 'pg24', 'ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 member list');
    expect(peers.stdout.match(/http:\/\/[0-9.]+:2380/g)).toHaveLength(3);
    expect(peers.stdout).not.toMatch(/https:/);

    expect(report.acked.length).toBeGreaterThan(50);
    expect(report.failedAttempts).toBe(0);
    const digests = await Promise.all(
      HOSTS.map((h) =>
        eventually(`every acknowledged row on ${h}`, async () => {
          const target = { ...app, host: addressOfHost(lab, h), port: 5432 };
          const missing = await missingRows(target, 'convert_refused', report.acked);
          return missing.length === 0 ? tableDigest(target, 'convert_refused') : new Error(`${missing.length} missing, first ${missing[0]}`);
        }, 30_000),
      ),
    );
    expect(new Set(digests.map((d) => d.digest)).size).toBe(1);
  });

  it('with tls: false again, deploy changes nothing', async () => {
    await setTls(false);
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(hapgLines(r.stderr)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(jsonResult<{ changes: number }>(r.stdout).changes).toBe(0);
  });
});
