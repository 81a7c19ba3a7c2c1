// A cluster's repository brought to life once PostgreSQL runs with archiving: the stanza
// (also on a live cluster that gets backups later), pgBackRest's check (a WAL segment switched,
// archived and found in the repository), the first full backup, and the scheduled backups.
import { fileMatches, fileStates } from '../../facts/files.js';
import type { DesiredState } from '../../model/model.js';
import { renderTemplate } from '../../render/templates.js';
import { exec, file, noop, type PlanItem } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';
import { cachedMemberStates } from '../patroni/facts.js';
import { runningLeader } from '../patroni/member-health.js';
import { backupArgv, backupServiceContext, repositoryRunner } from './context.js';
import { newestBackup, stanzaExists, stanzaInfo, timerStates, type InfoResult } from './facts.js';
import { PGBACKREST_BIN, repositoryMode, scheduleOf, stanzaOf, timerName, type BackupType } from './model.js';

/** Hosts that carry a cluster's backup timers: the repository host, or every member (the unit runs only on the primary). */
export function timerHosts(model: DesiredState, cluster: string): string[] {
  const spec = model.inventory.clusters[cluster]!;
  const mode = repositoryMode(spec.backup!);
  return mode.kind === 'host' ? [mode.host] : spec.hosts;
}

/** The unit files of a cluster's schedule on one host. */
function timerFiles(model: DesiredState, cluster: string, host: string) {
  const schedule = scheduleOf(model.inventory.clusters[cluster]!.backup!);
  return (Object.entries(schedule) as [BackupType, string][]).flatMap(([type, calendar]) => [
    file(host, `/etc/systemd/system/${timerName(cluster, type)}.service`, renderTemplate('pgbackrest/backup.service', backupServiceContext(model, cluster, type))),
    file(host, `/etc/systemd/system/${timerName(cluster, type)}.timer`, renderTemplate('pgbackrest/backup.timer', { cluster, type, calendar })),
  ]);
}

/** Timer units of a cluster that exist on a host but are no longer scheduled (a type removed from the schedule). */
const UNSCHEDULED = (cluster: string, keep: readonly string[]) =>
  (['full', 'diff', 'incr'] as BackupType[]).filter((t) => !keep.includes(t)).map((t) => timerName(cluster, t));

/** Steps that make a cluster's backup schedule match: unit files, daemon-reload, timers enabled and started. */
async function planTimers(ctx: Parameters<Stage['plan']>[0], model: DesiredState, cluster: string): Promise<PlanItem[]> {
  const schedule = Object.keys(scheduleOf(model.inventory.clusters[cluster]!.backup!));
  const items: PlanItem[] = [];
  for (const host of timerHosts(model, cluster)) {
    const files = timerFiles(model, cluster, host);
    const unscheduled = UNSCHEDULED(cluster, schedule);
    const [current, timers, stale] = await Promise.all([
      ctx.session.facts.get(host, fileStates(files.map((f) => f.path))),
      ctx.session.facts.get(host, timerStates(schedule.map((t) => `${timerName(cluster, t as BackupType)}.timer`))),
      ctx.session.facts.get(host, fileStates(unscheduled.map((u) => `/etc/systemd/system/${u}.timer`))),
    ]);
    const changed = files.filter((f) => !fileMatches(current.get(f.path), f));
    const leftover = unscheduled.filter((u) => stale.get(`/etc/systemd/system/${u}.timer`));
    const timerUnits = schedule.map((t) => `${timerName(cluster, t as BackupType)}.timer`);
    const inactive = timerUnits.filter((u) => {
      const s = timers.get(u);
      return s?.active !== 'active' || s.enabled !== 'enabled';
    });
    items.push(...changed);
    if (leftover.length) {
      items.push(
        exec(host, `remove unscheduled ${leftover.join(', ')}`, [
          'sh',
          '-c',
          'for u in "$@"; do systemctl disable --now "$u.timer" >/dev/null 2>&1 || true; rm -f "/etc/systemd/system/$u.timer" "/etc/systemd/system/$u.service"; done',
          'sh',
          ...leftover,
        ]),
      );
    }
    if (changed.length || leftover.length) items.push(exec(host, 'systemctl daemon-reload', ['systemctl', 'daemon-reload']));
    if (changed.length || inactive.length) items.push(exec(host, `enable and start ${timerUnits.join(', ')}`, ['systemctl', 'enable', '--now', '--quiet', ...timerUnits]));
    if (!changed.length && !leftover.length && !inactive.length) items.push(noop(host, `backup timers of ${cluster} scheduled (${schedule.join(', ')})`));
  }
  return items;
}

