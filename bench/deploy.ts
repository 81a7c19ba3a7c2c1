// bench/deploy: hapg against a hand-written minimal deploy (bench/minimal-deploy.ts) of the same
// packages on the same lab, alternating, fresh hosts every round, warm apt cache. Per release:
//   - hapg deploy from bare hosts to a verified healthy cluster (3 hosts, every role), with the
//     time each stage took, and the no-op re-run right after it;
//   - the same hapg deploy with `tls: false` (plain etcd, REST API and replication): what TLS
//     and etcd authentication, on by default, cost (target <= 10 %);
//   - that plaintext cluster then converted to TLS by deploy while a client writes through the
//     VIP every 10 ms: how long the conversion took, the longest write gap (target <= 5 s),
//     failed write attempts and acknowledged rows lost (target 0);
//   - the minimal deploy (install, etcd + Patroni bootstrap, HAProxy + keepalived);
//   - the ratio of the medians (target <= 1.2).
//
//   npx tsx bench/deploy.ts [--release trixie|bookworm|both] [--rounds N] [--lab NAME]
//
// As root. Uses its own lab (default `bench`), which it recreates every round and removes at
// the end; a lab of another name is left alone.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { LAB_RELEASES, type LabRelease } from '../src/lab/releases.js';
import { fmt, phaseSeconds, timedHapg } from './lab.js';
import { minimalDeploy } from './minimal-deploy.js';
import { missingRows, startWriteLoad, type PgTarget } from '../test/support/write-load.js';

const { values } = parseArgs({ options: { release: { type: 'string', default: 'both' }, rounds: { type: 'string', default: '3' }, lab: { type: 'string', default: 'bench' } } });
const releases: LabRelease[] = values.release === 'both' ? ['trixie', 'bookworm'] : [values.release as LabRelease];
for (const r of releases) if (!(r in LAB_RELEASES)) throw new Error(`--release ${r}: expected trixie, bookworm or both`);
const rounds = Number(values.rounds);
const lab = values.lab;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const range = (xs: number[]) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;

/** A fresh 3-host lab of the release; returns its inventory. */
async function freshLab(release: LabRelease, dir: string): Promise<string> {
  const inventory = path.join(dir, `lab-${release}.yml`);
  await timedHapg(['lab', 'down', '--lab', lab]);
  await timedHapg(['lab', 'up', '--lab', lab, '--hosts', '3', '--release', release, '--out', inventory]);
  return inventory;
}

type LabDoc = { clusters: Record<string, { tls?: boolean; vip?: { address: string }; postgres: { users?: unknown; databases?: unknown } }> };

/** The lab's inventory with every cluster opted out of TLS and an application role `app` to write with (written beside it). */
async function plainInventory(inventory: string): Promise<string> {
  const doc = YAML.parse(await readFile(inventory, 'utf8')) as LabDoc;
  for (const cluster of Object.values(doc.clusters)) {
    cluster.tls = false;
    cluster.postgres.users = { app: { options: ['LOGIN'] } };
    cluster.postgres.databases = { app: { owner: 'app' } };
  }
  const plain = inventory.replace(/\.yml$/, '-plain.yml');
  await writeFile(plain, YAML.stringify(doc));
  return plain;
}

interface Conversion { seconds: number; acked: number; failed: number; longestGapMs: number; lost: number }

