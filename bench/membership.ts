// bench/membership: day-2 membership changes on a live cluster under write load, timed. One
// cluster on pg1-pg3 (etcd, Patroni, HAProxy and the VIP on the same hosts) in a lab of its own;
// a client writes numbered rows through the VIP's read-write port during each deploy:
//   1. etcd 3 → 4: pg4 joins as a learner, promoted (the time to add one etcd member);
//   2. etcd 4 → 5: pg5 joins;
//   3. etcd 5 → 3: pg3 and pg5 leave (pg1, pg2, pg4 stay);
//   4. PostgreSQL: pg6 joins the cluster as a replica (the time to add one replica);
//   5. replace: pg4's power is cut for good, pg7 takes its place in etcd (dead member removed, new one joins).
// Prints, per step, the deploy's seconds, the longest write gap, failed write attempts and
// acknowledged rows missing on the leader (must be 0). Target: write gaps under 1 s, since etcd
// membership should not pause writes.
//
//   npx tsx bench/membership.ts [--release trixie|bookworm] [--lab NAME]
//
// As root. The lab (default `bench-membership`, 7 hosts) is created and removed.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { postgresMajorOf, type LabRelease } from '../src/lab/releases.js';
import { missingRows, startWriteLoad, type PgTarget } from '../test/support/write-load.js';
import { fmt, timedHapg } from './lab.js';

const { values } = parseArgs({ options: { release: { type: 'string', default: 'trixie' }, lab: { type: 'string', default: 'bench-membership' } } });
const release = values.release as LabRelease;
const lab = values.lab;
const PG = ['pg1', 'pg2', 'pg3'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Status { clusters: { members: { name: string; role: string }[] }[]; healthy: boolean }

const dir = await mkdtemp(path.join(tmpdir(), 'hapg-bench-membership-'));
try {
  const labInventory = path.join(dir, 'lab.yml');
  await timedHapg(['lab', 'down', '--lab', lab]);
  await timedHapg(['lab', 'up', '--lab', lab, '--hosts', '7', '--release', release, '--out', labInventory]);
  const base = YAML.parse(await readFile(labInventory, 'utf8'));
  const subnet = (base.hosts.pg1.address as string).split('.').slice(0, 3).join('.');
  const vip = `${subnet}.100`;
  const inventory = path.join(dir, 'inventory.yml');
  const doc = {
    ssh: base.ssh,
    hosts: base.hosts,
    packages: base.packages,
    etcd: { dc1: { hosts: [...PG] } },
    clusters: {
      main: {
        hosts: [...PG],
        postgres: { version: postgresMajorOf(release), hba: base.clusters.main.postgres.hba, users: { app: { options: ['LOGIN'] } }, databases: { app: { owner: 'app' } } },
        haproxy: { hosts: [...PG] },
        vip: { address: vip, interface: 'eth0', router_id: 53 },
      },
    },
  };
  const save = () => writeFile(inventory, YAML.stringify(doc));
  await save();
  const initial = await timedHapg(['deploy', '-i', inventory]);
  const secrets = YAML.parse(await readFile(path.join(dir, '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
  const app: PgTarget = { host: vip, port: 5000, user: 'app', password: secrets['clusters.main.users.app']!, database: 'app' };

  const rows: string[] = [];
  let lostTotal = 0;
  let worstGap = 0;
  const step = async (label: string, table: string) => {
    const load = await startWriteLoad(app, { table, intervalMs: 10 });
    await sleep(2000);
    const { seconds } = await timedHapg(['deploy', '-i', inventory]);
    await sleep(1000);
    const report = await load.stop();
    const { stdout } = await timedHapg(['status', '-i', inventory, '--json']);
    const st = JSON.parse(stdout.trim().split('\n').at(-1)!) as Status;
    const leader = st.clusters[0]!.members.find((m) => m.role === 'leader')!.name;
    const lost = (await missingRows({ ...app, host: base.hosts[leader].address, port: 5432 }, table, report.acked)).length;
    lostTotal += lost;
    if (table.startsWith('etcd')) worstGap = Math.max(worstGap, report.longestGapMs);
    rows.push(`  ${label.padEnd(44)} ${fmt(seconds).padStart(8)}   gap ${String(report.longestGapMs).padStart(5)} ms   failed ${String(report.failedAttempts).padStart(3)}   acked ${String(report.acked.length).padStart(5)}   lost ${lost}`);
    process.stderr.write(`${rows.at(-1)!.trim()}\n`);
  };

  doc.etcd.dc1.hosts = [...PG, 'pg4'];
  await save();
  await step('etcd 3 → 4 (pg4 joins as a learner)', 'etcd_grow4');
  doc.etcd.dc1.hosts = [...PG, 'pg4', 'pg5'];
  await save();
  await step('etcd 4 → 5 (pg5 joins as a learner)', 'etcd_grow5');
  doc.etcd.dc1.hosts = ['pg1', 'pg2', 'pg4'];
  await save();
  await step('etcd 5 → 3 (pg3, pg5 leave)', 'etcd_shrink');
  doc.clusters.main.hosts = [...PG, 'pg6'];
  await save();
  await step('PostgreSQL 3 → 4 (pg6 joins as a replica)', 'pg_add');
  await timedHapg(['lab', 'stop', '--hard', '--lab', lab, 'pg4']);
  delete (doc.hosts as Record<string, unknown>)['pg4'];
  doc.etcd.dc1.hosts = ['pg1', 'pg2', 'pg7'];
  await save();
  await step('etcd replace (pg4 powered off → pg7)', 'etcd_replace');

  console.log(`\nmembership: one cluster of three hosts under write load (every 10 ms through the VIP), Debian ${release}; initial deploy ${fmt(initial.seconds)}`);
  console.log(`  ${'step'.padEnd(44)} ${'deploy'.padStart(8)}`);
  for (const r of rows) console.log(r);
  console.log(`  longest write gap during the etcd changes: ${worstGap} ms (target < 1000 ms)`);
  console.log(`  acknowledged writes lost: ${lostTotal}`);
} finally {
  await timedHapg(['lab', 'down', '--lab', lab]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
