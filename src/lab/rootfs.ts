import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EventSink } from '../run/events.js';
import { HapgError } from '../errors.js';
import { renderDeb822, type AptSource } from './apt-sources.js';
import { runLocal } from './local.js';
import { currentMounts, removeTree } from './mounts.js';
import type { LabPaths } from './paths.js';
import { exists } from './prereqs.js';
import type { LabRelease } from './releases.js';

/** What every lab host has before hapg deploys anything: systemd, sshd, python3, and tools the deploy calls. */
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'iproute2',
  'sudo',
  'python3',
  'ca-certificates',
  'curl',
  'procps',
] as const;

/** Bump when `customizeBase` changes, so cached bases are rebuilt. */
const CUSTOMIZATION_REVISION = 1;

/** The cached base's directory name: release plus a digest of everything that shapes it. */
export function baseRootfsName(release: LabRelease): string {
  const recipe = JSON.stringify({ suite: release, variant: 'minbase', packages: BASE_PACKAGES, revision: CUSTOMIZATION_REVISION });
  return `${release}-${createHash('sha256').update(recipe).digest('hex').slice(0, 10)}`;
}

export function baseRootfsDir(paths: LabPaths, release: LabRelease): string {
  return path.join(paths.rootfsDir, baseRootfsName(release));
}

/** The systemd drop-in that lets every host generate its own host keys at first boot. */
export const SSH_DROP_IN = `# hapg lab: host keys are per host (pre-seeded or generated here), never baked into the base.
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
`;

/**
 * Builds a release's read-only lower layer once (debootstrap through the lab's apt proxy,
 * which warms the package cache too) and reuses it; builds into a temp dir, then renames.
 * Every release keeps its own base. The caller holds the caches lock.
 */
export async function ensureBaseRootfs(
  paths: LabPaths,
  release: LabRelease,
  opts: { mirror: string; hostSources: readonly AptSource[]; proxyUrl: string },
  sink: EventSink,
): Promise<string> {
  const final = baseRootfsDir(paths, release);
  if (await exists(path.join(final, 'etc', 'hapg-lab-base.json'))) {
    sink({ kind: 'noop', host: 'localhost', title: 'base rootfs', reason: `cached in ${final}` });
    return final;
  }
  await mkdir(paths.rootfsDir, { recursive: true, mode: 0o755 });
  await removeUnusedBases(paths, release, final);
  const tmp = `${final}.tmp-${process.pid}`;
  sink({ kind: 'step', host: 'localhost', title: `building the base rootfs (${release}, debootstrap, about 2 minutes the first time)` });
  const started = Date.now();
  await runLocal(
    'debootstrap',
    ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, '--components=main', release, tmp, `${opts.mirror}/`],
    { what: 'building the base rootfs', env: { http_proxy: opts.proxyUrl, DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 1_800_000 },
  ).catch(async (err: unknown) => {
    const log = path.join(tmp, 'debootstrap', 'debootstrap.log');
    await removeTree(tmp).catch(() => undefined);
    if (err instanceof HapgError) throw new HapgError('LAB', err.message, { cause: err, hint: `debootstrap's log was ${log}` });
    throw err;
  });
  await customizeBase(tmp, release, opts.hostSources);
  await removeTree(final);
  await rename(tmp, final);
  sink({ kind: 'change', host: 'localhost', title: 'base rootfs built', detail: `${final}, ${Math.round((Date.now() - started) / 1000)} s` });
  return final;
}

/** Makes the debootstrapped tree a template: no host identity, per-host SSH keys, Debian sources. */
async function customizeBase(root: string, release: LabRelease, hostSources: readonly AptSource[]): Promise<void> {
  const at = (p: string) => path.join(root, p);
  for (const name of await readdir(at('etc/ssh'))) {
    if (name.startsWith('ssh_host_')) await rm(at(`etc/ssh/${name}`), { force: true });
  }
  await mkdir(at('etc/systemd/system/ssh.service.d'), { recursive: true });
  await writeFile(at('etc/systemd/system/ssh.service.d/10-hapg-lab.conf'), SSH_DROP_IN);
  await rm(at('etc/hostname'), { force: true });
  await writeFile(at('etc/machine-id'), '');
  await rm(at('etc/resolv.conf'), { force: true });
  await writeFile(at('etc/resolv.conf'), '# hapg lab: no DNS; lab host names are in /etc/hosts, packages come through the apt proxy\n');
  await rm(at('etc/apt/sources.list'), { force: true });
  await writeFile(at('etc/apt/sources.list.d/debian.sources'), renderDeb822(hostSources));
  await rm(at('var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(at('var/cache/apt/archives/partial'), { recursive: true });
  await writeFile(
    at('etc/hapg-lab-base.json'),
    `${JSON.stringify({ suite: release, variant: 'minbase', packages: BASE_PACKAGES, revision: CUSTOMIZATION_REVISION, builtAt: new Date().toISOString() }, null, 2)}\n`,
  );
}

/**
 * Drops the release's older bases and half-built trees that no host (of any lab) uses as its
 * lower layer; other releases' bases stay cached.
 */
async function removeUnusedBases(paths: LabPaths, release: LabRelease, keep: string): Promise<void> {
  const overlayOptions = (await currentMounts()).filter((m) => m.fstype === 'overlay').map((m) => m.superOptions);
  for (const name of await readdir(paths.rootfsDir)) {
    const dir = path.join(paths.rootfsDir, name);
    if (dir === keep || !name.startsWith(`${release}-`)) continue;
    if (overlayOptions.some((o) => o.includes(`lowerdir=${dir}`))) continue;
    await removeTree(dir);
  }
}
