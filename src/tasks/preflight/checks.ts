import type { DiskSpace, InitSystem, ListeningSocket, OsRelease, Privilege } from '../../facts/system.js';
import type { HostRoles } from './host-roles.js';
import { DEBIAN_RELEASES, debianRelease, shippedMajors } from '../../facts/debian.js';

export type Verdict = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  verdict: Verdict;
  /** Short value for the table cell. */
  summary: string;
  /** Why, for warn and fail. */
  detail?: string;
}

export interface HostFacts {
  os: OsRelease;
  init: InitSystem;
  /** Free space per data path (keyed by the path as the inventory names it). */
  disks: ReadonlyMap<string, DiskSpace>;
  /** Remote clock minus the control machine's, in seconds. */
  clockOffset: number;
  /** Half the round trip of the clock reading, in seconds: the offset is exact to within this. */
  clockUncertainty: number;
  sockets: ListeningSocket[];
  privilege: Privilege;
  /** machine-id and MAC addresses (see machineIdentity). */
  identity: string;
}

/** Free space below which a data path fails the preflight, and below which it warns. */
export const DISK_FAIL_BYTES = 2 * 1024 ** 3;
export const DISK_WARN_BYTES = 10 * 1024 ** 3;
/** Clock spread between hosts above which etcd and Patroni timing become unreliable. */
export const CLOCK_FAIL_SECONDS = 1;
export const CLOCK_WARN_SECONDS = 0.25;


/** Runs every preflight check for one host from its gathered facts (pure). */
export function checkHost(roles: HostRoles, facts: HostFacts, clockSpread: number, sameMachine: readonly string[] = []): CheckResult[] {
  return [
    checkIdentity(facts.identity, sameMachine),
    checkOs(facts.os),
    checkPostgresVersion(roles, facts.os),
    checkSystemd(facts.init),
    checkDisks(roles, facts.disks),
    checkClock(facts.clockOffset, clockSpread),
    checkPorts(roles, facts.sockets),
    checkPrivilege(facts.privilege),
  ];
}

/**
 * Each inventory host is a machine of its own. Two names (an IPv6 address in two spellings,
 * a DNS alias) reaching one machine would let a command meant for one cluster's host (a
 * standby's wipe) act on another's.
 */
export function checkIdentity(identity: string, sameMachine: readonly string[]): CheckResult {
  const id = identity.split(' ')[0] ?? '?';
  if (sameMachine.length === 0) return { name: 'machine', verdict: 'ok', summary: id.slice(0, 8) };
  return {
    name: 'machine',
    verdict: 'fail',
    summary: `same as ${sameMachine.join(', ')}`,
    detail: `the same machine as ${sameMachine.join(', ')} (machine-id ${id}, same network interfaces): each inventory host must be a machine of its own`,
  };
}

export function checkOs(os: OsRelease): CheckResult {
  const summary = `${os.id} ${os.versionId}`.trim();
  return debianRelease(os)
    ? { name: 'os', verdict: 'ok', summary }
    : { name: 'os', verdict: 'fail', summary, detail: `unsupported OS "${os.prettyName}" (hapg supports ${DEBIAN_RELEASES.map((r) => `Debian ${r.version}`).join(' and ')})` };
}

/**
 * The PostgreSQL major a cluster runs is one the host's release ships (hapg installs from the
 * distribution's archive). With a custom package mirror (which may carry other majors) apt is
 * left to say.
 */
export function checkPostgresVersion(roles: HostRoles, os: OsRelease): CheckResult {
  const release = debianRelease(os);
  if (roles.postgres.length === 0 || !release) return { name: 'postgres', verdict: 'ok', summary: '-' };
  const wrong = roles.postgres.find((p) => p.version !== release.postgres);
  if (!wrong) return { name: 'postgres', verdict: 'ok', summary: String(release.postgres) };
  if (roles.customMirror) return { name: 'postgres', verdict: 'ok', summary: `${wrong.version} (mirror)` };
  return {
    name: 'postgres',
    verdict: 'fail',
    summary: `${wrong.version} unavailable`,
    detail: `postgresql-${wrong.version} is not in Debian ${release.version}'s archive (${shippedMajors()}): set clusters.${wrong.cluster}.postgres.version to ${release.postgres}, or run the cluster on hosts of the release that ships ${wrong.version}`,
  };
}

