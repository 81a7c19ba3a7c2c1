import { HapgError } from '../../errors.js';
import type { DesiredState } from '../../model/model.js';
import type { Session } from '../../run/session.js';
import { checkHost, worstVerdict, type CheckResult, type Verdict } from './checks.js';
import { gatherPreflightFacts } from './gather.js';
import { hostRoles } from './host-roles.js';

export interface HostCheckReport {
  host: string;
  address: string;
  roles: string[];
  verdict: Verdict;
  checks: CheckResult[];
}

/** Gathers the preflight facts of every host in parallel and checks them. */
export async function runPreflight(session: Session, model: DesiredState): Promise<HostCheckReport[]> {
  const { inventory } = model;
  const roles = hostRoles(model).filter((r) => session.remotes.has(r.host));
  const gathered = await Promise.all(roles.map((r) => gatherPreflightFacts(session.facts, r)));
  const spread = clockSpread(gathered);
  const sameMachine = (i: number) => roles.filter((_, j) => j !== i && gathered[j]!.identity === gathered[i]!.identity && gathered[i]!.identity !== '').map((r) => r.host);
  return roles.map((r, i): HostCheckReport => {
    const checks = checkHost(r, gathered[i]!, spread, sameMachine(i));
    return { host: r.host, address: inventory.hosts[r.host]?.address ?? '?', roles: r.roles, verdict: worstVerdict(checks), checks };
  });
}

/**
 * The least the hosts' clocks can differ given each reading's uncertainty: a slow round trip
 * (a loaded control machine) widens a reading's window but is no evidence of skew.
 */
export function clockSpread(readings: readonly { clockOffset: number; clockUncertainty: number }[]): number {
  if (readings.length === 0) return 0;
  const latestEarliest = Math.max(...readings.map((r) => r.clockOffset - r.clockUncertainty));
  const earliestLatest = Math.min(...readings.map((r) => r.clockOffset + r.clockUncertainty));
  return Math.max(0, latestEarliest - earliestLatest);
}

/** Raises PRECHECK_FAILED naming the first failing check when any host fails; reports warnings. */
export function assertPreflightPassed(session: Session, reports: readonly HostCheckReport[]): void {
  for (const r of reports) {
    for (const c of r.checks.filter((c) => c.verdict === 'warn')) session.sink({ kind: 'warn', host: r.host, message: `${c.name}: ${c.detail ?? c.summary}` });
  }
  const failures = reports.flatMap((r) => r.checks.filter((c) => c.verdict === 'fail').map((c) => ({ host: r.host, check: c })));
  const first = failures[0];
  if (!first) return;
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more; see \`hapg check\`)` : '';
  throw new HapgError('PRECHECK_FAILED', `${first.host}: preflight ${first.check.name}: ${first.check.detail ?? first.check.summary}${more}`, {
    host: first.host,
  });
}
