// `hapg restore --cluster SRC --into TARGET`: a copy of SRC's backups (to a point in time) in
// another cluster of the inventory, SRC left alone. The target's hosts read SRC's repository
// through its repository host with a key that restores and fetches WAL of SRC's stanza and
// nothing else, only while the command runs. The target is bootstrapped from that copy
// through Patroni's custom bootstrap in its own scope, on a timeline of its own; Patroni then
// sets the superuser, replication and rewind passwords to the target's own, the roles stage
// the target's declared roles and hapg's check role, before any replica clones; a target
// with backups gets a new stanza and a full backup, then the deploy graph rebuilds the
// replicas, takes the read access away and verifies the cluster end to end.
import { HapgError } from '../../errors.js';
import type { CommandFact } from '../../facts/fact.js';
import { fileStates } from '../../facts/files.js';
import type { DesiredState, RestoreInto } from '../../model/model.js';
import { etcdClient } from '../../model/endpoints.js';
import { standbyRoot, standbysOf } from '../../model/topology.js';
import { exec, noop, type PlanItem } from '../../run/steps.js';
import { clusterHosts, deployGraph, hostPhases } from '../../stages/graph.js';
import type { GraphNode, Stage } from '../../stages/stage.js';
import { rolesStage } from '../postgres/roles-stage.js';
import { stanzaStage } from './stanza.js';
import { etcdClusterHealth, quorumOf } from '../etcd/health.js';
import { isClusterInitialized } from '../patroni/cluster-state.js';
import { pgData } from '../patroni/facts.js';
import { currentLeader } from '../patroni/waits.js';
import { configuredScope, wipeStamp } from '../standby/rebuild.js';
import { repositoryRunner } from './context.js';
import { newestBackup, stanzaInfo } from './facts.js';
import { verifyRepositoryKey } from './guards.js';
import { CONFIG_PATH, repositoryMode, stanzaOf } from './model.js';
import { checkTarget, describeTarget, replaceClusterBlocks, restoreBootstrapFile, type RestoreTarget } from './restore.js';

const names = (list: readonly string[]) => list.join(', ');

/**
 * Refuses, from the inventory alone, a restore into `into.target` that cannot be done without
 * touching the source or its repository, or that would break another cluster: one line each.
 */
export function checkRestoreInto(model: DesiredState, inventoryPath: string, into: RestoreInto): void {
  const { inventory } = model;
  const { source, target } = into;
  const known = (name: string) => Object.hasOwn(inventory.clusters, name);
  const all = names(Object.keys(inventory.clusters));
  if (!known(source)) throw new HapgError('USAGE', `--cluster ${source}: no such cluster in ${inventoryPath} (clusters: ${all})`);
  if (target === source) {
    throw new HapgError('USAGE', `--into ${target}: that is the cluster restored from (--cluster ${source}): restore it in place without --into, or name another cluster of ${inventoryPath}`);
  }
  if (!known(target)) throw new HapgError('USAGE', `--into ${target}: no such cluster in ${inventoryPath} (clusters: ${all})`);
  const src = inventory.clusters[source]!;
  const dst = inventory.clusters[target]!;
  if (!src.backup) throw new HapgError('USAGE', `--cluster ${source}: has no backup section in ${inventoryPath}: there is no repository to restore from`);
  if (src.standby) throw new HapgError('USAGE', `--cluster ${source}: a standby cluster of ${src.standby.cluster}: restore from the backups of ${src.standby.cluster}`);
  const mode = repositoryMode(src.backup);
  if (mode.kind !== 'host') {
    const where = mode.kind === 'posix' ? `the mount ${mode.path}` : 'an object store';
    throw new HapgError(
      'USAGE',
      `--cluster ${source}: keeps its backups in ${where}: restore --into reads a repository only through its repository host, with a key that restores and fetches WAL of ${source}'s stanza and nothing else; give ${source} a repository host, or restore a copy by hand`,
    );
  }
  if (dst.standby) throw new HapgError('USAGE', `--into ${target}: a standby cluster of ${dst.standby.cluster}: it follows its source and is never restored; name a cluster that is not a standby`);
  const standbys = standbysOf(inventory, target);
  if (standbys.length > 0) {
    throw new HapgError('USAGE', `--into ${target}: the source of standby cluster${standbys.length > 1 ? 's' : ''} ${names(standbys)}: a copy of ${source} in it would cut them off; name a cluster no standby follows`);
  }
  const srcHosts = clusterHosts(model, source);
  const shared = [...clusterHosts(model, target)].filter((h) => srcHosts.has(h));
  if (shared.length > 0) {
    throw new HapgError(
      'USAGE',
      `--into ${target}: shares ${names(shared)} with ${source} (members, proxies or repository host): restoring into it would touch ${source}; give ${target} hosts of its own`,
    );
  }
  if (dst.postgres.version !== src.postgres.version) {
    throw new HapgError('USAGE', `--into ${target}: runs PostgreSQL ${dst.postgres.version}, ${source} runs ${src.postgres.version}: a copy of ${source}'s data needs the same major version`);
  }
  if (dst.etcd === src.etcd && model.cluster(target).scope === model.cluster(source).scope) {
    throw new HapgError('USAGE', `--into ${target}: has the Patroni scope ${model.cluster(source).scope} of ${source} in etcd cluster ${src.etcd}: give it a scope of its own`);
  }
  if (dst.backup && repositoryMode(dst.backup).kind === 'options') {
    throw new HapgError(
      'USAGE',
      `--into ${target}: keeps its backups in an object store: hapg cannot set a stanza of ${target} made from its old data aside there; remove the backup section for the restore or use a repository host`,
    );
  }
}

