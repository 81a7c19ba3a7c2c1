// Dedicated etcd hosts (the recommended layout): 3 etcd-only hosts and PostgreSQL on others,
// with a VIP and no HAProxy: keepalived on the members moves the VIP to the Patroni leader,
// and clients connect to VIP:5432. The cluster starts with one member; adding a host to the
// inventory adds it as a replica without touching the running member. A second cluster on a
// host of its own (pg30, same etcd) deploys side by side with the first.
// The one e2e file that opts out of TLS (tls: false): a plaintext etcd on hosts of its own and
// plaintext clusters keep the opt-out path tested (and its warning on every run), while every
// other file, bookworm's Patroni 3.0/etcd 3.4 included, runs with TLS, the default.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { pgMajor, vipAddress, eventually, hapg, jsonEvents, jsonResult, onHost, sequenceOfRun, writeInventory } from './hapg.js';

const lab = inject('lab');
const ETCD = ['pg4', 'pg5', 'pg6'];
const PG = ['pg7', 'pg8'];
/** A one-member cluster that shares only the etcd cluster with edge. */
const SOLO = 'pg30';
const VIP = { address: vipAddress(lab, 105), interface: 'eth0', router_id: 56 };
/** Under a directory the operator made (root's, mode 0711): hapg creates what is missing below it and leaves it as it is. */
const DATA_DIR = '/srv/hapg/edge/data';
let hba: unknown;

