// bench/standby: on a two-datacenter lab (dc1: main on 3 hosts, dc2: standby on 2 hosts, an
// etcd per datacenter), deploys both clusters, then rebuilds the standby cluster N times
// (default 10) while a client writes to main (every 5th row 8 kB, stored out of line). Each
// rebuild wipes the standby, bootstraps it with bootstrap.dcs.standby_cluster and verifies the
// copy (system identifier, an out-of-line row read back on every member). After each round the
// whole table is compared between main's leader and every standby member. Prints the success
// count and the time to streaming (standby leader started → streaming, slot active).
//
//   npx tsx bench/standby.ts [--rounds N] [--release trixie|bookworm] [--lab NAME]
//   (as root; recreates that lab, `bench-standby` by default)
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { LAB_RELEASES } from '../src/lab/releases.js';
import { startWriteLoad, tableDigest, type PgTarget } from '../test/support/write-load.js';
import { fmt, hapgResult, timedHapg } from './lab.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, release: { type: 'string', default: 'trixie' }, lab: { type: 'string', default: 'bench-standby' } } });
const rounds = Number(values.rounds);
if (!(values.release in LAB_RELEASES)) throw new Error(`--release ${values.release}: expected ${Object.keys(LAB_RELEASES).join(' or ')}`);
const dir = await mkdtemp(path.join(tmpdir(), 'hapg-bench-standby-'));
const inventory = path.join(dir, 'lab.yml');
await timedHapg(['lab', 'down', '--lab', values.lab]);
await timedHapg(['lab', 'up', '--lab', values.lab, '--release', values.release, '--hosts', '5', '--datacenters', '2', '--out', inventory]);
// The writer logs in as an application user (hapg lets no superuser in over the network).
const inv = YAML.parse(await readFile(inventory, 'utf8'));
inv.clusters.main.postgres.users = { app: { options: ['LOGIN'] } };
inv.clusters.main.postgres.databases = { app: { owner: 'app' } };
await writeFile(inventory, YAML.stringify(inv));
const deploy = await timedHapg(['deploy', '-i', inventory, '--json']);
console.log(`deploy of main (3 hosts) and its standby cluster (2 hosts) from bare hosts: ${fmt(deploy.seconds)}`);

const secrets = YAML.parse(await readFile(path.join(dir, '.hapg', 'lab.secrets.yml'), 'utf8')) as Record<string, string>;
const password = secrets['clusters.main.users.app']!;
const target = (host: string, port: number): PgTarget => ({ host, port, user: 'app', password, database: 'app' });
const mainHosts: string[] = inv.clusters.main.hosts;
const standbyHosts: string[] = inv.clusters.standby.hosts;
const address = (h: string) => inv.hosts[h].address as string;

interface Round {
  ok: boolean;
  streamingSeconds?: number;
  rebuildSeconds?: number;
  error?: string;
}
const results: Round[] = [];
for (let i = 1; i <= rounds; i++) {
  const load = await startWriteLoad(target(inv.clusters.main.vip.address, 5000), { table: 'bench_standby', largeEvery: 5, largeBytes: 8192, intervalMs: 5 });
  try {
    const rebuild = await timedHapg(['standby', 'rebuild', '-i', inventory, '--cluster', 'standby', '--yes-wipe-data', '--json']);
    const report = await load.stop();
    const events = rebuild.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; message?: string; title?: string; host?: string; ms?: number });
    // From the standby leader's `start patroni` to the end of the wait for it to run as standby
    // leader with its WAL receiver streaming from main and the slot on main's leader active.
    const streamed = events.find((e) => e.kind === 'waited' && /to run as standby leader of standby, streaming from main/.test(e.title ?? ''));
    const started = streamed && events.find((e) => e.kind === 'change' && e.title === 'start patroni' && e.host === streamed.host);
    const streamingSeconds = streamed?.ms !== undefined && started?.ms !== undefined ? (streamed.ms - started.ms) / 1000 : undefined;
    const leaderSeen = events.some((e) => e.message?.includes('reported the leader role at'));
    // The copy itself: every row, every out-of-line value, on every standby member.
    // main's leader as hapg reports it (TLS or not, whatever the Patroni version calls the role).
    const status = await hapgResult<{ clusters: { name: string; members: { name: string; role: string }[] }[] }>(['status', '-i', inventory]);
    const leader = status.clusters.find((c) => c.name === 'main')?.members.find((m) => m.role === 'leader')?.name;
    const want = await tableDigest(target(address(leader!), 5432), 'bench_standby');
    let same = true;
    for (const h of standbyHosts) {
      const deadline = Date.now() + 60_000;
      let got = await tableDigest(target(address(h), 5432), 'bench_standby');
      while (got.digest !== want.digest && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        got = await tableDigest(target(address(h), 5432), 'bench_standby');
      }
      if (got.digest !== want.digest) same = false;
    }
    const ok = streamingSeconds !== undefined && !leaderSeen && same;
    results.push({ ok, streamingSeconds, rebuildSeconds: rebuild.seconds, ...(ok ? {} : { error: !same ? 'data differs' : leaderSeen ? 'leader role seen' : 'no streaming event' }) });
    console.log(`round ${i}: ${ok ? 'ok' : 'FAILED'}; streaming ${streamingSeconds !== undefined ? `${streamingSeconds.toFixed(1)} s` : '-'} after start; rebuild ${fmt(rebuild.seconds)}; ${report.acked.length} rows written meanwhile, ${want.rows} compared on ${standbyHosts.join(', ')}${ok ? '' : ` (${results.at(-1)!.error})`}`);
  } catch (err) {
    await load.stop();
    results.push({ ok: false, error: err instanceof Error ? err.message : String(err) });
    console.log(`round ${i}: FAILED: ${results.at(-1)!.error}`);
  }
}
await timedHapg(['lab', 'down', '--lab', values.lab]);

const times = results.flatMap((r) => (r.ok && r.streamingSeconds !== undefined ? [r.streamingSeconds] : [])).sort((a, b) => a - b);
const rebuilds = results.flatMap((r) => (r.ok && r.rebuildSeconds !== undefined ? [r.rebuildSeconds] : [])).sort((a, b) => a - b);
const median = (xs: number[]) => (xs.length ? (xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2) : NaN);
console.log(`standby bootstrap (rebuild) under write load: ${results.filter((r) => r.ok).length} of ${rounds} reached streaming with identical data and no leader role`);
console.log(`time to streaming: min ${fmt(times[0] ?? NaN)}, median ${fmt(median(times))}, max ${fmt(times.at(-1) ?? NaN)}`);
console.log(`whole rebuild (stop, wipe, bootstrap, verify): min ${fmt(rebuilds[0] ?? NaN)}, median ${fmt(median(rebuilds))}, max ${fmt(rebuilds.at(-1) ?? NaN)}`);
