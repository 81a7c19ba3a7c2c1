import { isIP } from 'node:net';
import { fileMatches, type RemoteFileState } from '../../facts/files.js';
import { shellFact, type CommandFact } from '../../facts/fact.js';
import type { ServiceState } from '../../facts/services.js';
import type { InventorySecrets } from '../../inventory/secrets.js';
import type { DesiredState } from '../../model/model.js';
import { renderTemplate } from '../../render/templates.js';
import { file, type FileStep, type PlanItem } from '../../run/steps.js';
import { planServiceState } from '../service-plan.js';
import { KEEPALIVED_CONFIG_PATH, KEEPALIVED_SECRET_LINES, keepalivedContext } from './context.js';

/** keepalived.conf: mode 0600, it holds the VRRP password. */
export function keepalivedFile(model: DesiredState, host: string, secrets: InventorySecrets, resolved?: ReadonlyMap<string, string>): FileStep {
  const { context, secrets: used } = keepalivedContext(model, host, secrets, resolved);
  return file(host, KEEPALIVED_CONFIG_PATH, renderTemplate('keepalived/keepalived.conf', context), { mode: 0o600, secrets: used, secretLines: KEEPALIVED_SECRET_LINES });
}

/** Names among the VIP peers of `host` that are DNS names, which keepalived needs as addresses. */
export function namesToResolve(model: DesiredState, host: string): string[] {
  const peers = model.placementsOn(host).filter((p) => p.component === 'keepalived').flatMap((p) => model.hostsOf('keepalived', p.of));
  return [...new Set(peers.map((h) => model.inventory.hosts[h]!.address).filter((a) => isIP(a) === 0))].sort();
}

/** Each name's first IPv4 address (else IPv6) as the host itself resolves it (`getent ahosts`). */
export function resolvedOnHost(names: readonly string[]): CommandFact<Map<string, string>> {
  const script = 'for n in "$@"; do a=$(getent ahostsv4 "$n" | awk \'NR==1{print $1}\'); [ -n "$a" ] || a=$(getent ahosts "$n" | awk \'NR==1{print $1}\'); echo "$n $a"; done';
  const fact = shellFact(`resolve:${names.join(',')}`, script, (r) => new Map(r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f): f is [string, string] => f.length === 2 && f[1] !== '')));
  return { ...fact, argv: [...fact.argv, 'sh', ...names] };
}

/** keepalived: started, or reloaded when its configuration changed. */
export function planKeepalivedHost(
  model: DesiredState,
  host: string,
  secrets: InventorySecrets,
  facts: { file: RemoteFileState | null | undefined; service: ServiceState | undefined; resolved?: ReadonlyMap<string, string> },
): PlanItem[] {
  const cfg = keepalivedFile(model, host, secrets, facts.resolved);
  const changed = fileMatches(facts.file, cfg) ? [] : [cfg];
  return [...changed, ...planServiceState(host, 'keepalived', facts.service, changed, 'reload')];
}
