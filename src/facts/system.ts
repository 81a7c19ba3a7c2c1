import { HapgError } from '../errors.js';
import { shellFact, type CommandFact, type Fact } from './fact.js';

export interface OsRelease {
  id: string;
  versionId: string;
  codename: string;
  prettyName: string;
}

/** /etc/os-release, parsed. */
export const osRelease: Fact<OsRelease> = shellFact('os-release', 'cat /etc/os-release', (r) => {
  const kv = parseKeyValue(r.stdout);
  return {
    id: kv.get('ID') ?? 'unknown',
    versionId: kv.get('VERSION_ID') ?? '',
    codename: kv.get('VERSION_CODENAME') ?? '',
    prettyName: kv.get('PRETTY_NAME') ?? kv.get('ID') ?? 'unknown',
  };
});

/** Parses shell-style KEY=value lines (os-release, /etc/default files). */
export function parseKeyValue(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2] ?? '';
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    }
    out.set(m[1] ?? '', value);
  }
  return out;
}

export interface InitSystem {
  /** PID 1 is systemd. */
  systemd: boolean;
  /** `systemctl is-system-running`: running, degraded, starting … */
  state: string;
}

/** Whether the host runs systemd, and its overall state. */
export const initSystem: Fact<InitSystem> = shellFact(
  'init-system',
  'echo "pid1=$(cat /proc/1/comm 2>/dev/null)"; echo "state=$(systemctl is-system-running 2>/dev/null)"',
  (r) => {
    const kv = parseKeyValue(r.stdout);
    return { systemd: kv.get('pid1') === 'systemd', state: kv.get('state') || 'unknown' };
  },
);

export interface DiskSpace {
  /** The nearest existing directory the figures are for. */
  mount: string;
  path: string;
  availableBytes: number;
  totalBytes: number;
}

/** Free space for `path`, measured at its nearest existing ancestor (it may not exist yet). */
export function diskSpace(path: string): CommandFact<DiskSpace> {
  // The path travels as $1 so the executor is the only place that quotes.
  const script = 'p="$1"; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; echo "$p"; df -Pk "$p" | tail -n 1';
  return { id: `disk:${path}`, argv: ['sh', '-c', script, 'sh', path], parse: (r) => parseDf(r.stdout) };
}

/** Parses `echo PATH; df -Pk PATH | tail -1`. */
export function parseDf(stdout: string): DiskSpace {
  const [pathLine = '', dfLine = ''] = stdout.trim().split('\n');
  const cols = dfLine.trim().split(/\s+/);
  const total = Number(cols[1]) * 1024;
  const available = Number(cols[3]) * 1024;
  if (!Number.isFinite(total) || !Number.isFinite(available)) throw new HapgError('PRECHECK_FAILED', `unexpected df output: ${dfLine}`);
  return { path: pathLine.trim(), mount: cols[5] ?? '', totalBytes: total, availableBytes: available };
}

export interface Clock {
  /** Remote wall clock, seconds since epoch. */
  remoteEpoch: number;
}

/** The remote wall clock; compared against the control machine's by the preflight. */
export const clock: Fact<Clock> = shellFact('clock', 'date +%s.%N', (r) => ({ remoteEpoch: Number(r.stdout.trim()) }));

export interface ListeningSocket {
  address: string;
  port: number;
  process: string;
}

/** TCP sockets in LISTEN state with their process names (`ss -Htlnp`). */
export const listeningSockets: CommandFact<ListeningSocket[]> = {
  id: 'listening-sockets',
  argv: ['ss', '-Htlnp'],
  sudo: true,
  parse: (r) => parseSs(r.stdout),
};

/** Parses `ss -Htlnp` lines: State Recv-Q Send-Q Local:Port Peer:Port Process. */
export function parseSs(stdout: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5) continue;
    const local = cols[3] ?? '';
    const idx = local.lastIndexOf(':');
    if (idx < 0) continue;
    const port = Number(local.slice(idx + 1));
    if (!Number.isInteger(port)) continue;
    const proc = /users:\(\("([^"]+)"/.exec(line);
    out.push({ address: local.slice(0, idx).replace(/^\[|\]$/g, ''), port, process: proc?.[1] ?? '' });
  }
  return out;
}

export interface Privilege {
  user: string;
  /** Commands that need root can run (root login, or passwordless sudo). */
  canBecomeRoot: boolean;
}

/** Who we are on the host and whether privileged steps will work. */
export const privilege: Fact<Privilege> = shellFact(
  'privilege',
  'echo "user=$(id -un)"; if [ "$(id -u)" = 0 ]; then echo root=yes; elif sudo -n true 2>/dev/null; then echo root=yes; else echo root=no; fi',
  (r) => {
    const kv = parseKeyValue(r.stdout);
    return { user: kv.get('user') ?? '?', canBecomeRoot: kv.get('root') === 'yes' };
  },
);

export interface Resources {
  cpus: number;
  memoryBytes: number;
  arch: string;
}

/** CPU count, memory and architecture. */
export const resources: Fact<Resources> = shellFact(
  'resources',
  'echo "cpus=$(nproc)"; echo "arch=$(uname -m)"; awk \'/^MemTotal:/ {print "memkb=" $2}\' /proc/meminfo',
  (r) => {
    const kv = parseKeyValue(r.stdout);
    return { cpus: Number(kv.get('cpus') ?? 0), arch: kv.get('arch') ?? '?', memoryBytes: Number(kv.get('memkb') ?? 0) * 1024 };
  },
);

/**
 * What tells one machine from another: its machine-id and the MAC addresses of its network
 * interfaces. Two inventory hosts with the same identity are one machine reached by two names.
 */
export const machineIdentity: Fact<string> = shellFact(
  'machine-identity',
  'cat /etc/machine-id 2>/dev/null; cat /sys/class/net/*/address 2>/dev/null | grep -v "^00:00:00:00:00:00$" | sort -u',
  (r) => r.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' '),
);
