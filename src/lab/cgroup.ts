import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { HapgError } from '../errors.js';
import { parseMountinfo } from './mounts.js';
import type { LabNames } from './paths.js';

/** Mount points of the hierarchies systemd uses: cgroup v1 `name=systemd` and/or cgroup2. */
export interface CgroupMounts {
  systemdV1?: string;
  unified?: string;
}

/** Finds the named systemd v1 hierarchy and the cgroup2 mount from /proc/self/mountinfo. */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const mounts: CgroupMounts = {};
  for (const m of parseMountinfo(mountinfo)) {
    if (m.fstype === 'cgroup' && m.superOptions.split(',').includes('name=systemd')) mounts.systemdV1 ??= m.mountPoint;
    if (m.fstype === 'cgroup2') mounts.unified ??= m.mountPoint;
  }
  return mounts;
}

/** The per-host cgroup directories, one per hierarchy (both on hybrid machines). */
export async function hostCgroupDirs(names: LabNames, host: string): Promise<string[]> {
  return (await labCgroupRoots(names)).map((root) => path.join(root, host));
}

/** The lab's group (`…/hapg-lab`, `…/hapg-lab-NAME`) in every hierarchy the machine has. */
export async function labCgroupRoots(names: LabNames): Promise<string[]> {
  const mounts = parseCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8'));
  const roots = [mounts.systemdV1, mounts.unified].filter((m): m is string => m !== undefined).map((m) => path.join(m, names.cgroupGroup));
  if (roots.length === 0) {
    throw new HapgError('LAB', 'no cgroup hierarchy for systemd found (neither name=systemd nor cgroup2 is mounted)', {
      hint: 'mount cgroup2 on /sys/fs/cgroup or /sys/fs/cgroup/unified',
    });
  }
  return roots;
}

/** Creates the host's fresh, empty cgroups; a stopped host's leftovers are removed first. */
export async function prepareHostCgroups(names: LabNames, host: string): Promise<string[]> {
  const dirs = await hostCgroupDirs(names, host);
  for (const dir of dirs) {
    await removeCgroupTree(dir);
    await mkdir(dir, { recursive: true });
  }
  return dirs.map((dir) => path.join(dir, 'cgroup.procs'));
}

/** Every PID in a cgroup directory and below it. */
export async function cgroupTreePids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  const text = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => undefined);
  if (text === undefined) return pids;
  pids.push(...text.split('\n').filter(Boolean).map(Number));
  for (const child of await subdirectories(dir)) pids.push(...(await cgroupTreePids(child)));
  return pids;
}

/** Removes a cgroup directory bottom-up; it must hold no processes any more. */
export async function removeCgroupTree(dir: string): Promise<void> {
  for (const child of await subdirectories(dir)) await removeCgroupTree(child);
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return;
    throw new HapgError('LAB', `cannot remove cgroup ${dir}: ${err.code ?? err.message}`, {
      hint: 'a lab process is still running in it; run `hapg lab down` again',
    });
  });
}

async function subdirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
}
