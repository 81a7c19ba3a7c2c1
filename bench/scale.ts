// bench/scale: many clusters and many hosts in one run. On one lab of 12 fresh hosts per
// round (Debian 13 by default, warm apt cache):
//   - 1 cluster of 3 hosts (etcd on the same hosts);
//   - 4 clusters of 3 hosts each, one etcd cluster on the first 3 (independent clusters run
//     side by side: lanes of the stage graph);
// each followed by its no-op re-run and a `plan` against the deployed hosts, so the cost per
// host of fact gathering and planning shows (3 hosts vs 12 hosts); then, on fresh hosts again,
// the hand-written reference's `apt-get install` alone (bench/minimal-deploy.ts) on 3 and on
// 12 hosts at once: the part of the deploy this machine's cores bound, whatever the tool.
// Prints the median seconds of each stage of both deploys.
//
//   npx tsx bench/scale.ts [--rounds N] [--release trixie|bookworm] [--lab NAME]
//
// As root. Uses its own lab (default `bench-scale`), recreated for every deploy and removed at the end.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { LAB_RELEASES, type LabRelease } from '../src/lab/releases.js';
import { fmt, phaseSeconds, timedHapg } from './lab.js';
import { minimalInstall } from './minimal-deploy.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '1' }, release: { type: 'string', default: 'trixie' }, lab: { type: 'string', default: 'bench-scale' } } });
const release = values.release as LabRelease;
if (!(release in LAB_RELEASES)) throw new Error(`--release ${release}: expected trixie or bookworm`);
const rounds = Number(values.rounds);
const lab = values.lab;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A fresh lab of 12 hosts; returns its inventory. */
async function freshLab(dir: string): Promise<string> {
  const labInventory = path.join(dir, 'lab.yml');
  await timedHapg(['lab', 'down', '--lab', lab]);
  await timedHapg(['lab', 'up', '--lab', lab, '--hosts', '12', '--release', release, '--out', labInventory]);
  return labInventory;
}

/** A fresh lab of 12 hosts, and an inventory of `clusters` clusters of 3 hosts on it. */
async function freshInventory(dir: string, clusters: number): Promise<string> {
  const labInventory = await freshLab(dir);
  const base = YAML.parse(await readFile(labInventory, 'utf8'));
  const template = base.clusters.main;
  const names = Array.from({ length: clusters }, (_, i) => `c${i + 1}`);
  const hostsOf = (i: number) => [1, 2, 3].map((n) => `pg${i * 3 + n}`);
  const used = names.flatMap((_, i) => hostsOf(i));
  const doc = {
    ssh: base.ssh,
    packages: base.packages,
    hosts: Object.fromEntries(used.map((h) => [h, base.hosts[h]])),
    etcd: { dc1: { hosts: hostsOf(0) } },
    clusters: Object.fromEntries(
      names.map((name, i) => [
        name,
        {
          etcd: 'dc1',
          hosts: hostsOf(i),
          postgres: { version: template.postgres.version, hba: template.postgres.hba },
          haproxy: { hosts: hostsOf(i) },
          vip: { address: template.vip.address.replace(/\.\d+$/, `.${100 + i}`), interface: 'eth0', router_id: 51 + i },
        },
      ]),
    ),
  };
  const file = path.join(dir, `scale-${clusters}.yml`);
  await writeFile(file, YAML.stringify(doc));
  return file;
}

interface Round { deploy: number; noop: number; noopChanges: number; plan: number; phases: Map<string, number>; install: number }

async function measure(inventory: string): Promise<Round> {
  const deploy = await timedHapg(['deploy', '-i', inventory, '--json']);
  const noop = await timedHapg(['deploy', '-i', inventory, '--json']);
  const plan = await timedHapg(['plan', '-i', inventory, '--json']);
  const noopChanges = (JSON.parse(noop.stdout.trim().split('\n').at(-1)!) as { changes: number }).changes;
  return { deploy: deploy.seconds, noop: noop.seconds, noopChanges, plan: plan.seconds, phases: phaseSeconds(deploy.stdout), install: 0 };
}

const dir = await mkdtemp(path.join(tmpdir(), 'hapg-bench-scale-'));
const results: Record<'one' | 'four', Round[]> = { one: [], four: [] };
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['one', 'four'] as const) : (['four', 'one'] as const);
    for (const which of order) {
      const r = await measure(await freshInventory(dir, which === 'one' ? 1 : 4));
      // The physical part: the hand-written reference's package installation on as many fresh hosts, all at once.
      r.install = await minimalInstall(await freshLab(dir), which === 'one' ? 3 : 12);
      results[which].push(r);
      process.stderr.write(`round ${round + 1}/${rounds} ${which === 'one' ? '1×3' : '4×3'}: deploy ${fmt(r.deploy)}, no-op ${fmt(r.noop)} (${r.noopChanges} changes), plan ${fmt(r.plan)}, apt-get install alone ${fmt(r.install)}\n`);
    }
  }
  const line = (label: string, rs: Round[]) =>
    console.log(`  ${label}: deploy median ${fmt(median(rs.map((r) => r.deploy)))}, no-op re-run ${fmt(median(rs.map((r) => r.noop)))}, plan ${fmt(median(rs.map((r) => r.plan)))}`);
  console.log(`\nscale, Debian ${LAB_RELEASES[release].debian}, ${rounds} round(s), fresh hosts for every deploy, warm apt cache`);
  line('1 cluster of 3 hosts  ', results.one);
  line('4 clusters of 3 hosts ', results.four);
  const ratio = (f: (r: Round) => number) => (median(results.four.map(f)) / median(results.one.map(f))).toFixed(2);
  console.log(`  4×3 / 1×3 deploy time: ${ratio((r) => r.deploy)} (serial clusters would approach 4)`);
  console.log(`  hand-written apt-get install alone, 3 vs 12 hosts at once: ${fmt(median(results.one.map((r) => r.install)))} vs ${fmt(median(results.four.map((r) => r.install)))} (× ${ratio((r) => r.install)})`);
  console.log(`  median seconds per stage (lanes: the clusters' stages side by side):  ${'1×3'.padStart(8)} ${'4×3'.padStart(8)}`);
  const stages = [...new Set([...results.one, ...results.four].flatMap((r) => [...r.phases.keys()]))];
  const at = (rs: Round[], stage: string) => (rs.some((r) => r.phases.has(stage)) ? fmt(median(rs.map((r) => r.phases.get(stage) ?? 0))) : '-');
  for (const stage of stages) console.log(`    ${stage.slice(0, 64).padEnd(66)} ${at(results.one, stage).padStart(8)} ${at(results.four, stage).padStart(8)}`);
} finally {
  await timedHapg(['lab', 'down', '--lab', lab]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
