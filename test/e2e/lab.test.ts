// The lab itself: real nspawn hosts with systemd and sshd, reached with the system ssh client
// exactly as the inventory says (lab key, lab known_hosts, strict host key checking).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { runLabCommand } from '../../src/lab/commands.js';
import { labStatus, labUp } from '../../src/lab/lab.js';
import { labPaths, netnsName } from '../../src/lab/paths.js';
import { proxyPaths } from '../../src/lab/proxy.js';
import { postgresMajorOf } from '../../src/lab/releases.js';
import { readLabState } from '../../src/lab/state.js';
import { silent } from '../../src/run/events.js';
import { wholeLabForFile } from './lab-lock.js';

const lab = inject('lab');
// This file's hosts: it stops and isolates them while other files deploy to theirs.
const A = 'pg19';
const B = 'pg20';
/** Any other host: only reached, never changed. */
const OTHER = 'pg1';
const byName = (name: string) => {
  const host = lab.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`the lab has no ${name}`);
  return host;
};

let scratch: string;
// Checks every host and runs `lab up` (which boots stopped hosts): never while the fault suite has hosts down.
const wholeLab = wholeLabForFile(lab);
beforeAll(async () => {
  await wholeLab.take();
  scratch = await mkdtemp(path.join(tmpdir(), 'hapg-lab-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
  await wholeLab.release();
});

/** Runs a command on a lab host with the system ssh client; host keys strictly checked. */
async function ssh(name: string, command: string, opts: { knownHosts?: string; timeoutS?: number } = {}) {
  return execa(
    'ssh',
    [
      '-i', lab.identityFile,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${opts.knownHosts ?? lab.knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', `ConnectTimeout=${opts.timeoutS ?? 5}`,
      '-o', 'LogLevel=ERROR',
      `${lab.user}@${byName(name).address}`,
      command,
    ],
    { reject: false, timeout: 120_000 },
  );
}

async function expectSshWorks(name: string): Promise<void> {
  const r = await ssh(name, 'hostname');
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(r.stdout.trim()).toBe(name);
}

/** `bash /dev/tcp` from one host to another host's sshd, by name (via the lab's /etc/hosts). */
async function reaches(from: string, to: string): Promise<boolean> {
  const r = await ssh(from, `timeout 3 bash -c 'exec 3<>/dev/tcp/${to}/22 && head -c 4 <&3'`);
  return r.exitCode === 0 && r.stdout.startsWith('SSH-');
}

describe('hapg lab', () => {
  it(`is up with ${lab.hosts.length} hosts, all running and reachable over SSH`, async () => {
    expect(lab.hosts.map((h) => h.name)).toEqual(lab.hosts.map((_, i) => `pg${i + 1}`));
    expect(new Set(lab.hosts.map((h) => h.address)).size).toBe(lab.hosts.length);
    expect(lab.user).toBe('root');
    const status = await labStatus();
    expect(status.hosts.map((h) => [h.name, h.running, h.sshReachable, h.isolated])).toEqual(lab.hosts.map((h) => [h.name, true, true, false]));
    expect(status.proxyRunning).toBe(true);
    expect(status.proxyServesLab).toBe(true);
    expect(status.state?.release).toBe(lab.release);
  });

  it(`runs ${lab.release} on every host, and its inventory deploys the PostgreSQL major ${lab.release} ships`, async () => {
    for (const host of lab.hosts) {
      expect((await ssh(host.name, '. /etc/os-release && echo $VERSION_CODENAME')).stdout.trim()).toBe(lab.release);
    }
    const inventory = YAML.parse(await readFile(lab.inventoryPath, 'utf8')) as { clusters: { main: { postgres: { version: number } } } };
    expect(inventory.clusters.main.postgres.version).toBe(postgresMajorOf(lab.release));
  });

  it("shows each host's systemd state in `lab status`", async () => {
    const status = await labStatus();
    for (const host of status.hosts) {
      expect(host.system?.state, host.name).toMatch(/^(running|degraded)$/);
      expect(host.system?.state === 'degraded', `${host.name}: ${host.system?.failedUnits.join(', ')}`).toBe((host.system?.failedUnits.length ?? 0) > 0);
    }
  });

  it('keeps a running lab as it is on a second `lab up`, quickly', async () => {
    const before = await readLabState(labPaths());
    const inventoryBefore = await readFile(lab.inventoryPath, 'utf8');
    const started = Date.now();
    const result = await labUp({ hosts: lab.hosts.length, datacenters: 1, out: lab.inventoryPath, subnet: before?.subnet, release: lab.release }, silent);
    const elapsed = Date.now() - started;
    expect(result.reused).toBe(true);
    // Checks every host over SSH, boots nothing (the pids below): seconds, under 5 s on an idle
    // machine; with three files beside it on 2 cores one run took 20.2 s.
    expect(elapsed).toBeLessThan(30_000);
    const after = await readLabState(labPaths());
    expect(after?.hosts.map((h) => h.pid)).toEqual(before?.hosts.map((h) => h.pid));
    expect(await readFile(lab.inventoryPath, 'utf8')).toBe(inventoryBefore);
  });

  it('lets every host in with the lab key, verified against the lab known_hosts only', async () => {
    for (const host of lab.hosts) {
      await expectSshWorks(host.name);
      const addr = await ssh(host.name, 'ip -4 -o addr show dev eth0');
      expect(addr.stdout).toContain(`inet ${host.address}/24`);
    }
    // The same login with an empty known_hosts must fail: the lab file is what vouches for the hosts.
    const empty = path.join(scratch, 'empty_known_hosts');
    await writeFile(empty, '');
    const refused = await ssh(A, 'true', { knownHosts: empty });
    expect(refused.exitCode).toBe(255);
    expect(refused.stderr).toMatch(/Host key verification failed/);
  });

  it('gives the hosts distinct identities that reach each other by name', async () => {
    const ids = await Promise.all(lab.hosts.map(async (h) => (await ssh(h.name, 'cat /etc/machine-id')).stdout.trim()));
    expect(new Set(ids).size).toBe(lab.hosts.length);
    // Around the ring: every host reaches the next by name, and so every host is reached.
    for (const [i, from] of lab.hosts.entries()) {
      const to = lab.hosts[(i + 1) % lab.hosts.length]!;
      expect(await reaches(from.name, to.name), `${from.name} → ${to.name}`).toBe(true);
    }
  });

  it('serves packages to the hosts through the apt proxy only', async () => {
    const a = byName(A);
    // No default route: the proxy on the bridge is the hosts' only way to a mirror.
    const routes = await ssh(A, 'ip -4 route show default');
    expect(routes.exitCode).toBe(0);
    expect(routes.stdout.trim()).toBe('');
    const proxyConf = await ssh(A, 'apt-config dump Acquire::http::Proxy');
    expect(proxyConf.stdout).toContain(`http://${lab.bridgeAddress}:3142`);

    const log = path.join(proxyPaths(labPaths()).logs, 'apt-cacher.log');
    const logBefore = (await readFile(log, 'utf8').catch(() => '')).length;
    const update = await ssh(A, 'apt-get update -o Acquire::Retries=2 2>&1');
    expect(update.exitCode, update.stdout).toBe(0);
    expect(update.stdout).not.toMatch(/^(W|E): /m);
    const served = (await readFile(log, 'utf8')).slice(logBefore);
    expect(served).toContain(`|${a.address}|`);
  });

  it('powers a host off and boots it again with the same address, disk and host key', async () => {
    const marker = `written before stop ${Date.now()}`;
    expect((await ssh(B, `echo '${marker}' > /root/marker`)).exitCode).toBe(0);
    await runLabCommand(['stop', B]);
    try {
      const status = await labStatus();
      expect(status.hosts.find((h) => h.name === B)).toMatchObject({ running: false, sshReachable: false });
      const down = await ssh(B, 'true', { timeoutS: 3 });
      expect(down.exitCode).toBe(255);
      expect(down.stderr).toMatch(/Connection refused|timed out/);
      await expectSshWorks(A);
    } finally {
      await runLabCommand(['start', B]);
    }
    await expectSshWorks(B);
    expect((await ssh(B, 'cat /root/marker')).stdout.trim()).toBe(marker);
    expect((await ssh(B, 'systemctl is-system-running --wait')).stdout.trim()).toMatch(/running|degraded/);
  });

  it('cuts a host\'s power with --hard: no shutdown runs, and it boots again', async () => {
    // A unit whose stop writes a file: a clean shutdown runs it, a power cut does not.
    const unit = '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\nExecStop=/bin/sh -c "date > /root/clean-shutdown"\n[Install]\nWantedBy=multi-user.target\n';
    expect((await ssh(B, `rm -f /root/clean-shutdown && printf '${unit}' > /etc/systemd/system/hapg-lab-probe.service && systemctl daemon-reload && systemctl enable --now hapg-lab-probe`)).exitCode).toBe(0);
    await runLabCommand(['stop', '--hard', B]);
    try {
      expect((await labStatus()).hosts.find((h) => h.name === B)).toMatchObject({ running: false, sshReachable: false });
    } finally {
      await runLabCommand(['start', B]);
    }
    await expectSshWorks(B);
    expect((await ssh(B, 'test -e /root/clean-shutdown && echo ran || echo skipped')).stdout.trim()).toBe('skipped');
    await ssh(B, 'systemctl disable --now hapg-lab-probe; rm -f /etc/systemd/system/hapg-lab-probe.service /root/clean-shutdown; systemctl daemon-reload');
  });

  it('isolates a host from everyone and heals it', async () => {
    await runLabCommand(['isolate', B]);
    try {
      const cut = await ssh(B, 'true', { timeoutS: 3 });
      expect(cut.exitCode).toBe(255);
      expect(await reaches(A, B)).toBe(false);
      expect(await reaches(A, OTHER)).toBe(true);
      expect((await labStatus()).hosts.find((h) => h.name === B)).toMatchObject({ running: true, sshReachable: false, isolated: true });
      // Like a partition, not a pulled cable: the host still sees its link up.
      const link = await execa('ip', ['-n', netnsName(labPaths().names, B), '-o', 'link', 'show', 'dev', 'eth0']);
      expect(link.stdout).toContain('LOWER_UP');
    } finally {
      await runLabCommand(['heal', B]);
    }
    await expectSshWorks(B);
    expect(await reaches(A, B)).toBe(true);
    expect((await labStatus()).hosts.find((h) => h.name === B)).toMatchObject({ isolated: false, sshReachable: true });
  });

  it('partitions two groups of hosts from each other, each still reaching the rest, and heals', async () => {
    await runLabCommand(['partition', A, B]);
    try {
      expect(await reaches(A, B)).toBe(false);
      expect(await reaches(B, A)).toBe(false);
      expect(await reaches(A, OTHER)).toBe(true);
      expect(await reaches(B, OTHER)).toBe(true);
      // The control machine reaches both: a partition between datacenters, not an isolation.
      await expectSshWorks(A);
      await expectSshWorks(B);
      const hosts = (await labStatus()).hosts;
      expect(hosts.find((h) => h.name === A)).toMatchObject({ isolated: false, cutFrom: [B] });
      expect(hosts.find((h) => h.name === B)).toMatchObject({ isolated: false, cutFrom: [A] });
    } finally {
      await runLabCommand(['heal', A]);
    }
    expect(await reaches(A, B)).toBe(true);
    expect(await reaches(B, A)).toBe(true);
    const hosts = (await labStatus()).hosts;
    expect(hosts.filter((h) => h.cutFrom.length > 0)).toEqual([]);
  });

  it('`lab up` boots stopped hosts and heals isolated ones, keeping the others', async () => {
    const before = await readLabState(labPaths());
    await runLabCommand(['stop', B]);
    await runLabCommand(['isolate', A]);
    await runLabCommand(['up', '--hosts', String(lab.hosts.length), '--out', lab.inventoryPath]);
    for (const host of lab.hosts) await expectSshWorks(host.name);
    const after = await readLabState(labPaths());
    const pid = (state: typeof before, name: string) => state?.hosts.find((h) => h.name === name)?.pid;
    // The isolated host is healed in place, the stopped one booted, the others untouched.
    expect(pid(after, A)).toBe(pid(before, A));
    expect(pid(after, OTHER)).toBe(pid(before, OTHER));
    expect(pid(after, B)).not.toBe(pid(before, B));
    expect(after?.hosts.every((h) => !h.stopped && !h.isolated)).toBe(true);
  });

  it('names the lab hosts when asked about an unknown one', async () => {
    const err = await runLabCommand(['stop', 'pg99']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HapgError);
    expect((err as HapgError).code).toBe('USAGE');
    expect((err as HapgError).message).toBe(`unknown lab host "pg99" (the lab has ${lab.hosts.map((h) => h.name).join(', ')})`);
  });
});