/** The stanza directories of `stanza` under a repository path that exist (a stanza made before: the target's own old backups). */
export function stanzaDirs(path: string, stanza: string): CommandFact<string[]> {
  const dirs = [`${path}/backup/${stanza}`, `${path}/archive/${stanza}`];
  return {
    id: `stanza-dirs:${path}:${stanza}`,
    argv: ['sh', '-c', 'for d in "$@"; do if [ -e "$d" ]; then printf "%s\\n" "$d"; fi; done', 'sh', ...dirs],
    sudo: true,
    parse: (r) => r.stdout.split('\n').filter((l) => l !== ''),
  };
}

/** Where the target's stanza lives, and the host to look there from (the repository host, or a member for a mount). */
export function targetStanzaPlace(model: DesiredState, target: string): { host: string; path: string } | undefined {
  const backup = model.inventory.clusters[target]!.backup;
  if (!backup) return undefined;
  const mode = repositoryMode(backup);
  if (mode.kind === 'host') return { host: mode.host, path: mode.path };
  if (mode.kind === 'posix') return { host: model.inventory.clusters[target]!.hosts[0]!, path: mode.path };
  return undefined;
}

/** `<path>` of a repository moved aside: its stanza directories keep their names below it. */
export const stanzaAsidePath = (path: string, stamp: string) => `${path}.hapg-restore-${stamp}`;

// Each existing stanza directory moves to the same place under the aside path (a rename on the same filesystem).
const MOVE_STANZA_ASIDE = [
  'set -e',
  'repo=$1; aside=$2; shift 2',
  'for d in "$@"; do if [ -e "$repo/$d" ]; then install -d -m 0750 -- "$aside/$(dirname "$d")"; mv -T -- "$repo/$d" "$aside/$d"; fi; done',
].join('\n');

/** What the restore into the target found and did, for the command's last line. */
export interface IntoOutcome {
  /** The member that bootstrapped the copy. */
  host?: string;
  /** Where the target's data went on every member (only when it held data). */
  movedAside?: string[];
  /** Where the target's former stanza went. */
  stanzaAside?: string;
  /** The newest backup of the source when the restore was planned. */
  newestBackup?: string;
}

/**
 * The checks that need the hosts, before anything changes: the source's repository holds a
 * backup that reaches the target time and the inventory's key opens it; the target's hosts
 * belong to its scope; data on the target (a data directory, its state in etcd, a stanza of
 * its own made before) is replaced only with `--yes-replace-data`, and then its stanza is
 * moved aside here, before any deploy stage would check it against the new data.
 */
