// Point-in-time recovery of a whole cluster in place (hapg restore): the repository is read
// first and every target checked before anything stops; then Patroni stops everywhere, the
// cluster's state leaves etcd, every member's data is moved aside (never deleted), and one
// member bootstraps the cluster again through Patroni with pgBackRest's restore and the
// recovery target, promoting on a new timeline. A full backup of that timeline follows, so
// that the replicas the deploy graph then starts restore from it and only stream the tail.
import { HapgError } from '../../errors.js';
import type { InventorySecrets } from '../../inventory/secrets.js';
import { etcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { exec, service, type FileStep } from '../../run/steps.js';
import type { Block, Stage } from '../../stages/stage.js';
import { etcdClusterHealth, quorumOf } from '../etcd/health.js';
import { PATRONI_CONFIG_PATH, PATRONI_NAMESPACE } from '../patroni/model.js';
import { patroniFiles } from '../patroni/plan.js';
import { currentLeader, waitForBootstrapped } from '../patroni/waits.js';
import { configuredScope, wipeStamp } from '../standby/rebuild.js';
import { backupArgv, repositoryRunner } from './context.js';
import { newestBackup, stanzaInfo, type StanzaInfo } from './facts.js';
import { verifyRepositoryKey } from './guards.js';
import { PGBACKREST_BIN, restoreCommand, stanzaOf } from './model.js';

/** Where recovery stops: the end of the archive, a time, an LSN, or a named restore point. */
export type RestoreTarget = { kind: 'latest' } | { kind: 'time'; time: string; epoch: number } | { kind: 'lsn'; lsn: string } | { kind: 'name'; name: string };

const TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) ?(Z|[+-]\d{2}(?::?\d{2})?)$/;
const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;
const RESTORE_POINT = /^[A-Za-z0-9_.-]{1,63}$/;

/**
 * The target of `restore` from its options: exactly one of --to latest|TIME, --lsn, --name.
 * A time names its zone (Z or ±HH:MM) and becomes UTC with milliseconds, the form both
 * PostgreSQL and pgBackRest read.
 */
export function parseRestoreTarget(opts: { to?: string; lsn?: string; name?: string }): RestoreTarget {
  const given = [opts.to !== undefined, opts.lsn !== undefined, opts.name !== undefined].filter(Boolean).length;
  if (given !== 1) throw new HapgError('USAGE', 'give exactly one of --to latest|TIME, --lsn LSN, --name RESTORE_POINT');
  if (opts.lsn !== undefined) {
    if (!LSN.test(opts.lsn)) throw new HapgError('USAGE', `--lsn ${JSON.stringify(opts.lsn)}: must be a WAL location such as 0/3000060`);
    return { kind: 'lsn', lsn: opts.lsn.toUpperCase() };
  }
  if (opts.name !== undefined) {
    if (!RESTORE_POINT.test(opts.name)) throw new HapgError('USAGE', `--name ${JSON.stringify(opts.name)}: must be a restore point name of letters, digits, _ . - (at most 63)`);
    return { kind: 'name', name: opts.name };
  }
  const to = opts.to!;
  if (to === 'latest') return { kind: 'latest' };
  const m = TIME.exec(to);
  const zone = m?.[3] === 'Z' ? 'Z' : m?.[3]?.length === 3 ? `${m[3]}:00` : m?.[3]?.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  const epoch = m ? Date.parse(`${m[1]}T${m[2]}${zone}`) : NaN;
  if (!m || Number.isNaN(epoch)) {
    throw new HapgError('USAGE', `--to ${JSON.stringify(to)}: must be "latest" or a time with its zone, such as 2026-11-29T21:40:00Z or "2026-11-29 22:40:00+01:00"`);
  }
  return { kind: 'time', time: new Date(epoch).toISOString().replace('T', ' ').replace('Z', '+00'), epoch: epoch / 1000 };
}

export const describeTarget = (t: RestoreTarget) =>
  t.kind === 'latest' ? 'the end of the archive' : t.kind === 'time' ? t.time : t.kind === 'lsn' ? `LSN ${t.lsn}` : `restore point ${t.name}`;

/** pgBackRest's restore options for a target (it also picks the newest backup that ends before a time or LSN). */
export function restoreArgs(t: RestoreTarget): string[] {
  if (t.kind === 'latest') return [];
  return [`--type=${t.kind}`, `--target=${t.kind === 'time' ? t.time : t.kind === 'lsn' ? t.lsn : t.name}`];
}

/** The recovery settings Patroni starts the restored server with: replay from the archive up to the target, then promote. */
export function recoverySettings(cluster: string, t: RestoreTarget): Record<string, string> {
  return {
    restore_command: restoreCommand(cluster),
    recovery_target_timeline: 'latest',
    ...(t.kind === 'time' ? { recovery_target_time: t.time } : t.kind === 'lsn' ? { recovery_target_lsn: t.lsn } : t.kind === 'name' ? { recovery_target_name: t.name } : {}),
    ...(t.kind === 'latest' ? {} : { recovery_target_action: 'promote' }),
  };
}

