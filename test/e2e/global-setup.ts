// Brings up a fresh shared lab once for every e2e test file and tears it down afterwards
// (unless HAPG_KEEP_LAB=1). Never skips: without root or the lab's tools, `lab up` installs
// what it can and otherwise fails with its one-line error, which fails the run.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import YAML from 'yaml';
import { labDown, labUp } from '../../src/lab/lab.js';
import { DEFAULT_SUBNET } from '../../src/lab/layout.js';
import { labPaths } from '../../src/lab/paths.js';
import { readLabState } from '../../src/lab/state.js';
import { createReporter } from '../../src/ui/reporter.js';
import type { LabContext } from './lab-context.js';

/** The tests' view of the lab, read back from the inventory `lab up` wrote (as a user would). */
async function labContextFrom(inventoryPath: string, bridgeAddress: string): Promise<LabContext> {
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
  };
}

/**
 * Hosts of the shared lab: pg1-pg3 for the all-in-one deploy, pg4-pg8 for the dedicated etcd
 * layout, pg9-pg13 for the two-datacenter standby tests, pg14-pg16 for rolling changes under
 * load. Each test file owns its hosts, so files stay independent.
 */
export const LAB_HOSTS = 16;

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  // Development: HAPG_E2E_LAB names the inventory of a lab that is already up (`hapg lab up
  // --hosts 16 --out …`); one test file then runs against its hosts, and the lab is kept.
  const existing = process.env['HAPG_E2E_LAB'];
  if (existing) {
    const state = await readLabState(labPaths());
    if (!state) throw new Error(`HAPG_E2E_LAB=${existing}, but no lab is up (hapg lab up --hosts ${LAB_HOSTS} --out ${existing})`);
    provide('lab', await labContextFrom(path.resolve(existing), state.bridgeAddress));
    return async () => {};
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'hapg-lab-e2e-'));
  const inventoryPath = path.join(dir, 'lab.yml');
  const reporter = createReporter({});
  const started = Date.now();
  // Deploy tests start from bare hosts: a lab left from an earlier run is replaced.
  await labDown(reporter.sink);
  // The same function `hapg lab up --hosts 8 --out …` runs (the CLI needs a build; this does not).
  const up = await labUp({ hosts: LAB_HOSTS, datacenters: 1, out: inventoryPath, subnet: DEFAULT_SUBNET }, reporter.sink);
  process.stderr.write(`e2e: fresh lab of ${LAB_HOSTS} hosts in ${((Date.now() - started) / 1000).toFixed(1)} s (state ${labPaths().stateDir})\n`);
  provide('lab', await labContextFrom(inventoryPath, up.state.bridgeAddress));

  return async () => {
    if (process.env['HAPG_KEEP_LAB'] === '1') {
      process.stderr.write(`e2e: lab kept (HAPG_KEEP_LAB=1); inventory ${inventoryPath}\n`);
      return;
    }
    await labDown(reporter.sink);
    await rm(dir, { recursive: true, force: true });
  };
}
