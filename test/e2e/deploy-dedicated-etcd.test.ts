// Dedicated etcd hosts (the recommended layout): 3 etcd-only hosts and PostgreSQL on others.
// The cluster starts with one member; adding a host to the inventory adds it as a replica
// without touching the running member.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { hapg, jsonEvents, jsonResult, onHost, writeInventory } from './hapg.js';

const lab = inject('lab');
const ETCD = ['pg4', 'pg5', 'pg6'];
const PG = ['pg7', 'pg8'];
let hba: unknown;

async function inventoryWith(pgHosts: string[], file?: string): Promise<string> {
  return writeInventory(
    lab,
    { hosts: [...ETCD, ...PG], etcd: { dc1: { hosts: ETCD } }, clusters: { edge: { hosts: pgHosts, postgres: { hba }, haproxy: {} } } },
    file,
  );
}

beforeAll(async () => {
  hba = YAML.parse(await readFile(lab.inventoryPath, 'utf8')).clusters.main.postgres.hba;
});

describe('dedicated etcd hosts', () => {
  let inventory: string;

  it('deploys etcd only on etcd hosts and a one-member cluster on pg7', async () => {
    inventory = await inventoryWith(['pg7']);
    const r = await hapg(['deploy', '-i', inventory]);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    const etcdHost = await onHost(lab, 'pg4', "dpkg-query -W -f '${Package} ' etcd-server postgresql-15 patroni 2>/dev/null; systemctl is-active etcd");
    expect(etcdHost.stdout).toContain('etcd-server');
    expect(etcdHost.stdout).not.toContain('patroni');
    expect(etcdHost.stdout.trim().endsWith('active')).toBe(true);
  });

  it('adds pg8 as a replica without touching pg7', async () => {
    const pid = async () => (await onHost(lab, 'pg7', 'head -1 /var/lib/postgresql/15/edge/postmaster.pid; systemctl show -p MainPID patroni')).stdout;
    const before = await pid();
    await inventoryWith(['pg7', 'pg8'], inventory);
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(r.exitCode).toBe(0);
    const changedHosts = new Set(jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => e.host));
    expect(changedHosts.has('pg8')).toBe(true);
    // pg7 only gets the new HAProxy backend line (and its reload); Patroni and PostgreSQL are untouched.
    const pg7Changes = jsonEvents(r.stdout).filter((e) => e.kind === 'change' && e.host === 'pg7').map((e) => e.title);
    expect(pg7Changes.every((t) => /haproxy|pg_hba|patroni\.yml|reload patroni/.test(t ?? ''))).toBe(true);
    expect(await pid()).toBe(before);

    const status = await hapg(['status', '-i', inventory, '--json']);
    const report = jsonResult<{ healthy: boolean; clusters: { members: { name: string; role: string }[] }[] }>(status.stdout);
    expect(report.healthy).toBe(true);
    expect(report.clusters[0]!.members.map((m) => `${m.name}:${m.role}`)).toEqual(['pg7:leader', 'pg8:replica']);
    expect(status.exitCode).toBe(0);
  });

  it('refuses to change anything while etcd has lost quorum, then converges once it is back', async () => {
    await onHost(lab, 'pg5', 'systemctl stop etcd');
    await onHost(lab, 'pg6', 'systemctl stop etcd');
    try {
      const r = await hapg(['deploy', '-i', inventory]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^hapg: etcd cluster dc1 has lost quorum \(0 of 3 members healthy; .*\) \(bring the failed etcd members back before deploying\)$/);
      // Nothing was started behind the operator's back.
      expect((await onHost(lab, 'pg5', 'systemctl is-active etcd')).stdout.trim()).toBe('inactive');
    } finally {
      await onHost(lab, 'pg5', 'systemctl start etcd');
      await onHost(lab, 'pg6', 'systemctl start etcd');
    }
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(r.exitCode).toBe(0);
    expect(jsonResult<{ changes: number }>(r.stdout).changes).toBe(0);
  });
});
