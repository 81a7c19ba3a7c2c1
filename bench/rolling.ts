// bench/rolling: on three hosts of the local lab (pg14-pg16 by default), one cluster with etcd,
// HAProxy and the VIP on the same hosts; a client writes numbered rows through the VIP's
// read-write port while `hapg deploy` raises max_connections and changes shared_buffers (a
// rolling restart: replicas one at a time, a switchover, the old leader). Prints the deploy
// time, the longest gap between two acknowledged writes, the failed write attempts, and the
// acknowledged rows missing afterwards on any member (must be 0).
//
//   npx tsx bench/rolling.ts [LAB_INVENTORY]      (default inventories/lab.yml, from `hapg lab up`)
//
// Env: HAPG_BENCH_HOSTS (default pg14,pg15,pg16), HAPG_BENCH_VIP (default 10.213.77.102),
// HAPG_BENCH_DIR (where its inventory and secrets live, default /tmp/hapg-bench-rolling: kept,
// so a second run converges the same cluster instead of meeting it with new passwords).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { missingRows, startWriteLoad, tableDigest, type PgTarget } from '../test/support/write-load.js';
import { fmt, timedHapg } from './lab.js';

const labInventory = path.resolve(process.argv[2] ?? 'inventories/lab.yml');
const hosts = (process.env['HAPG_BENCH_HOSTS'] ?? 'pg14,pg15,pg16').split(',');
const vip = process.env['HAPG_BENCH_VIP'] ?? '10.213.77.102';
const dir = process.env['HAPG_BENCH_DIR'] ?? '/tmp/hapg-bench-rolling';
const inventory = path.join(dir, 'inventory.yml');
const BIN = path.resolve(import.meta.dirname, '../bin/hapg.js');
const BEFORE = { max_connections: 100, shared_buffers: '128MB' };
const AFTER = { max_connections: 150, shared_buffers: '256MB' };

/** The bench cluster's inventory with these PostgreSQL parameters (the lab's ssh and package settings). */
async function writeBenchInventory(parameters: Record<string, unknown>): Promise<void> {
  const lab = YAML.parse(await readFile(labInventory, 'utf8'));
  const labHosts = lab.hosts as Record<string, unknown>;
  for (const h of hosts) if (!labHosts[h]) throw new Error(`${labInventory} has no host ${h}`);
  await mkdir(dir, { recursive: true });
  await writeFile(
    inventory,
    YAML.stringify({
      ssh: lab.ssh,
      hosts: Object.fromEntries(hosts.map((h) => [h, labHosts[h]])),
      packages: lab.packages,
      etcd: { dc1: { hosts } },
      clusters: {
        main: {
          hosts,
          postgres: {
            // The lab's release decides the major version (Debian 12 ships 15, Debian 13 17).
            version: lab.clusters.main.postgres.version,
            parameters,
            hba: lab.clusters.main.postgres.hba,
            users: { app: { options: ['LOGIN'] } },
            databases: { app: { owner: 'app' } },
          },
          haproxy: {},
          vip: { address: vip, interface: lab.clusters.main.vip.interface, router_id: 53 },
        },
      },
    }),
  );
}

interface Status {
  healthy: boolean;
  clusters: { members: { name: string; host: string; role: string }[] }[];
}

/** `hapg status` once the cluster is healthy (a demoted leader reports its timeline a loop later). */
async function healthyStatus(): Promise<Status> {
  for (let i = 0; ; i++) {
    const r = await execa('node', [BIN, 'status', '-i', inventory, '--json'], { reject: false });
    const s = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Status;
    if (s.healthy) return s;
    if (i === 60) throw new Error('the bench cluster did not become healthy within a minute (hapg status)');
    await new Promise((res) => setTimeout(res, 1000));
  }
}

// Start from the "before" values (a first run deploys the cluster; a later one restores them).
await writeBenchInventory(BEFORE);
const setup = await timedHapg(['deploy', '-i', inventory, '--json']);
const secrets = YAML.parse(await readFile(path.join(dir, '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
const app: PgTarget = { host: vip, port: 5000, user: 'app', password: secrets['clusters.main.users.app']!, database: 'app' };
const status = await healthyStatus();
const members = status.clusters[0]!.members;
const leaderBefore = members.find((m) => m.role === 'leader')?.name;

await writeBenchInventory(AFTER);
const table = `bench_rolling_${Date.now()}`;
const load = await startWriteLoad(app, { table, largeEvery: 20, largeBytes: 8192, intervalMs: 10 });
await new Promise((r) => setTimeout(r, 2000));
const change = await timedHapg(['deploy', '-i', inventory, '--json']);
await new Promise((r) => setTimeout(r, 2000));
const report = await load.stop();

// Every acknowledged row on every member (replicas get a moment to replay the last ones).
const lost = new Map<string, number>();
const digests = new Set<string>();
for (const m of members) {
  const target = { ...app, host: m.host, port: 5432 };
  let missing: number[] = [];
  for (let i = 0; i < 30; i++) {
    missing = await missingRows(target, table, report.acked);
    if (missing.length === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  lost.set(m.name, missing.length);
  digests.add((await tableDigest(target, table)).digest);
}
const events = change.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; host?: string; title?: string });
const restarts = events.filter((e) => e.kind === 'change' && e.title === 'restart PostgreSQL (pending restart)').map((e) => e.host);
const switchover = events.find((e) => e.kind === 'change' && e.title?.startsWith('switchover '))?.title;
const maxLost = Math.max(...lost.values());
const after = await healthyStatus();

console.log(`hapg rolling restart under write load: ${hosts.join(', ')}, max_connections ${BEFORE.max_connections} → ${AFTER.max_connections}, shared_buffers ${BEFORE.shared_buffers} → ${AFTER.shared_buffers}`);
console.log(`  setup deploy (not measured):      ${fmt(setup.seconds)}`);
console.log(`  leader before:                    ${leaderBefore ?? '?'}; restarted: ${restarts.join(', ') || 'none'}; ${switchover ?? 'no switchover'}`);
console.log(`total time (hapg deploy):           ${fmt(change.seconds)}`);
console.log(`writes acknowledged:                ${report.acked.length} in ${fmt(report.durationMs / 1000)} (${(report.acked.length / (report.durationMs / 1000)).toFixed(0)}/s, every 20th row 8 KiB out of line)`);
console.log(`longest gap in successful writes:   ${(report.longestGapMs / 1000).toFixed(2)} s (target < 5 s: ${report.longestGapMs < 5000 ? 'met' : 'MISSED'})`);
console.log(`failed write attempts:              ${report.failedAttempts}${report.lastError ? ` (last: ${report.lastError})` : ''}`);
console.log(`acknowledged rows lost:             ${maxLost} (${[...lost].map(([h, n]) => `${h} ${n}`).join(', ')}; must be 0: ${maxLost === 0 ? 'met' : 'MISSED'})`);
console.log(`members with identical tables:      ${digests.size === 1 ? 'yes' : `NO (${digests.size} different digests)`}; leader now ${after.clusters[0]!.members.find((m) => m.role === 'leader')?.name}, cluster healthy`);
