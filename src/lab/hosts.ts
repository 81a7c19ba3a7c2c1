import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { HapgError } from '../errors.js';
import { cgroupTreePids, hostCgroupDirs, prepareHostCgroups, removeCgroupTree } from './cgroup.js';
import { GUEST_DIRS, guestFiles } from './guest-files.js';
import type { KeyPair } from './keys.js';
import type { LabHost } from './layout.js';
import { runLocal } from './local.js';
import { currentMounts } from './mounts.js';
import { hostDirs, hostOfLabObject, netnsName, type LabNames, type LabPaths } from './paths.js';
import { findProcesses, processArgv, terminate } from './processes.js';

const NETNS_DIR = '/run/netns';

/** The nspawn command line of one host (PID 1 is systemd; network and cgroups are the lab's). */
export function nspawnArgs(opts: { names: LabNames; host: string; rootDir: string }): string[] {
  return [
    '--boot',
    // Machine names are machine-wide (nspawn keeps per-machine files under /run): one per lab.
    `--machine=${opts.names.machinePrefix}${opts.host}`,
    `--hostname=${opts.host}`,
    `--directory=${opts.rootDir}`,
    // No systemd on the machine: nothing to register with, and we place the cgroup ourselves.
    '--register=no',
    '--keep-unit',
    `--network-namespace-path=${NETNS_DIR}/${netnsName(opts.names, opts.host)}`,
    // keepalived adds the VIP and sends VRRP; the namespace is the host's own.
    '--capability=CAP_NET_ADMIN,CAP_NET_RAW',
    '--link-journal=no',
    '--resolv-conf=off',
    '--timezone=off',
    '--console=read-only',
  ];
}

/** Writes the host's identity into its upper layer and mounts its root (overlay on the base). */
export async function prepareHostDisk(
  paths: LabPaths,
  opts: { host: LabHost; hosts: readonly LabHost[]; baseDir: string; labKey: KeyPair; hostKey: KeyPair; proxyUrl: string },
): Promise<void> {
  const dirs = hostDirs(paths, opts.host.name);
  for (const dir of [dirs.upper, dirs.work, dirs.root]) await mkdir(dir, { recursive: true, mode: 0o755 });
  await mkdir(paths.logsDir, { recursive: true, mode: 0o755 });
  const machineIdFile = path.join(dirs.upper, 'etc', 'machine-id');
  const existingId = (await readFile(machineIdFile, 'utf8').catch(() => '')).trim();
  const machineId = /^[0-9a-f]{32}$/.test(existingId) ? existingId : randomBytes(16).toString('hex');
  for (const dir of GUEST_DIRS) {
    const target = path.join(dirs.upper, dir.path);
    await mkdir(target, { recursive: true });
    await chmod(target, dir.mode);
  }
  const files = guestFiles({
    host: opts.host,
    hosts: opts.hosts,
    authorizedKey: opts.labKey.publicKey,
    hostPrivateKey: await readFile(opts.hostKey.privateKeyFile, 'utf8'),
    hostPublicKey: opts.hostKey.publicKey,
    proxyUrl: opts.proxyUrl,
    machineId,
  });
  for (const file of files) {
    const target = path.join(dirs.upper, file.path);
    await writeFile(target, file.content, { mode: file.mode });
    await chmod(target, file.mode);
  }
  if (!(await isRootMounted(paths, opts.host.name))) {
    await runLocal(
      'mount',
      ['-t', 'overlay', 'overlay', '-o', `lowerdir=${opts.baseDir},upperdir=${dirs.upper},workdir=${dirs.work}`, dirs.root],
      { what: `mounting the root of ${opts.host.name}` },
    );
  }
}

export async function isRootMounted(paths: LabPaths, host: string): Promise<boolean> {
  const root = hostDirs(paths, host).root;
  return (await currentMounts()).some((m) => m.mountPoint === root && m.fstype === 'overlay');
}

/**
 * Boots the host: a shell moves itself into the host's fresh cgroups, then execs nspawn, so
 * every process of the host lives there from the start. Detached in its own session with
 * output to the host's log: the host outlives the hapg process that started it.
 */
