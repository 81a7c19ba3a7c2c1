// Brings up a fresh shared lab once for every e2e test file and tears it down afterwards
// (unless HAPG_KEEP_LAB=1). Never skips: without root or the lab's tools, `lab up` installs
// what it can and otherwise fails with its one-line error, which fails the run.
//
// The lab is the one HAPG_LAB names (default: `default`), of HAPG_E2E_RELEASE (default:
// trixie). A second lab of bookworm hosts comes up beside it, in parallel, provided as
// `labBookworm` (the Debian 12 tests); both go down at the end.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import YAML from 'yaml';
import { labDown, labUp } from '../../src/lab/lab.js';
import { DEFAULT_SUBNET } from '../../src/lab/layout.js';
import { DEFAULT_LAB, labPaths, type LabPaths } from '../../src/lab/paths.js';
import { DEFAULT_RELEASE, parseRelease, type LabRelease } from '../../src/lab/releases.js';
import { readLabState } from '../../src/lab/state.js';
import { createReporter } from '../../src/ui/reporter.js';
import type { LabContext } from './lab-context.js';

/** The tests' view of the lab, read back from the inventory `lab up` wrote (as a user would). */
async function labContextFrom(inventoryPath: string, bridgeAddress: string, release: LabRelease): Promise<LabContext> {
  const inventory = YAML.parse(await readFile(inventoryPath, 'utf8')) as {
    ssh: { user: string; identity_files: string[]; known_hosts: string };
    hosts: Record<string, { address: string; datacenter: string }>;
  };
  const identityFile = inventory.ssh.identity_files[0];
  if (!identityFile) throw new Error(`${inventoryPath}: ssh.identity_files is empty`);
  return {
    inventoryPath,
    hosts: Object.entries(inventory.hosts).map(([name, h]) => ({ name, address: h.address, datacenter: h.datacenter })),
    user: inventory.ssh.user,
    identityFile,
    knownHosts: inventory.ssh.known_hosts,
    bridgeAddress,
    release,
  };
}

/**
 * Hosts of the shared lab: pg1-pg3 for the all-in-one deploy, pg4-pg8 for the dedicated etcd
 * layout, pg9-pg13 for the two-datacenter standby tests, pg14-pg16 for rolling changes under
 * load, pg17-pg18 for the SSH executor, pg19-pg20 for the lab's own stop/isolate tests, pg21-pg23
 * for the fault suite, pg24, pg25 and pg29 for a plaintext cluster meeting tls: true
 * (tls-convert.test.ts; VIP .124, router_id 74), pg26-pg28 for TLS and etcd authentication
 * (tls.test.ts; VIP .126, router_id 76), pg30 for the second cluster of the dedicated etcd
 * layout, pg31-pg34 for backups (and pg41 for their standby cluster that fetches WAL from the
 * repository, pg42-pg43 for the cluster their backups are restored into, pg44 for that cluster's
 * own repository host), pg35-pg40 for
 * membership changes. Each test file owns its hosts, so files run
 * side by side. The lab takes up to 48 hosts (.11-.58, below the VIPs).
 */
export const LAB_HOSTS = 44;

/** Hosts of the bookworm lab: one three-member cluster and a two-member standby cluster. */
export const BOOKWORM_HOSTS = 5;

/** One lab the setup brings up: which, of what release, how many hosts, where its inventory goes. */
interface E2eLab {
  key: 'lab' | 'labBookworm';
  paths: LabPaths;
  release: LabRelease;
  hosts: number;
  inventoryPath: string;
}

/** The bookworm lab's name beside a main lab. */
function bookwormLabName(main: LabPaths): string {
  return `${main.names.lab === DEFAULT_LAB ? 'e2e' : main.names.lab}-bookworm`;
}

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const main = labPaths();
  // Development: HAPG_E2E_LAB names the inventory of a lab that is already up (`hapg lab up
  // --hosts 20 --out …`); test files then run against its hosts, and the lab is kept.
  // HAPG_E2E_BOOKWORM_LAB does the same for the bookworm lab (`hapg lab up --lab
  // e2e-bookworm --release bookworm --hosts 5 --out …`).
  const existing = process.env['HAPG_E2E_LAB'];
  if (existing) {
    const state = await readLabState(main);
    if (!state) throw new Error(`HAPG_E2E_LAB=${existing}, but lab ${main.names.lab} is not up (hapg lab up --hosts ${LAB_HOSTS} --out ${existing})`);
    provide('lab', await labContextFrom(path.resolve(existing), state.bridgeAddress, state.release));
    const bookworm = process.env['HAPG_E2E_BOOKWORM_LAB'];
    if (bookworm) {
      const name = bookwormLabName(main);
      const bwState = await readLabState(labPaths(process.env, name));
      if (!bwState) throw new Error(`HAPG_E2E_BOOKWORM_LAB=${bookworm}, but lab ${name} is not up (hapg lab up --lab ${name} --release bookworm --hosts ${BOOKWORM_HOSTS} --out ${bookworm})`);
      provide('labBookworm', await labContextFrom(path.resolve(bookworm), bwState.bridgeAddress, bwState.release));
    }
    return async () => {};
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'hapg-lab-e2e-'));
  const labs: E2eLab[] = [
    {
      key: 'lab',
      paths: main,
      release: process.env['HAPG_E2E_RELEASE'] ? parseRelease(process.env['HAPG_E2E_RELEASE']) : DEFAULT_RELEASE,
      hosts: LAB_HOSTS,
      inventoryPath: path.join(dir, 'lab.yml'),
    },
    {
      key: 'labBookworm',
      paths: labPaths(process.env, bookwormLabName(main)),
      release: 'bookworm',
      hosts: BOOKWORM_HOSTS,
      inventoryPath: path.join(dir, 'lab-bookworm.yml'),
    },
  ];
  const reporter = createReporter({});
  const started = Date.now();
  // Deploy tests start from bare hosts: a lab left from an earlier run is replaced. Labs come
  // up in parallel: each has its own lock, the shared caches serialise themselves.
  const settled = await Promise.allSettled(
    labs.map(async (lab) => {
      await labDown(reporter.sink, lab.paths);
      // The same function `hapg lab up --hosts N --out …` runs (the CLI needs a build; this does not).
      const up = await labUp(
        {
          hosts: lab.hosts,
          datacenters: 1,
          out: lab.inventoryPath,
          subnet: lab.paths.names.lab === DEFAULT_LAB ? DEFAULT_SUBNET : undefined,
          release: lab.release,
        },
        reporter.sink,
        lab.paths,
      );
      return { lab, context: await labContextFrom(lab.inventoryPath, up.state.bridgeAddress, up.state.release) };
    }),
  );
  // Wait for every lab before failing: none is left half-built by a setup that gave up early.
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const contexts = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const summary = contexts.map(({ lab, context }) => `lab ${lab.paths.names.lab}: ${lab.hosts} ${context.release} hosts (state ${lab.paths.stateDir})`);
  process.stderr.write(`e2e: fresh ${summary.join(' and ')} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  for (const { lab, context } of contexts) provide(lab.key, context);

  return async () => {
    if (process.env['HAPG_KEEP_LAB'] === '1') {
      process.stderr.write(`e2e: labs kept (HAPG_KEEP_LAB=1); inventories ${labs.map((l) => l.inventoryPath).join(', ')}\n`);
      return;
    }
    await Promise.all(labs.map((lab) => labDown(reporter.sink, lab.paths)));
    await rm(dir, { recursive: true, force: true });
  };
}