export function intoCheckStage(model: DesiredState, into: RestoreInto, target: RestoreTarget, opts: { replaceData: boolean }, outcome: IntoOutcome): Stage {
  const { source } = into;
  const dst = model.inventory.clusters[into.target]!;
  return {
    id: `restore-into:check:${into.target}`,
    title: `Checking the restore of ${source}'s backups into ${into.target}`,
    async plan({ session, secrets }) {
      const reachable = (h: string) => session.remotes.has(h);
      const runner = repositoryRunner(model, source, undefined)!;
      const info = await session.facts.fresh(runner.host, stanzaInfo(source, runner.user));
      if (!info.ok) throw new HapgError('CLUSTER_UNHEALTHY', `the repository of ${source} on ${runner.host} cannot be read: ${info.error}; nothing was changed`, { host: runner.host });
      checkTarget(source, info.info, target, Date.now() / 1000);
      await verifyRepositoryKey(session.facts, model, source, secrets, reachable);
      outcome.newestBackup = newestBackup(info.info)?.label;

      const scope = model.cluster(into.target).scope;
      for (const host of dst.hosts) {
        const configured = await session.facts.get(host, configuredScope);
        if (configured !== '' && configured !== scope) {
          throw new HapgError('UNSAFE_OPERATION', `--into ${into.target}: ${host} belongs to Patroni scope ${configured}, not ${scope}: refusing to stop or restore it; nothing was changed`, { host });
        }
      }
      const dirs = [dst.postgres.data_dir, ...(dst.postgres.wal_dir ? [dst.postgres.wal_dir] : [])];
      const withData = (await Promise.all(dst.hosts.map(async (h) => ((await session.facts.get(h, pgData(dst.postgres.data_dir))).exists ? [h] : [])))).flat();
      const initialized = await isClusterInitialized(session.facts, model, into.target);
      const place = targetStanzaPlace(model, into.target);
      const stale = place ? await session.facts.get(place.host, stanzaDirs(place.path, stanzaOf(into.target))) : [];
      const held = [
        ...(withData.length ? [`a data directory on ${names(withData)}`] : []),
        ...(initialized ? [`its state in etcd`] : []),
        ...(stale.length ? [`a stanza of its own made from its former data (${names(stale)} on ${place!.host})`] : []),
      ];
      if (held.length > 0 && !opts.replaceData) {
        throw new HapgError(
          'UNSAFE_OPERATION',
          `--into ${into.target}: cluster ${into.target} holds data (${held.join('; ')}): restore --into moves it aside, never deletes it, and replaces it with a copy of ${source}: add --yes-replace-data to confirm; nothing was changed`,
        );
      }
      const stamp = wipeStamp();
      const items: PlanItem[] = [];
      if (stale.length && place) {
        outcome.stanzaAside = stanzaAsidePath(place.path, stamp);
        const relative = stale.map((d) => d.slice(place.path.length + 1));
        items.push(exec(place.host, `move the former stanza ${stanzaOf(into.target)} of ${into.target} aside to ${outcome.stanzaAside}`, ['sh', '-c', MOVE_STANZA_ASIDE, 'sh', place.path, outcome.stanzaAside, ...relative]));
      }
      const undeclared = Object.keys(model.inventory.clusters[source]!.postgres.users).filter((u) => !Object.hasOwn(dst.postgres.users, u));
      const notes = [
        `restore ${source}'s backups (newest ${outcome.newestBackup ?? '?'}, repository on ${runner.host}, read only) to ${describeTarget(target)} into ${into.target} (${names(dst.hosts)}); ${source} is not written, restarted or reconfigured`,
        held.length ? `${into.target}'s ${names(dirs)} move aside to *.hapg-restore-STAMP on every member (kept until you remove them)` : `${into.target} holds no data: nothing to move aside`,
        `${into.target}'s superuser, replication and rewind passwords (Patroni, after the bootstrap), its roles ${names(Object.keys(dst.postgres.users)) || '(none declared)'} and hapg's check role get ${into.target}'s own passwords before any replica clones`,
        ...(undeclared.length ? [`roles of ${source} that ${into.target} does not declare keep ${source}'s passwords in the copy: ${names(undeclared)}`] : []),
        dst.backup ? `${into.target} archives into a new stanza ${stanzaOf(into.target)} with a first full backup; its replicas restore from it` : `${into.target} has no backups: its replicas clone the restored leader`,
      ];
      return { blocks: items.length ? [{ items }] : [], notes };
    },
  };
}