/** The plaintext cluster of `plain` converted to TLS by deploy under a write load through its VIP. */
async function conversionRound(plain: string): Promise<Conversion> {
  const doc = YAML.parse(await readFile(plain, 'utf8')) as LabDoc & { hosts: Record<string, { address: string }>; secrets_file: string };
  const main = doc.clusters['main']!;
  const secrets = YAML.parse(await readFile(path.resolve(path.dirname(plain), doc.secrets_file), 'utf8')) as Record<string, string>;
  const app: PgTarget = { host: main.vip!.address, port: 5000, user: 'app', password: secrets['clusters.main.users.app']!, database: 'app' };
  delete main.tls;
  await writeFile(plain, YAML.stringify(doc));
  const table = `bench_convert_${Date.now()}`;
  const load = await startWriteLoad(app, { table, intervalMs: 10 });
  await new Promise((r) => setTimeout(r, 2000));
  const run = await timedHapg(['deploy', '-i', plain, '--json']);
  await new Promise((r) => setTimeout(r, 2000));
  const report = await load.stop();
  let lost = 0;
  for (const host of Object.values(doc.hosts)) {
    let missing: number[] = [];
    for (let i = 0; i < 30; i++) {
      missing = await missingRows({ ...app, host: host.address, port: 5432 }, table, report.acked);
      if (missing.length === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    lost = Math.max(lost, missing.length);
  }
  return { seconds: run.seconds, acked: report.acked.length, failed: report.failedAttempts, longestGapMs: report.longestGapMs, lost };
}

interface HapgRound { deploy: number; noop: number; noopChanges: number; phases: Map<string, number> }

async function hapgRound(inventory: string): Promise<HapgRound> {
  const deploy = await timedHapg(['deploy', '-i', inventory, '--json']);
  const noop = await timedHapg(['deploy', '-i', inventory, '--json']);
  const noopChanges = (JSON.parse(noop.stdout.trim().split('\n').at(-1)!) as { changes: number }).changes;
  return { deploy: deploy.seconds, noop: noop.seconds, noopChanges, phases: phaseSeconds(deploy.stdout) };
}

const dir = await mkdtemp(path.join(tmpdir(), 'hapg-bench-deploy-'));
try {
  for (const release of releases) {
    const hapgRounds: HapgRound[] = [];
    const plainRounds: HapgRound[] = [];
    const conversions: Conversion[] = [];
    const minimal: Awaited<ReturnType<typeof minimalDeploy>>[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so a warming cache or a busy neighbour favours neither.
      const order = round % 2 === 0 ? (['hapg', 'plain', 'minimal'] as const) : (['minimal', 'plain', 'hapg'] as const);
      for (const which of order) {
        const inventory = await freshLab(release, dir);
        if (which === 'hapg') hapgRounds.push(await hapgRound(inventory));
        else if (which === 'plain') {
          const plain = await plainInventory(inventory);
          plainRounds.push(await hapgRound(plain));
          // Debian 12's etcd 3.4 cannot be converted live (hapg refuses): trixie only.
          if (release === 'trixie') conversions.push(await conversionRound(plain));
        }
        else minimal.push(await minimalDeploy(inventory));
      }
      process.stderr.write(`${release} round ${round + 1}/${rounds}: hapg ${fmt(hapgRounds.at(-1)!.deploy)}, hapg tls: false ${fmt(plainRounds.at(-1)!.deploy)}, minimal ${fmt(minimal.at(-1)!.total)}\n`);
    }
    const deploys = hapgRounds.map((r) => r.deploy);
    const noops = hapgRounds.map((r) => r.noop);
    const totals = minimal.map((m) => m.total);
    console.log(`\n${release} (Debian ${LAB_RELEASES[release].debian}, PostgreSQL ${LAB_RELEASES[release].postgres}), 3 hosts, every role, ${rounds} rounds, warm apt cache`);
    console.log(`  hapg deploy, median seconds per stage:  ${'TLS'.padStart(8)} ${'tls: false'.padStart(11)}`);
    const stages = [...new Set([...hapgRounds, ...plainRounds].flatMap((r) => [...r.phases.keys()]))];
    const stageMedian = (rs: HapgRound[], stage: string) => (rs.some((r) => r.phases.has(stage)) ? fmt(median(rs.map((r) => r.phases.get(stage) ?? 0))) : '-');
    for (const stage of stages) console.log(`    ${stage.padEnd(45)} ${stageMedian(hapgRounds, stage).padStart(8)} ${stageMedian(plainRounds, stage).padStart(11)}`);
    console.log(`  hapg deploy from bare hosts:     median ${fmt(median(deploys))} (${range(deploys)})`);
    console.log(`  hapg no-op re-run:               median ${fmt(median(noops))} (${range(noops)}), changes ${hapgRounds.map((r) => r.noopChanges).join('/')}`);
    const plain = plainRounds.map((r) => r.deploy);
    console.log(`  hapg deploy with tls: false:     median ${fmt(median(plain))} (${range(plain)}); TLS and etcd authentication add ${((median(deploys) / median(plain) - 1) * 100).toFixed(1)} % (target <= 10 %)`);
    if (conversions.length) {
      const gaps = conversions.map((c) => c.longestGapMs / 1000);
      const took = conversions.map((c) => c.seconds);
      console.log(`  plaintext -> TLS conversion:     median ${fmt(median(took))} (${range(took)}); longest write gap median ${fmt(median(gaps))} (${range(gaps)}; target <= 5 s); ${conversions.map((c) => c.acked).join('/')} rows acknowledged, ${conversions.map((c) => c.failed).join('/')} failed attempts, ${conversions.map((c) => c.lost).join('/')} lost (target 0)`);
    }
    console.log(`  minimal deploy:                  median ${fmt(median(totals))} (${range(totals)}): install ${fmt(median(minimal.map((m) => m.install)))}, bootstrap ${fmt(median(minimal.map((m) => m.bootstrap)))}, HAProxy+keepalived ${fmt(median(minimal.map((m) => m.edge)))}`);
    // The minimal deploy is plain (no CA, no certificates, etcd open): compared like for like too.
    console.log(`  ratio of medians hapg/minimal:   ${(median(deploys) / median(totals)).toFixed(2)} with TLS, ${(median(plain) / median(totals)).toFixed(2)} with tls: false (target <= 1.2)`);
  }
} finally {
  await timedHapg(['lab', 'down', '--lab', lab]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