export async function bootHost(paths: LabPaths, host: string): Promise<number> {
  const dirs = hostDirs(paths, host);
  const procsFiles = await prepareHostCgroups(paths.names, host);
  const script = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || { echo "hapg lab: cannot join cgroup $1"; exit 97; }; shift; n=$((n-1)); done; exec "$@"';
  const logFd = openSync(dirs.log, 'a');
  let pid: number | undefined;
  try {
    writeSync(logFd, `\n=== hapg lab: booting ${host} at ${new Date().toISOString()} ===\n`);
    const child = spawn(
      'sh',
      ['-c', script, 'hapg-lab-boot', String(procsFiles.length), ...procsFiles, 'systemd-nspawn', ...nspawnArgs({ names: paths.names, host, rootDir: dirs.root })],
      { detached: true, stdio: ['ignore', logFd, logFd], cwd: '/' },
    );
    child.on('error', () => undefined);
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(logFd);
  }
  if (pid === undefined) throw new HapgError('LAB', `cannot start ${host}: sh did not spawn`, { host });
  return pid;
}

/** True when PID is this host's nspawn process (guards against PID reuse). */
export async function isHostProcess(paths: LabPaths, host: string, pid: number | undefined): Promise<boolean> {
  if (pid === undefined) return false;
  const argv = await processArgv(pid);
  if (!argv) return false;
  // Between fork and exec the process is still the cgroup-placing shell.
  if (argv[0] === 'sh' && argv[3] === 'hapg-lab-boot') return argv.includes(`--directory=${hostDirs(paths, host).root}`);
  return isNspawnOf(paths, argv) === host;
}

function isNspawnOf(paths: LabPaths, argv: string[]): string | undefined {
  const host = labHostOfNspawn(paths.names, argv);
  return host !== undefined && argv.includes(`--directory=${hostDirs(paths, host).root}`) ? host : undefined;
}

/** The host name when argv is an nspawn of this lab (recognised by its namespace, a machine-wide name). */
function labHostOfNspawn(names: LabNames, argv: string[]): string | undefined {
  if (path.basename(argv[0] ?? '') !== 'systemd-nspawn') return undefined;
  const option = '--network-namespace-path=';
  const netns = argv.find((a) => a.startsWith(option))?.slice(option.length);
  return netns !== undefined && path.dirname(netns) === NETNS_DIR ? hostOfLabObject(names.netnsPrefix, path.basename(netns)) : undefined;
}

/**
 * Every running nspawn of this lab on the machine, by host, whatever the state file says
 * (also one started with another HAPG_LAB_STATE: namespace names are machine-wide). Hosts
 * of other labs are never listed.
 */
export async function findHostProcesses(names: LabNames): Promise<{ host: string; pid: number }[]> {
  const found = await findProcesses((argv) => labHostOfNspawn(names, argv) !== undefined);
  return found.map((p) => ({ host: labHostOfNspawn(names, p.argv) ?? '', pid: p.pid }));
}

/**
 * Powers a host off: nspawn turns SIGTERM into an orderly shutdown of the host's systemd;
 * waits for it, then kills whatever is left in the host's cgroups and removes them.
 */
export async function powerOffHost(names: LabNames, host: string, pid: number | undefined, opts: { graceMs: number; hard?: boolean }): Promise<void> {
  // Hard: no shutdown at all, as when a machine loses power (every process of the host killed at once).
  if (pid !== undefined && !opts.hard) {
    const left = await terminate([pid], { signal: 'SIGTERM', graceMs: opts.graceMs });
    if (left.length > 0) throw new HapgError('LAB', `${host}: nspawn (pid ${pid}) did not exit after SIGKILL`, { host });
  }
  for (const dir of await hostCgroupDirs(names, host)) {
    const pids = await cgroupTreePids(dir);
    if (pids.length > 0) {
      const left = await terminate(pids, { signal: 'SIGKILL', graceMs: 5000 });
      if (left.length > 0) throw new HapgError('LAB', `${host}: processes ${left.join(', ')} survived SIGKILL`, { host });
    }
    await removeCgroupTree(dir);
  }
  if (pid !== undefined && opts.hard) {
    const left = await terminate([pid], { signal: 'SIGKILL', graceMs: 5000 });
    if (left.length > 0) throw new HapgError('LAB', `${host}: nspawn (pid ${pid}) did not exit after SIGKILL`, { host });
  }
}
