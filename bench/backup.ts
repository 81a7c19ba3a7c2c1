// bench/backup: on four hosts of a lab (pg31-pg33 members, pg34 the repository host by
// default), one cluster backed up to the repository host over SSH. Fills it with pgbench data
// of a given scale (scale 1 ≈ 15 MB; 150 ≈ 2.2 GB), then times and prints: a full backup, an
// incremental one after a short pgbench run, pg_basebackup of the same cluster from the leader
// to a replica's host (the reference: the median of three), a replica rebuilt from the
// repository (patronictl reinit, create_replica_methods pgbackrest first) with the bytes the
// leader sent meanwhile, and a restore of the whole cluster (hapg restore --to latest), with
// pgBackRest's restore throughput against the reference's. Prints figures, asserts nothing.
//
//   npx tsx bench/backup.ts LAB_INVENTORY [SCALE]      (default scale 20)
//
// Env: HAPG_BENCH_HOSTS (default pg31,pg32,pg33,pg34: the last is the repository host),
// HAPG_BENCH_COMPRESS (zst, lz4, gz, bz2 or none; default zst), HAPG_BENCH_DIR (its inventory
// and secrets, default /tmp/hapg-bench-backup: kept, so a second run meets the same cluster).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { fmt, timedHapg } from './lab.js';

const labInventory = path.resolve(process.argv[2] ?? 'inventories/lab.yml');
const scale = Number(process.argv[3] ?? 20);
const hosts = (process.env['HAPG_BENCH_HOSTS'] ?? 'pg31,pg32,pg33,pg34').split(',');
const compress = process.env['HAPG_BENCH_COMPRESS'] ?? 'zst';
const dir = process.env['HAPG_BENCH_DIR'] ?? '/tmp/hapg-bench-backup';
const inventory = path.join(dir, 'inventory.yml');
const members = hosts.slice(0, -1);
const repoHost = hosts.at(-1)!;
if (members.length < 2 || !Number.isInteger(scale) || scale < 1) throw new Error('usage: bench/backup.ts LAB_INVENTORY [SCALE]; HAPG_BENCH_HOSTS lists at least two members and the repository host');

const lab = YAML.parse(await readFile(labInventory, 'utf8'));
for (const h of hosts) if (!lab.hosts[h]) throw new Error(`${labInventory} has no host ${h}`);
const address = (h: string) => lab.hosts[h].address as string;

/** A shell command on a lab host as root, over the lab's SSH settings. */
async function onHost(host: string, command: string, stdin?: string): Promise<string> {
  const r = await execa(
    'ssh',
    ['-i', lab.ssh.identity_files[0], '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${lab.ssh.known_hosts}`, '-o', 'LogLevel=ERROR', `${lab.ssh.user}@${address(host)}`, command],
    { reject: false, ...(stdin !== undefined ? { input: stdin } : {}) },
  );
  if (r.exitCode !== 0) throw new Error(`${host}: ${command.split('\n')[0]}: ${r.stderr.slice(-400)}`);
  return r.stdout.trim();
}

const seconds = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};
const mb = (bytes: number) => bytes / 1048576;
const rate = (bytes: number, s: number) => `${(mb(bytes) / s).toFixed(1)} MB/s`;
/** Bytes a host has sent on eth0 (the lab gives each host one link; /proc/net/dev is its namespace's view). */
const txBytes = async (h: string) => Number(await onHost(h, `awk '/eth0:/ { sub(/.*:/, ""); print $9 }' /proc/net/dev`));

await mkdir(dir, { recursive: true });
await writeFile(
  inventory,
  YAML.stringify({
    ssh: lab.ssh,
    hosts: Object.fromEntries(hosts.map((h) => [h, lab.hosts[h]])),
    packages: lab.packages,
    etcd: { dc1: { hosts: members.length >= 3 ? members.slice(0, 3) : members.slice(0, 1) } },
    clusters: {
      main: {
        hosts: members,
        postgres: { version: lab.clusters.main.postgres.version, hba: lab.clusters.main.postgres.hba },
        backup: { repository: { host: repoHost }, compression: { type: compress }, archive_timeout: 60 },
      },
    },
  }),
);
const deploy = await timedHapg(['deploy', '-i', inventory]);
console.log(`deploy of main (${members.join(', ')}) backed up to ${repoHost}, compression ${compress}: ${fmt(deploy.seconds)}`);

