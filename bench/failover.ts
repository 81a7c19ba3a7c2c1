// bench/failover: the leader's host powered off under write load, N rounds. One cluster of three
// hosts (etcd, Patroni, HAProxy and the VIP on the same hosts) in a lab of its own; a client
// writes numbered rows through the VIP's read-write port; each round cuts the leader host's
// power (`hapg lab stop --hard`: no shutdown), measures the time until the client's writes are
// acknowledged again through the VIP, counts acknowledged rows missing on the new leader (must be 0), then boots
// the host and lets `hapg deploy` bring it back as a replica. Prints min/median/max and the
// bound Patroni gives (ttl + loop_wait: the old leader's key must expire, then a replica's
// loop notices).
//
//   npx tsx bench/failover.ts [--rounds N] [--release trixie|bookworm] [--lab NAME] [--synchronous]
//
// As root. The lab (default `bench-failover`) is created and removed.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { postgresMajorOf, type LabRelease } from '../src/lab/releases.js';
import { missingRows, startWriteLoad, type PgTarget } from '../test/support/write-load.js';
import { fmt, timedHapg } from './lab.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '10' }, release: { type: 'string', default: 'trixie' }, lab: { type: 'string', default: 'bench-failover' }, synchronous: { type: 'boolean', default: false } },
});
const rounds = Number(values.rounds);
const release = values.release as LabRelease;
const lab = values.lab;
const HOSTS = ['pg1', 'pg2', 'pg3'];
const PATRONI = { ttl: 20, loop_wait: 5, retry_timeout: 5, synchronous_mode: values.synchronous };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Status { clusters: { members: { name: string; role: string }[] }[]; healthy: boolean }
async function status(inventory: string): Promise<Status> {
  const { execa } = await import('execa');
  const r = await execa('node', [path.resolve(import.meta.dirname, '../bin/hapg.js'), 'status', '-i', inventory, '--json'], { reject: false });
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Status;
}
const leaderOf = (s: Status) => s.clusters[0]?.members.find((m) => m.role === 'leader')?.name;

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'hapg-bench-failover-'));
try {
  const labInventory = path.join(dir, 'lab.yml');
  await timedHapg(['lab', 'down', '--lab', lab]);
  await timedHapg(['lab', 'up', '--lab', lab, '--hosts', '3', '--release', release, '--out', labInventory]);
  const base = YAML.parse(await readFile(labInventory, 'utf8'));
  const subnet = (base.hosts.pg1.address as string).split('.').slice(0, 3).join('.');
  const vip = `${subnet}.100`;
  const inventory = path.join(dir, 'inventory.yml');
  await writeFile(
    inventory,
    YAML.stringify({
      ssh: base.ssh,
      hosts: base.hosts,
      packages: base.packages,
      etcd: { dc1: { hosts: HOSTS } },
      clusters: {
        main: {
          hosts: HOSTS,
          patroni: PATRONI,
          postgres: { version: postgresMajorOf(release), hba: base.clusters.main.postgres.hba, users: { app: { options: ['LOGIN'] } }, databases: { app: { owner: 'app' } } },
          haproxy: {},
          vip: { address: vip, interface: 'eth0', router_id: 51 },
        },
      },
    }),
  );
  await timedHapg(['deploy', '-i', inventory]);
  const secrets = YAML.parse(await readFile(path.join(dir, '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
  const app: PgTarget = { host: vip, port: 5000, user: 'app', password: secrets['clusters.main.users.app']!, database: 'app' };

  const back: number[] = [];
  let lostTotal = 0;
  for (let round = 1; round <= rounds; round++) {
    const table = `failover_${round}`;
    const leader = leaderOf(await status(inventory));
    if (!leader) throw new Error(`round ${round}: no leader before the kill`);
    const load = await startWriteLoad(app, { table, intervalMs: 20 });
    await sleep(3000);
    const killed = performance.now();
    await timedHapg(['lab', 'stop', '--hard', '--lab', lab, leader]);
    // Counted once the host is gone: writes acknowledged while `lab stop` ran went to the old leader.
    const ackedBefore = load.ackedCount();
    // Writes acknowledged again through the VIP: the first few after the kill.
    await until('writes acknowledged after the failover', async () => (load.ackedCount() > ackedBefore + 5 ? true : undefined), 180_000);
    const seconds = (performance.now() - killed) / 1000;
    const report = await load.stop();
    const newLeader = leaderOf(await status(inventory));
    if (!newLeader || newLeader === leader) throw new Error(`round ${round}: no new leader`);
    const lost = (await missingRows({ ...app, host: base.hosts[newLeader].address, port: 5432 }, table, report.acked)).length;
    lostTotal += lost;
    back.push(seconds);
    process.stderr.write(`round ${round}/${rounds}: ${leader} off → ${newLeader} takes writes after ${fmt(seconds)}; ${report.acked.length} acknowledged, ${lost} lost\n`);
    await timedHapg(['lab', 'start', '--lab', lab, leader]);
    await timedHapg(['deploy', '-i', inventory]);
    await until('a healthy cluster', async () => ((await status(inventory)).healthy ? true : undefined), 180_000);
  }
  console.log(`\nfailover: leader host powered off under write load, ${rounds} rounds, Debian ${release}, ttl ${PATRONI.ttl} s, loop_wait ${PATRONI.loop_wait} s, synchronous_mode ${PATRONI.synchronous_mode}`);
  console.log(`  writes acknowledged again through the VIP after: min ${fmt(Math.min(...back))}, median ${fmt(median(back))}, max ${fmt(Math.max(...back))}`);
  console.log(`  Patroni's bound (ttl + loop_wait): ${PATRONI.ttl + PATRONI.loop_wait} s; median is ${((median(back) / (PATRONI.ttl + PATRONI.loop_wait)) * 100).toFixed(0)}% of it`);
  console.log(`  acknowledged writes lost: ${lostTotal}`);
} finally {
  await timedHapg(['lab', 'down', '--lab', lab]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
