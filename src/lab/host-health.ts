/**
 * What a lab host's own systemd says about itself, for `lab status`: a host can run (nspawn
 * alive) and still be of no use — systemd degraded, or never up at all (e.g. out of inotify
 * instances on a busy machine).
 */

/** Asked over SSH: the manager's state, then the failed units (one per line). */
export const SYSTEM_STATE_COMMAND = 'systemctl is-system-running; systemctl list-units --state=failed --no-legend --plain --no-pager';

export interface SystemState {
  /** `running`, `degraded`, `starting`, `initializing`, `maintenance`, `stopping` … */
  state: string;
  failedUnits: string[];
}

/** Parses the output of SYSTEM_STATE_COMMAND. */
export function parseSystemState(stdout: string): SystemState {
  const [first = '', ...rest] = stdout.split('\n');
  const failedUnits = rest
    .map((line) => line.trim().replace(/^[●*]\s*/, '').split(/\s+/)[0] ?? '')
    .filter((unit) => /\.[a-z]+$/.test(unit));
  return { state: first.trim() || 'unknown', failedUnits };
}

const BOOT_MARKER = '=== hapg lab: booting';

/** Console lines by which systemd (or nspawn) says the host did not come up. */
const BOOT_FAILURES = [
  /\[!!!!!!\]/,
  /Freezing execution/,
  /Failed to allocate manager object/,
  /Too many open files/,
  /Exiting PID 1/,
  /refusing to run|Refusing to run/,
];

/**
 * The first line of the host's last boot (its console log) that says systemd failed to come
 * up, or undefined. Read when the host runs but SSH does not answer.
 */
export function bootFailureInLog(log: string): string | undefined {
  const lastBoot = log.slice(Math.max(0, log.lastIndexOf(BOOT_MARKER)));
  const plain = lastBoot.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  return plain
    .split('\n')
    .map((line) => line.trim())
    .find((line) => BOOT_FAILURES.some((re) => re.test(line)));
}

/** The last lines the host's newest boot wrote (colours stripped): what nspawn said when it stopped. */
export function lastBootLines(log: string, count = 3): string[] {
  const lastBoot = log.slice(Math.max(0, log.lastIndexOf(BOOT_MARKER)));
  const lines = lastBoot
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines.slice(1).slice(-count);
}

/** One table cell: `running`, `degraded: etcd.service`, `boot failed: …`. */
export function describeSystemd(health: { running: boolean; isolated?: boolean; system?: SystemState | undefined; bootFailure?: string | undefined }): string {
  if (!health.running) return '-';
  if (health.system) {
    const { state, failedUnits } = health.system;
    return failedUnits.length > 0 ? `${state}: ${failedUnits.join(', ')}` : state;
  }
  if (health.bootFailure) return `boot failed: ${health.bootFailure}`;
  return health.isolated ? 'unknown (isolated)' : 'unknown (no ssh)';
}
