import type { Command } from 'commander';
import { renderBackupStatus } from '../tasks/pgbackrest/status.js';
import { ExitCode } from '../errors.js';
import { openAccess } from '../model/access.js';
import { withSession } from '../run/session.js';
import { gatherStatus, type StandbyLink, type StatusReport } from '../tasks/status/gather.js';
import { createReporter } from '../ui/reporter.js';
import { renderTable } from '../ui/table.js';
import { sessionOptionsOf, withInventoryOptions, type InventoryCommandOptions } from './options.js';

/** `hapg status`: etcd, every cluster's members, HAProxy backends, the VIP, and a verdict. */
export function registerStatusCommand(program: Command): void {
  withInventoryOptions(program.command('status'))
    .description('show etcd, Patroni members, HAProxy backends and the VIP, and judge their health (exit 1 when degraded)')
    .action(async (opts: InventoryCommandOptions) => {
      const reporter = createReporter({ ...opts, quiet: !opts.json });
      const report = await withSession({ ...sessionOptionsOf(opts), everyHostOptional: true }, reporter.sink, async (session) => {
        await openAccess(session, undefined, { createMissing: false });
        return gatherStatus(session);
      });
      await reporter.result(renderStatus(report), report);
      process.exitCode = report.healthy ? ExitCode.ok : ExitCode.failed;
    });
}

/** The status as tables, then the verdict. */
export function renderStatus(report: StatusReport): string {
  const out: string[] = [];
  for (const e of report.etcd) {
    out.push(`etcd ${e.name}: ${e.members.filter((m) => m.healthy).length}/${e.members.length} healthy`);
  }
  for (const c of report.clusters) {
    out.push('', `cluster ${c.name}${c.vipHolders.length ? ` (VIP on ${c.vipHolders.join(', ')})` : ''}`);
    const backend = (member: string, kind: 'read_write' | 'read_only') =>
      c.haproxy
        .map((h) => h.servers?.find((s) => s.proxy === `${c.name}_${kind}` && s.server === member)?.status ?? '?')
        .filter((s, i, all) => all.indexOf(s) === i)
        .join('/') || '-';
    out.push(
      renderTable([
        ['MEMBER', 'HOST', 'RELEASE', 'POSTGRES', 'PATRONI', 'ROLE', 'STATE', 'TL', 'LAG', 'PENDING RESTART', 'HAPROXY RW', 'HAPROXY RO'],
        ...c.members.map((m) => [
          m.name,
          m.host,
          m.release ?? '?',
          m.postgresVersion ?? '-',
          m.patroniVersion ?? '-',
          m.role,
          m.state,
          m.timeline === undefined ? '-' : String(m.timeline),
          m.lag === undefined ? '-' : String(m.lag),
          m.pendingRestart ? 'yes' : 'no',
          backend(m.name, 'read_write'),
          backend(m.name, 'read_only'),
        ]),
      ]),
    );
    if (c.standby) out.push(renderStandbyLink(c.standby));
    if (c.backup) out.push(...renderBackupStatus(c.backup));
    for (const p of c.problems) out.push(`  problem: ${p}`);
    for (const n of c.notes) out.push(`  note: ${n}`);
  }
  for (const e of report.etcd) for (const p of e.problems) out.push(`  problem: etcd ${e.name}: ${p}`);
  if (report.certificates.length > 0) {
    const soonest = report.certificates.filter((c) => c.daysLeft !== undefined).sort((a, b) => a.daysLeft! - b.daysLeft!)[0];
    out.push('', `certificates: ${report.certificates.length}${soonest ? `, the first to expire: ${soonest.service} on ${soonest.host} in ${soonest.daysLeft} days (${soonest.notAfter!.slice(0, 10)})` : ''}`);
  }
  for (const p of report.certificateProblems) out.push(`  problem: ${p}`);
  for (const u of report.unreachable) out.push(`  problem: ${u.host} cannot be reached over SSH: ${u.reason}`);
  out.push('', report.healthy ? 'healthy' : 'DEGRADED');
  return out.join('\n');
}

/** One line on a standby cluster's link: source, lag in bytes and seconds, and the slot. */
export function renderStandbyLink(link: StandbyLink): string {
  const receiver = link.receiver ? `${link.receiver.status} from ${link.receiver.senderHost || '?'}` : 'no WAL receiver';
  const slot = link.slot
    ? `slot ${link.slot.name} on ${link.sourceLeader}: ${link.slot.active ? 'active' : 'INACTIVE'}, retains ${link.slot.retainedBytes} bytes`
    : `slot missing${link.sourceLeader ? ` on ${link.sourceLeader}` : ''}`;
  const lag = link.slot?.lagBytes != null ? `lag ${link.slot.lagBytes} bytes, ${link.slot.lagSeconds ?? 0} s` : 'lag unknown';
  return `  standby of ${link.source}: standby leader ${link.standbyLeader ?? 'none'}, ${receiver}; ${lag}; ${slot}`;
}