/** The shell words of the bootstrap command (Patroni splits it like a shell). */
const shellQuote = (word: string) => (/^[A-Za-z0-9_=./:+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/**
 * patroni.yml of the member that bootstraps the restored cluster, from the backups of `from`
 * (the cluster itself; another one for `restore --into`).
 */
export function restoreBootstrapFile(model: DesiredState, cluster: string, host: string, secrets: InventorySecrets, t: RestoreTarget, from: string = cluster): FileStep {
  const command = [PGBACKREST_BIN, `--stanza=${stanzaOf(from)}`, ...restoreArgs(t), 'restore'].map(shellQuote).join(' ');
  const files = patroniFiles(model, cluster, host, secrets, { bootstrap: { name: 'pgbackrest', command, recoveryConf: recoverySettings(from, t) } });
  const config = files.find((f) => f.path === PATRONI_CONFIG_PATH)!;
  const whose = from === cluster ? 'the repository' : `the backups of ${from}`;
  return { ...config, title: `write ${PATRONI_CONFIG_PATH} that bootstraps from ${whose} (recovery to ${describeTarget(t)})` };
}

/** Refuses a target the repository cannot reach, before anything changes. */
export function checkTarget(cluster: string, info: StanzaInfo, t: RestoreTarget, now: number): void {
  const good = info.backups.filter((b) => !b.error);
  if (good.length === 0) throw new HapgError('UNSAFE_OPERATION', `the repository holds no backup of cluster ${cluster}: nothing to restore; nothing was changed`);
  if (t.kind !== 'time') return;
  const oldest = [...good].sort((a, b) => a.stop - b.stop)[0]!;
  if (t.epoch < oldest.stop) {
    throw new HapgError('UNSAFE_OPERATION', `--to ${t.time}: before the end of the oldest backup of ${cluster} (${new Date(oldest.stop * 1000).toISOString()}): nothing to restore it from; nothing was changed`);
  }
  if (t.epoch > now) throw new HapgError('UNSAFE_OPERATION', `--to ${t.time}: in the future: recovery would never reach it; nothing was changed`);
}

// Moved aside, never deleted: the operator removes it once sure. A rename on the same filesystem.
const MOVE_ASIDE = 'if [ -e "$1" ]; then mv -T -- "$1" "$1.hapg-restore-$2"; fi';
const EMPTY_DATA_DIR = 'set -e; install -d -m 0700 -o postgres -g postgres -- "$1"';
const NO_POSTGRES = 'if [ -f "$1/postmaster.pid" ] && runuser -u postgres -- "$2" status -D "$1" >/dev/null 2>&1; then runuser -u postgres -- "$2" stop -D "$1" -m fast -w; fi';

/**
 * Stops a cluster, deletes its state in etcd, moves every member's data aside (never deleted)
 * and bootstraps it again on `host` with `bootstrap` (a patroni.yml whose custom bootstrap
 * restores from a repository), waiting until it leads. The other members stay stopped and
 * empty: the deploy graph starts them, so they clone the restored leader.
 */
export function replaceClusterBlocks(model: DesiredState, name: string, host: string, etcdHost: string, stamp: string, bootstrap: FileStep, target: RestoreTarget): Block[] {
  const cluster = model.inventory.clusters[name]!;
  const pg = cluster.postgres;
  const etcd = etcdClient(model, cluster.etcd);
  const pgCtl = `${model.cluster(name).binDir}/pg_ctl`;
  const dirs = [pg.data_dir, ...(pg.wal_dir ? [pg.wal_dir] : [])];
  return [
    { items: cluster.hosts.filter((h) => h !== host).concat(host).map((h) => service(h, 'patroni', 'stopped')) },
    { items: cluster.hosts.map((h) => exec(h, `make sure no PostgreSQL runs on ${pg.data_dir}`, ['sh', '-c', NO_POSTGRES, 'sh', pg.data_dir, pgCtl])) },
    { items: [etcd.deletePrefix(etcdHost, `${PATRONI_NAMESPACE}${model.cluster(name).scope}/`)] },
    { items: cluster.hosts.flatMap((h) => dirs.map((d) => exec(h, `move ${d} aside to ${d}.hapg-restore-${stamp}`, ['sh', '-c', MOVE_ASIDE, 'sh', d, stamp]))) },
    {
      items: [
        exec(host, `create an empty ${pg.data_dir}`, ['sh', '-c', EMPTY_DATA_DIR, 'sh', pg.data_dir]),
        ...(pg.wal_dir ? [exec(host, `create an empty ${pg.wal_dir}`, ['sh', '-c', EMPTY_DATA_DIR, 'sh', pg.wal_dir])] : []),
        bootstrap,
        { ...service(host, 'patroni', 'started'), title: `start patroni: pgBackRest restores, PostgreSQL recovers to ${describeTarget(target)} and promotes` },
      ],
      waits: [{ ...waitForBootstrapped(model, name, host, 6 * 3600_000), tag: `restored:${name}` }],
    },
  ];
}

export interface RestoreOutcome {
  host?: string;
  movedAside?: string[];
}

/**
 * The restore of `name` to `target`, as stages that run before the deploy graph (which then
 * starts the replicas, reloads the restored member's patroni.yml without the bootstrap, and
 * verifies the cluster end to end).
 */
export function restoreStages(model: DesiredState, inventoryPath: string, name: string, target: RestoreTarget, outcome: RestoreOutcome = {}): Stage[] {
  const cluster = model.inventory.clusters[name];
  if (!cluster || !Object.hasOwn(model.inventory.clusters, name)) {
    throw new HapgError('USAGE', `--cluster ${name}: no such cluster in ${inventoryPath} (clusters: ${Object.keys(model.inventory.clusters).join(', ')})`);
  }
  if (!cluster.backup) throw new HapgError('USAGE', `--cluster ${name}: has no backup section in ${inventoryPath}: there is no repository to restore from`);
  if (cluster.standby) throw new HapgError('USAGE', `--cluster ${name}: a standby cluster is restored by restoring its source (then \`hapg standby rebuild\`)`);
  const etcd = etcdClient(model, cluster.etcd);
  const pg = cluster.postgres;
  const stanza = stanzaOf(name);
  return [
    {
      id: `restore:${name}`,
      title: `Restoring cluster ${name} to ${describeTarget(target)}`,
      async plan({ session, secrets }) {
        const leader = await currentLeader(session.facts, model, name);
        const runner = repositoryRunner(model, name, leader);
        if (!runner) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} keeps its backups beside the leader and has no running leader: restore needs a repository host; nothing was changed`);
        const info = await session.facts.fresh(runner.host, stanzaInfo(name, runner.user));
        if (!info.ok) throw new HapgError('CLUSTER_UNHEALTHY', `the repository of ${name} on ${runner.host} cannot be read: ${info.error}; nothing was changed`, { host: runner.host });
        checkTarget(name, info.info, target, Date.now() / 1000);
        await verifyRepositoryKey(session.facts, model, name, secrets, (h) => session.remotes.has(h));
        const health = await etcdClusterHealth(session.facts, etcd);
        const etcdHost = health.healthy[0];
        if (!etcdHost || health.healthy.length < quorumOf(etcd.hosts.length)) {
          throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${cluster.etcd} has no quorum: cannot remove cluster ${name}'s state; nothing was changed`);
        }
        const scope = model.cluster(name).scope;
        for (const host of cluster.hosts) {
          const configured = await session.facts.get(host, configuredScope);
          if (configured !== '' && configured !== scope) {
            throw new HapgError('UNSAFE_OPERATION', `${host} belongs to Patroni scope ${configured}, not ${scope}: refusing to stop or restore it; nothing was changed`, { host });
          }
        }
        const host = leader ?? cluster.leader;
        outcome.host = host;
        const dirs = [pg.data_dir, ...(pg.wal_dir ? [pg.wal_dir] : [])];
        const stamp = wipeStamp();
        outcome.movedAside = dirs.map((d) => `${d}.hapg-restore-${stamp}`);
        const as = { user: runner.user };
        return {
          blocks: [
            // WAL written up to now reaches the repository: a segment switched, archived and found.
            ...(leader ? [{ items: [exec(runner.host, `archive ${name}'s current WAL (pgBackRest check)`, [PGBACKREST_BIN, `--stanza=${stanza}`, 'check'], { ...as, timeoutMs: 300_000 })] }] : []),
            ...replaceClusterBlocks(model, name, host, etcdHost, stamp, restoreBootstrapFile(model, name, host, secrets, target), target),
            // The replicas restore the newest backup: one of the new timeline, so they follow it.
            { items: [exec(runner.host, `take a full backup of the restored ${name} (its replicas restore from it)`, backupArgv(name, 'full'), { ...as, timeoutMs: 6 * 3600_000, tag: `restore-backup:${name}` })] },
          ],
          notes: [
            `restoring ${name} on ${host} from the repository on ${runner.host} (newest backup ${newestBackup(info.info)?.label ?? '?'}); the data of ${cluster.hosts.join(', ')} is moved aside to ${outcome.movedAside.join(' and ')}: remove it once the restored cluster is verified`,
          ],
        };
      },
    },
  ];
}