export function checkSystemd(init: InitSystem): CheckResult {
  if (!init.systemd) {
    return { name: 'systemd', verdict: 'fail', summary: 'absent', detail: 'PID 1 is not systemd; hapg manages services with systemd' };
  }
  if (init.state === 'running') return { name: 'systemd', verdict: 'ok', summary: 'running' };
  if (init.state === 'degraded') {
    return { name: 'systemd', verdict: 'warn', summary: 'degraded', detail: 'systemd reports failed units (systemctl --failed)' };
  }
  return { name: 'systemd', verdict: 'warn', summary: init.state, detail: `systemd state is "${init.state}"` };
}

export function checkDisks(roles: HostRoles, disks: ReadonlyMap<string, DiskSpace>): CheckResult {
  if (roles.dataPaths.length === 0) return { name: 'disk', verdict: 'ok', summary: '-' };
  let worst: { disk: DiskSpace; role: string } | undefined;
  for (const dataPath of roles.dataPaths) {
    const disk = disks.get(dataPath.path);
    if (disk && (!worst || disk.availableBytes < worst.disk.availableBytes)) worst = { disk, role: dataPath.role };
  }
  if (!worst) return { name: 'disk', verdict: 'warn', summary: '?', detail: 'free space could not be measured' };
  const summary = `${formatBytes(worst.disk.availableBytes)} free`;
  if (worst.disk.availableBytes < DISK_FAIL_BYTES) {
    return { name: 'disk', verdict: 'fail', summary, detail: `only ${summary} on ${worst.disk.mount} for ${worst.role} (need ${formatBytes(DISK_FAIL_BYTES)})` };
  }
  if (worst.disk.availableBytes < DISK_WARN_BYTES) {
    return { name: 'disk', verdict: 'warn', summary, detail: `${summary} on ${worst.disk.mount} for ${worst.role}` };
  }
  return { name: 'disk', verdict: 'ok', summary };
}

export function checkClock(offset: number, spread: number): CheckResult {
  const summary = `${offset >= 0 ? '+' : ''}${offset.toFixed(3)}s`;
  if (spread > CLOCK_FAIL_SECONDS) {
    return { name: 'clock', verdict: 'fail', summary, detail: `clocks differ by ${spread.toFixed(2)}s between hosts; run NTP (chrony or systemd-timesyncd)` };
  }
  if (spread > CLOCK_WARN_SECONDS) {
    return { name: 'clock', verdict: 'warn', summary, detail: `clocks differ by ${spread.toFixed(2)}s between hosts` };
  }
  return { name: 'clock', verdict: 'ok', summary };
}

export function checkPorts(roles: HostRoles, sockets: ListeningSocket[]): CheckResult {
  const conflicts: string[] = [];
  let ours = 0;
  for (const expected of roles.ports) {
    const holders = sockets.filter((s) => s.port === expected.port);
    if (holders.length === 0) continue;
    if (holders.every((s) => expected.owners.includes(s.process))) {
      ours++;
      continue;
    }
    const who = [...new Set(holders.map((s) => s.process || 'unknown process'))].join(', ');
    conflicts.push(`${expected.port} (${expected.role}) is held by ${who}`);
  }
  if (conflicts.length > 0) {
    return { name: 'ports', verdict: 'fail', summary: `${conflicts.length} in use`, detail: `port ${conflicts.join('; port ')}` };
  }
  return { name: 'ports', verdict: 'ok', summary: ours > 0 ? `free (${ours} ours)` : 'free' };
}

export function checkPrivilege(p: Privilege): CheckResult {
  if (p.user === 'root') return { name: 'sudo', verdict: 'ok', summary: 'root' };
  return p.canBecomeRoot
    ? { name: 'sudo', verdict: 'ok', summary: `${p.user}+sudo` }
    : { name: 'sudo', verdict: 'fail', summary: p.user, detail: `user ${p.user} cannot run sudo without a password (sudo -n true failed)` };
}

/** The worst verdict among results. */
export function worstVerdict(results: readonly CheckResult[]): Verdict {
  if (results.some((r) => r.verdict === 'fail')) return 'fail';
  if (results.some((r) => r.verdict === 'warn')) return 'warn';
  return 'ok';
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
