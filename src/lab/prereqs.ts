import { access, readFile } from 'node:fs/promises';
import type { EventSink } from '../run/events.js';
import { HapgError } from '../errors.js';
import { runLocal } from './local.js';
import { isAlive } from './processes.js';

/** Debian packages the lab needs on the control machine (a fresh CI machine has none of the first three). */
export const LAB_PACKAGES = ['debootstrap', 'systemd-container', 'apt-cacher-ng', 'iproute2', 'openssh-client'] as const;

/** Fails with one line when the lab cannot run here at all: it needs Linux and root. */
export function assertLabPlatform(): void {
  if (process.platform !== 'linux') {
    throw new HapgError('LAB', `the lab needs Linux (systemd-nspawn, network namespaces); this is ${process.platform}`, {
      hint: 'run it on a Debian or Ubuntu machine or VM',
    });
  }
  if (process.getuid?.() !== 0) {
    throw new HapgError('LAB', 'the lab needs root (it creates network namespaces, mounts and cgroups)', {
      hint: 'run it as root, e.g. `sudo hapg lab …`',
    });
  }
}

/** Parses `dpkg-query -W -f '${Package}\t${db:Status-Status}\n'`: the packages that are installed. */
export function parseInstalledPackages(output: string): Set<string> {
  const installed = new Set<string>();
  for (const line of output.split('\n')) {
    const [name, status] = line.trim().split('\t');
    if (name && status === 'installed') installed.add(name.split(':')[0] ?? name);
  }
  return installed;
}

/** Which of the lab's packages dpkg does not list as installed. */
export async function missingLabPackages(): Promise<string[]> {
  await assertApt();
  const { stdout } = await runLocal('dpkg-query', ['-W', '-f', '${Package}\\t${db:Status-Status}\\n', ...LAB_PACKAGES], {
    allowFailure: true, // exit 1 when a package is unknown to dpkg
  });
  const installed = parseInstalledPackages(stdout);
  return LAB_PACKAGES.filter((p) => !installed.has(p));
}

async function assertApt(): Promise<void> {
  for (const tool of ['/usr/bin/dpkg-query', '/usr/bin/apt-get']) {
    if (!(await exists(tool))) {
      throw new HapgError('LAB', `the lab needs a Debian-based machine: ${tool} is missing`, {
        hint: 'run it on Debian 12 or a recent Ubuntu',
      });
    }
  }
}

/** Installs what is missing with apt (one `apt-get update`, then one install), non-interactively. */
export async function installLabPackages(missing: readonly string[], sink: EventSink): Promise<void> {
  if (missing.length === 0) return;
  sink({ kind: 'step', host: 'localhost', title: `installing ${missing.join(', ')}` });
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await runLocal('apt-get', ['-q', 'update'], { what: 'apt-get update', env, timeoutMs: 600_000 });
  await runLocal(
    'apt-get',
    ['-q', '-y', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', 'install', ...missing],
    { what: `installing ${missing.join(' ')}`, env, timeoutMs: 1_200_000 },
  );
  if (missing.includes('apt-cacher-ng')) await stopPackagedAptCacher(sink);
  sink({ kind: 'change', host: 'localhost', title: `installed ${missing.join(', ')}` });
}

/**
 * The package's own service (started by its install scripts where the init system allows)
 * listens on every address with the stock config; the lab runs its own instance instead.
 */
async function stopPackagedAptCacher(sink: EventSink): Promise<void> {
  const pidText = await readFile('/run/apt-cacher-ng/pid', 'utf8').catch(() => undefined);
  const pid = pidText === undefined ? NaN : Number(pidText.trim());
  if (!Number.isInteger(pid) || !(await isAlive(pid))) return;
  if (await exists('/run/systemd/system')) {
    await runLocal('systemctl', ['disable', '--now', 'apt-cacher-ng.service'], { what: 'stopping the packaged apt-cacher-ng' });
  } else if (await exists('/etc/init.d/apt-cacher-ng')) {
    await runLocal('/etc/init.d/apt-cacher-ng', ['stop'], { what: 'stopping the packaged apt-cacher-ng' });
  }
  sink({ kind: 'info', host: 'localhost', message: 'stopped the apt-cacher-ng service the package started (the lab runs its own)' });
}

/** Overlayfs must be available for the hosts' disks. */
export async function assertOverlayfs(): Promise<void> {
  const hasOverlay = async () => /\toverlay$/m.test(await readFile('/proc/filesystems', 'utf8'));
  if (await hasOverlay()) return;
  await runLocal('modprobe', ['overlay'], { allowFailure: true }).catch(() => undefined);
  if (!(await hasOverlay())) {
    throw new HapgError('LAB', 'the kernel has no overlay filesystem', { hint: 'load it with `modprobe overlay`' });
  }
}

export async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