/**
 * `stanza-create`, asked again while a member's pgBackRest holds the stanza's archive lock:
 * the leader's asynchronous archive-push runs (and fails, while there is no stanza) from the
 * moment PostgreSQL archives, and stanza-create needs that lock on the member too
 * (LockAcquireError, "is another pgBackRest process running?"). Up to 20 tries, 2 s apart;
 * any other failure, or the last one, is reported as pgBackRest printed it.
 */
export const STANZA_CREATE = [
  'for try in $(seq 1 20); do',
  '  out=$("$@" 2>&1) && { printf "%s\\n" "$out"; exit 0; }',
  '  rc=$?',
  '  case "$out" in *LockAcquireError*) [ "$try" -lt 20 ] && { sleep 2; continue; } ;; esac',
  '  printf "%s\\n" "$out" >&2; exit "$rc"',
  'done',
].join('\n');

/**
 * The stanza of one cluster, after its Patroni stages (so archive_mode is on, also when
 * backups came to a live cluster through a rolling restart): created where missing, checked,
 * given its first full backup, and scheduled. Runs on the repository host as pgbackrest, or
 * on the leader as postgres for a posix or object-store repository.
 */
export function stanzaStage(model: DesiredState, cluster: string): Stage {
  const stanza = stanzaOf(cluster);
  return {
    id: `pgbackrest:${cluster}`,
    title: `Backups of ${cluster} (pgBackRest stanza ${stanza})`,
    async plan(ctx) {
      const { session } = ctx;
      const leader = runningLeader(await cachedMemberStates(session.facts, model, cluster));
      const runner = repositoryRunner(model, cluster, leader);
      if (!leader || !runner) return { blocks: [], notes: [`no running leader of ${cluster}: the stanza is created and the first backup taken by the next deploy`] };
      const info: InfoResult = await session.facts.get(runner.host, stanzaInfo(cluster, runner.user)).catch((e: unknown) => ({ ok: false, error: String(e) }) as const);
      const exists = info.ok && stanzaExists(info.info);
      const hasBackup = info.ok && newestBackup(info.info) !== undefined;
      const as = { user: runner.user };
      const items: PlanItem[] = [];
      const notes: string[] = [];
      if (!exists) items.push(exec(runner.host, `create stanza ${stanza}`, ['sh', '-c', STANZA_CREATE, 'sh', PGBACKREST_BIN, `--stanza=${stanza}`, 'stanza-create'], { ...as, timeoutMs: 300_000 }));
      if (!exists || !hasBackup) {
        // A WAL segment switched on the primary, archived through archive_command, and found in the repository.
        items.push({ ...exec(runner.host, `check stanza ${stanza}: a WAL segment archived and found in the repository`, [PGBACKREST_BIN, `--stanza=${stanza}`, 'check'], { ...as, timeoutMs: 300_000 }), check: true });
        items.push(exec(runner.host, `take the first full backup of ${cluster}`, backupArgv(cluster, 'full'), { ...as, timeoutMs: 6 * 3600_000, tag: `first-backup:${cluster}` }));
      } else {
        items.push(noop(runner.host, `stanza ${stanza} exists, newest backup ${newestBackup(info.info)!.label}`));
      }
      if (!info.ok && ctx.mode === 'plan') notes.push(`repository of ${cluster} not readable yet (${info.error}): deploy creates the stanza, checks archiving and takes the first full backup`);
      return { blocks: [{ items }, { items: await planTimers(ctx, model, cluster) }], notes };
    },
  };
}