/**
 * The restore itself, once the target's hosts can read the source's stanza: the target stops,
 * leaves etcd and moves its data aside; its first member bootstraps from the source's backups.
 */
export function restoreIntoStage(model: DesiredState, into: RestoreInto, target: RestoreTarget, outcome: IntoOutcome): Stage {
  const dst = model.inventory.clusters[into.target]!;
  const etcd = etcdClient(model, dst.etcd);
  return {
    id: `restore-into:${into.target}`,
    title: `Restoring ${into.source}'s backups into ${into.target} to ${describeTarget(target)}`,
    async plan({ session, secrets }) {
      const health = await etcdClusterHealth(session.facts, etcd);
      const etcdHost = health.healthy[0];
      if (!etcdHost || health.healthy.length < quorumOf(etcd.hosts.length)) {
        throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${dst.etcd} has no quorum: cannot replace cluster ${into.target}'s state`);
      }
      const host = (await currentLeader(session.facts, model, into.target)) ?? dst.leader;
      outcome.host = host;
      const stamp = wipeStamp();
      const dirs = [dst.postgres.data_dir, ...(dst.postgres.wal_dir ? [dst.postgres.wal_dir] : [])];
      outcome.movedAside = dirs.map((d) => `${d}.hapg-restore-${stamp}`);
      return {
        blocks: replaceClusterBlocks(model, into.target, host, etcdHost, stamp, restoreBootstrapFile(model, into.target, host, secrets, target, into.source), target),
        notes: [`${into.target} bootstraps on ${host} from ${into.source}'s backups; its other members stay stopped until the deploy stages rebuild them from it`],
      };
    },
  };
}

/**
 * A target without backups of its own keeps pgBackRest only for the restore: its
 * pgbackrest.conf, which names the source's stanza and repository host, goes (the
 * repository host no longer admits its key either).
 */
export function intoCleanupStage(model: DesiredState, into: RestoreInto): Stage {
  const dst = model.inventory.clusters[into.target]!;
  return {
    id: `restore-into:cleanup:${into.target}`,
    title: `Removing ${into.target}'s read access to ${into.source}'s repository`,
    async plan({ session }) {
      if (dst.backup) return { blocks: [], notes: [] };
      const items = await Promise.all(
        dst.hosts.map(async (h) => {
          const state = (await session.facts.get(h, fileStates([CONFIG_PATH]))).get(CONFIG_PATH);
          return state ? exec(h, `remove ${CONFIG_PATH} (it read ${into.source}'s stanza for the restore)`, ['rm', '-f', '--', CONFIG_PATH]) : noop(h, `no ${CONFIG_PATH}`);
        }),
      );
      return { blocks: [{ items }], notes: [] };
    },
  };
}

/**
 * The whole run, in order: the checks (and the target's former stanza moved aside); the
 * target's hosts prepared with read access to the source's stanza (the whole deploy graph
 * when the target was never initialised, so its hosts get everything); the restore; the
 * target's roles; its new stanza and first full backup; the deploy graph without the read
 * access (replicas rebuilt, access taken away, everything verified); the target's leftover
 * pgbackrest.conf removed. `plain` is the inventory's model, `reading` the same with the
 * restore's read access. The deploy stages leave the source out (and the standby clusters
 * that follow it): the gates and host-wide preparation still look at every host, as deploy.
 */
export function restoreIntoGraph(
  plain: DesiredState,
  reading: DesiredState,
  into: RestoreInto,
  target: RestoreTarget,
  opts: { replaceData: boolean; targetInitialized: boolean },
  outcome: IntoOutcome,
): GraphNode[] {
  // The source and the standby clusters that follow it get none of their own stages: no configuration change, no verification write.
  const leaveOut = plain.clusterOrder.filter((n) => standbyRoot(plain.inventory, n) === into.source);
  return [
    intoCheckStage(plain, into, target, opts, outcome),
    ...(opts.targetInitialized ? hostPhases(reading) : deployGraph(reading, { preflight: false, leaveOut })),
    restoreIntoStage(reading, into, target, outcome),
    rolesStage(reading, into.target),
    ...(plain.inventory.clusters[into.target]!.backup ? [stanzaStage(plain, into.target)] : []),
    ...deployGraph(plain, { preflight: false, leaveOut }),
    intoCleanupStage(plain, into),
  ];
}
