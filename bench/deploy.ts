// bench/deploy: on the local lab (3 hosts, warm package cache), times
//   1. hapg deploy from bare hosts to a verified healthy cluster,
//   2. a no-op re-run of the same deploy,
//   3. for comparison, the package installation alone on fresh bare hosts (apt-get, in parallel),
// and prints the ratio the product targets: deploy <= 1.5 x (package install + Patroni bootstrap).
//
//   npx tsx bench/deploy.ts            (as root; recreates the lab twice)
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { readFile } from 'node:fs/promises';
import { fmt, phaseSeconds, timedHapg } from './lab.js';

const PACKAGES = 'etcd-server etcd-client postgresql-15 patroni python3-etcd haproxy keepalived';

async function freshLab(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hapg-bench-'));
  const inventory = path.join(dir, 'lab.yml');
  await timedHapg(['lab', 'down']);
  await timedHapg(['lab', 'up', '--hosts', '3', '--out', inventory]);
  return inventory;
}

async function installOnly(inventory: string): Promise<number> {
  const inv = YAML.parse(await readFile(inventory, 'utf8'));
  const script = [
    "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d",
    'mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf',
    'export DEBIAN_FRONTEND=noninteractive',
    'apt-get update -q >/dev/null',
    `apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold ${PACKAGES} >/dev/null`,
    'rm -f /usr/sbin/policy-rc.d',
  ].join(' && ');
  const started = performance.now();
  await Promise.all(
    Object.values(inv.hosts as Record<string, { address: string }>).map((h) =>
      execa('ssh', ['-i', inv.ssh.identity_files[0], '-o', `UserKnownHostsFile=${inv.ssh.known_hosts}`, '-o', 'StrictHostKeyChecking=yes', `root@${h.address}`, script]),
    ),
  );
  return (performance.now() - started) / 1000;
}

const inventory = await freshLab();
const deploy = await timedHapg(['deploy', '-i', inventory, '--json']);
const phases = phaseSeconds(deploy.stdout);
const bootstrap = phases.get('Patroni cluster main') ?? NaN;
const noop = await timedHapg(['deploy', '-i', inventory, '--json']);
const noopChanges = JSON.parse(noop.stdout.trim().split('\n').at(-1)!).changes;

const packagesOnly = await installOnly(await freshLab());
await timedHapg(['lab', 'down']);

const budget = 1.5 * (packagesOnly + bootstrap);
console.log('hapg deploy, 3 hosts, every role, warm apt cache');
for (const [phase, s] of phases) console.log(`  ${phase.padEnd(32)} ${fmt(s)}`);
console.log(`deploy from bare hosts:           ${fmt(deploy.seconds)}`);
console.log(`no-op re-run:                     ${fmt(noop.seconds)} (${noopChanges} changes)`);
console.log(`package install alone (apt-get):  ${fmt(packagesOnly)}`);
console.log(`Patroni bootstrap (in deploy):    ${fmt(bootstrap)}`);
console.log(`deploy / (install + bootstrap):   ${(deploy.seconds / (packagesOnly + bootstrap)).toFixed(2)} (target <= 1.5, i.e. ${fmt(budget)})`);
console.log(`no-op target < 5 s:               ${noop.seconds < 5 ? 'met' : 'MISSED'}`);
