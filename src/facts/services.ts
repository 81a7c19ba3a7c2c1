import type { CommandFact } from './fact.js';

export interface ServiceState {
  name: string;
  /** The unit file exists (LoadState=loaded). */
  loaded: boolean;
  /** active, inactive, failed, activating … */
  active: string;
  /** enabled, disabled, static … */
  enabled: string;
  /** Microseconds since epoch the unit last became active (0 when never): tells restarts apart. */
  activeSince: number;
  mainPid: number;
}

/** systemd state of several units in one round trip (`systemctl show`). */
export function serviceStates(names: readonly string[]): CommandFact<Map<string, ServiceState>> {
  const sorted = [...names].sort();
  return {
    id: `services:${sorted.join(',')}`,
    argv: ['systemctl', 'show', '--property=Id,LoadState,ActiveState,UnitFileState,ActiveEnterTimestampMonotonic,MainPID', ...sorted.map((n) => `${n}.service`)],
    parse: (r) => parseSystemctlShow(r.stdout),
  };
}

/** Parses `systemctl show` output: blank-line separated blocks of KEY=value. */
export function parseSystemctlShow(stdout: string): Map<string, ServiceState> {
  const out = new Map<string, ServiceState>();
  for (const block of stdout.split(/\n\s*\n/)) {
    const kv = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
    }
    const id = kv.get('Id');
    if (!id) continue;
    const name = id.replace(/\.service$/, '');
    out.set(name, {
      name,
      loaded: kv.get('LoadState') === 'loaded',
      active: kv.get('ActiveState') ?? 'unknown',
      enabled: kv.get('UnitFileState') ?? '',
      activeSince: Number(kv.get('ActiveEnterTimestampMonotonic') ?? 0),
      mainPid: Number(kv.get('MainPID') ?? 0),
    });
  }
  return out;
}