interface Status {
  clusters: { members: { name: string; role: string; state: string }[] }[];
}
// status exits non-zero on a degraded cluster: its JSON is read either way.
const BIN = path.resolve(import.meta.dirname, '../bin/hapg.js');
const status = async () => JSON.parse((await execa('node', [BIN, 'status', '-i', inventory, '--json'], { reject: false })).stdout.trim().split('\n').at(-1)!) as Status;
const leaderOf = (s: Status) => s.clusters[0]!.members.find((m) => m.role === 'leader')!.name;
async function untilStreaming(member: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    const m = (await status().catch(() => undefined))?.clusters[0]!.members.find((x) => x.name === member);
    // Patroni 3.0 (Debian 12) reports a streaming replica as running.
    if (m?.state === 'streaming' || m?.state === 'running') return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${member} not streaming after 20 min`);
}
const pgbench = (args: string) => `runuser -u postgres -- sh -c 'cd / && exec "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pgbench" ${args} postgres'`;

let leader = leaderOf(await status());
const init = await seconds(() => onHost(leader, pgbench(`-i -q -s ${scale}`)));
const dbBytes = Number(await onHost(leader, `runuser -u postgres -- psql -XAtq -c "select sum(pg_database_size(oid)) from pg_database"`));
console.log(`pgbench -i -s ${scale} on ${leader}: ${fmt(init)}; databases ${mb(dbBytes).toFixed(0)} MB`);

interface Made {
  size: number;
  repoSize: number;
  start: number;
  stop: number;
  label: string;
}
async function backup(type: 'full' | 'incr'): Promise<Made & { seconds: number }> {
  const r = await timedHapg(['backup', 'run', '-i', inventory, '--cluster', 'main', '--type', type, '--json']);
  const made = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Made;
  return { ...made, seconds: r.seconds };
}
const full = await backup('full');
console.log(`full backup ${full.label}: ${fmt(full.seconds)} (hapg), ${full.stop - full.start} s (pgBackRest); ${mb(full.size).toFixed(0)} MB read, ${mb(full.repoSize).toFixed(0)} MB in the repository; ${rate(full.size, full.seconds)}`);

await onHost(leader, pgbench('-T 20 -c 4 -n'));
const incr = await backup('incr');
console.log(`incr backup ${incr.label} after 20 s of pgbench: ${fmt(incr.seconds)} (hapg), ${incr.stop - incr.start} s (pgBackRest); ${mb(incr.repoSize).toFixed(1)} MB in the repository`);

// The reference: pg_basebackup of the same cluster, from the leader to a replica's host, three
// times (its time varied from 5 s to 10 s between runs on the same data): the median counts.
// Each copy starts with the page cache's dirty pages written out (sync, not timed), as the
// restore below does, so neither pays for the writes of the step before it.
const secrets = YAML.parse(await readFile(path.join(dir, '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, string>;
const replica = members.find((m) => m !== leader)!;
const basebackupDir = '/var/tmp/hapg-bench-basebackup';
const bbRuns: number[] = [];
let bbSent = 0;
for (let run = 0; run < 3; run++) {
  await onHost(replica, `rm -rf ${basebackupDir}; sync`);
  const sent = await txBytes(leader);
  bbRuns.push(
    await seconds(() =>
      onHost(replica, `runuser -u postgres -- env PGPASSWORD="$(cat)" pg_basebackup -h ${address(leader)} -U replicator -D ${basebackupDir} -X stream -c fast`, secrets['clusters.main.replication']!),
    ),
  );
  bbSent = (await txBytes(leader)) - sent;
}
await onHost(replica, `rm -rf ${basebackupDir}`);
const bb = [...bbRuns].sort((a, b) => a - b)[1]!;
console.log(`pg_basebackup from ${leader} to ${replica}: median ${fmt(bb)} (${bbRuns.map(fmt).join(', ')}); ${rate(dbBytes, bb)}; the leader sent ${mb(bbSent).toFixed(0)} MB`);

// A replica rebuilt from the repository: Patroni's reinit with create_replica_methods [pgbackrest, basebackup].
let sent = await txBytes(leader);
const reinit = await seconds(async () => {
  await onHost(replica, `patronictl -c /etc/patroni/patroni.yml reinit --force --wait "$(sed -n 's/^scope: *//p' /etc/patroni/patroni.yml | tr -d "'\\"")" ${replica}`);
  await untilStreaming(replica);
});
const reinitSent = (await txBytes(leader)) - sent;
const how = (await onHost(replica, 'journalctl -u patroni --since "-30min" --no-pager | grep -o "replica has been created using [a-z_]*" | tail -1')).replace('replica has been created using ', '');
console.log(`replica ${replica} rebuilt (patronictl reinit, created by ${how}) to streaming: ${fmt(reinit)}; ${rate(dbBytes, reinit)}; the leader sent ${mb(reinitSent).toFixed(1)} MB (${((100 * reinitSent) / dbBytes).toFixed(1)} % of the databases)`);

// The whole cluster restored from the repository.
for (const h of members) await onHost(h, 'sync');
const restore = await timedHapg(['restore', '-i', inventory, '--cluster', 'main', '--to', 'latest', '--yes-replace-data']);
leader = leaderOf(await status());
console.log(`restore --to latest (stop, move aside, restore on one member, recover, full backup, replicas from the repository): ${fmt(restore.seconds)}; ${rate(dbBytes, restore.seconds)}; leader ${leader}`);
const restoreLog = await onHost(leader, 'grep -E "restore size|restore command end" /var/log/pgbackrest/main-restore.log | tail -2');
console.log(`  pgBackRest on ${leader}: ${restoreLog.split('\n').map((l) => l.replace(/^\S+ \S+ \S+ +\S+ /, '')).join('; ')}`);
const restoreMs = Number(/completed successfully \((\d+)ms\)/.exec(restoreLog)?.[1]);
if (restoreMs > 0) {
  const restoreSeconds = restoreMs / 1000;
  console.log(`  pgBackRest's restore: ${rate(dbBytes, restoreSeconds)}; against pg_basebackup's median ${rate(dbBytes, bb)}: ${(bb / restoreSeconds).toFixed(2)} (target >= 0.8)`);
}
console.log(`(restore moved the old data aside to DATA_DIR.hapg-restore-* on ${members.join(', ')}: remove it by hand)`);