async function inventoryWith(pgHosts: string[], file?: string): Promise<string> {
  return writeInventory(
    lab,
    {
      hosts: [...ETCD, ...PG, SOLO],
      etcd: { dc1: { hosts: ETCD } },
      clusters: {
        edge: { hosts: pgHosts, postgres: { hba, data_dir: DATA_DIR }, vip: VIP, tls: false },
        solo: { hosts: [SOLO], postgres: { hba }, tls: false },
      },
    },
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
    await onHost(lab, 'pg7', 'install -d -o root -g root -m 0711 /srv/hapg');
    const planned = sequenceOfRun((await hapg(['plan', '-i', inventory, '--json'])).stdout);
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(sequenceOfRun(r.stdout)).toEqual(planned);
    expect(planned).toEqual(['start etcd pg4,pg5,pg6', 'start patroni pg7', `start patroni ${SOLO}`, 'start keepalived pg7']);
    // edge and solo share no host: one phase runs both, side by side, each lane in its order.
    const events = jsonEvents(r.stdout) as { kind: string; host?: string; title?: string; ms: number }[];
    const lanes = events.findIndex((e) => e.kind === 'phase' && e.title === 'Clusters edge, solo side by side');
    expect(lanes).toBeGreaterThan(0);
    const inLanes = events.slice(lanes + 1, events.findIndex((e, i) => i > lanes && e.kind === 'phase'));
    const span = (host: string) => {
      const ms = inLanes.filter((e) => e.host === host).map((e) => e.ms);
      return { first: Math.min(...ms), last: Math.max(...ms) };
    };
    const [edge, solo] = [span('pg7'), span(SOLO)];
    expect(solo.first, 'solo started before edge finished').toBeLessThan(edge.last);
    expect(edge.first, 'edge started before solo finished').toBeLessThan(solo.last);
    expect(jsonResult<{ clusters: { vipHolder: string }[] }>(r.stdout).clusters[0]!.vipHolder).toBe('pg7');
    // The opt-out is named on every run, plan and deploy alike.
    const warning = /clusters\.edge\.tls: is false: cluster edge runs PostgreSQL and Patroni's REST API without TLS and etcd dc1 without TLS or authentication/;
    expect(r.stdout + r.stderr).toMatch(warning);
    expect((await onHost(lab, 'pg7', 'curl -s -o /dev/null -w "%{http_code}" --max-time 3 http://$(hostname -I | cut -d" " -f1):8008/patroni')).stdout).toBe('200');
    const dirs = await onHost(lab, 'pg7', `stat -c '%n %U %a' /srv /srv/hapg /srv/hapg/edge ${DATA_DIR}`);
    expect(dirs.stdout.trim().split('\n')).toEqual(['/srv root 755', '/srv/hapg root 711', '/srv/hapg/edge postgres 750', `${DATA_DIR} postgres 700`]);
    const etcdHost = await onHost(lab, 'pg4', `dpkg-query -W -f '\${Package} ' etcd-server postgresql-${pgMajor(lab)} patroni 2>/dev/null; systemctl is-active etcd`);
    expect(etcdHost.stdout).toContain('etcd-server');
    expect(etcdHost.stdout).not.toContain('patroni');
    expect(etcdHost.stdout.trim().endsWith('active')).toBe(true);
  });

  it('adds pg8 as a replica without touching pg7', async () => {
    const pid = async () => (await onHost(lab, 'pg7', `head -1 ${DATA_DIR}/postmaster.pid; systemctl show -p MainPID patroni`)).stdout;
    const before = await pid();
    await inventoryWith(['pg7', 'pg8'], inventory);
    const planned = sequenceOfRun((await hapg(['plan', '-i', inventory, '--json'])).stdout);
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(r.exitCode).toBe(0);
    expect(sequenceOfRun(r.stdout)).toEqual(planned);
    const changedHosts = new Set(jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => e.host));
    expect(changedHosts.has('pg8')).toBe(true);
    // pg7 only gets the new member in pg_hba and keepalived's peers (and their reloads); Patroni and PostgreSQL keep running.
    const pg7Changes = jsonEvents(r.stdout).filter((e) => e.kind === 'change' && e.host === 'pg7').map((e) => e.title);
    expect(pg7Changes.every((t) => /keepalived|patroni\.yml|reload patroni/.test(t ?? ''))).toBe(true);
    expect(await pid()).toBe(before);

    const status = await hapg(['status', '-i', inventory, '--json']);
    const report = jsonResult<{ healthy: boolean; clusters: { members: { name: string; role: string }[] }[] }>(status.stdout);
    expect(report.healthy).toBe(true);
    expect(report.clusters.map((c) => c.members.map((m) => `${m.name}:${m.role}`))).toEqual([['pg7:leader', 'pg8:replica'], [`${SOLO}:leader`]]);
    expect(status.exitCode).toBe(0);
  });

  it('moves the VIP with the leader: a switchover takes it to pg8, and writes through VIP:5432 land there', async () => {
    const r = await hapg(['switchover', '-i', inventory, '--cluster', 'edge', '--to', 'pg8']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect((await onHost(lab, 'pg8', `ip -o addr show | grep -c ' ${VIP.address}/'`)).stdout.trim()).toBe('1');
    expect((await onHost(lab, 'pg7', `ip -o addr show | grep -c ' ${VIP.address}/' || true`)).stdout.trim()).toBe('0');
    const secrets = YAML.parse(await readFile(path.join(path.dirname(inventory), '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
    // A client through the VIP (hapg's unprivileged check role: the superuser never logs in over the network).
    const viaVip = () =>
      onHost(lab, 'pg7', `IFS= read -r PGPASSWORD; export PGPASSWORD; psql -XAt "host=${VIP.address} port=5432 user=hapg_check dbname=postgres connect_timeout=5" -c 'select pg_is_in_recovery()'`, {
        stdin: `${secrets['clusters.edge.check']}\n`,
      });
    await eventually('a write-capable server behind the VIP', async () => {
      const r = await viaVip();
      return r.stdout.trim() === 'f' ? true : new Error(`${r.stdout.trim()} ${r.stderr.trim()}`);
    }, 15_000);
    const superuser = await onHost(lab, 'pg7', `IFS= read -r PGPASSWORD; export PGPASSWORD; psql -XAt "host=${VIP.address} port=5432 user=postgres dbname=postgres connect_timeout=5" -c 'select 1' 2>&1`, {
      stdin: `${secrets['clusters.edge.superuser']}\n`,
    });
    expect(superuser.stdout).toMatch(/pg_hba\.conf rejects connection for host "[0-9.]+", user "postgres"/);
    await eventually('a healthy status with the VIP on the leader', async () => {
      const s = jsonResult<{ healthy: boolean; clusters: { problems: string[] }[] }>((await hapg(['status', '-i', inventory, '--json'])).stdout);
      return s.healthy ? true : new Error(s.clusters[0]!.problems.join('; '));
    }, 30_000);
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

  it("removes the policy-rc.d a killed run left, and never the operator's own", async () => {
    await onHost(lab, 'pg4', `printf '#!/bin/sh\\n# hapg: keeps services stopped while packages install\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d`);
    await onHost(lab, 'pg5', `printf '#!/bin/sh\\n# the operator keeps services down here\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d`);
    try {
      const r = await hapg(['deploy', '-i', inventory, '--json']);
      expect(r.exitCode).toBe(0);
      expect(jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => `${e.host} ${e.title}`)).toEqual(['pg4 remove the /usr/sbin/policy-rc.d an interrupted run left']);
      expect((await onHost(lab, 'pg4', 'test -e /usr/sbin/policy-rc.d && echo present || echo gone')).stdout.trim()).toBe('gone');
      expect((await onHost(lab, 'pg5', 'cat /usr/sbin/policy-rc.d')).stdout).toContain('the operator keeps services down here');
    } finally {
      await onHost(lab, 'pg5', 'rm -f /usr/sbin/policy-rc.d');
    }
  });
});
