import { HapgError } from '../../errors.js';
import type { DesiredState } from '../../model/model.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { initializedSystemId, isClusterInitialized, storedDynamicConfig } from './cluster-state.js';
import { leavingMembers } from './leave.js';
import { cachedMemberStates, pgData } from './facts.js';

/** Member states that deploy cannot heal by starting a service: a person must look first. */
const BROKEN_STATES = new Set(['crashed', 'start failed', 'restart failed', 'stopping failed']);

/**
 * Before anything changes on a live cluster: exactly one leader and no member in a failed
 * state. Stopped members are fine (deploy starts them); --force skips this gate.
 */
export function clusterHealthGate(model: DesiredState, name: string): Stage {
  return {
    id: `gate:patroni:${name}`,
    title: `Checking cluster ${name}`,
    async plan({ session, options }) {
      if (options.force || !(await isClusterInitialized(session.facts, model, name))) return notesOnly();
      const states = await cachedMemberStates(session.facts, model, name);
      const answering = [...states].filter(([, s]) => s !== undefined);
      if (answering.length === 0) return notesOnly();
      const leaders = answering.filter(([, s]) => s!.role === 'leader' || s!.role === 'standby_leader').map(([h]) => h);
      // A leader that left the inventory still leads until deploy switches over from it.
      if (leaders.length === 0) leaders.push(...(await leavingMembers(session, model, name)).filter((m) => m.role === 'leader' && m.state === 'running').map((m) => m.name));
      const broken = answering.filter(([, s]) => BROKEN_STATES.has(s!.state));
      const problem =
        leaders.length === 0
          ? 'has no leader'
          : leaders.length > 1
            ? `has ${leaders.length} leaders (${leaders.join(', ')})`
            : broken.length > 0
              ? `has members in a failed state (${broken.map(([h, s]) => `${h}: ${s!.state}`).join('; ')})`
              : undefined;
      if (problem) {
        throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} ${problem}: not changing anything`, { hint: 'see `hapg status`; fix the cluster or re-run with --force' });
      }
      return notesOnly();
    },
  };
}

const rebuildHint = (inventoryPath: string, name: string) => `hapg standby rebuild -i ${inventoryPath} --cluster ${name} --yes-wipe-data`;

/**
 * Before anything changes: every cluster's live role matches the inventory. A standby cluster
 * must be a copy of its source (same system identifier) that runs in standby mode, or not
 * exist at all (then no member may hold data: it is bootstrapped by base backup). A cluster
 * the inventory declares primary must not run as a standby (promotion is its own command).
 * hapg never converts a running cluster into a standby with PATCH /config: that path demotes
 * with an immediate shutdown and pg_rewind, and its data cannot be trusted afterwards.
 */
export function standbyLayoutGate(model: DesiredState): Stage {
  return {
    id: 'gate:standby-layout',
    title: 'Checking standby clusters',
    async plan({ session }) {
      const { inventory } = model;
      const path = session.loaded.path;
      const reachable = (h: string) => session.remotes.has(h);
      for (const [name, cluster] of Object.entries(inventory.clusters)) {
        // From etcd, not from a member: a stopped cluster starts with what its scope holds.
        const stored = await storedDynamicConfig(session.facts, model, name, reachable);
        const liveStandby = stored?.['standby_cluster'];
        if (!cluster.standby) {
          if (liveStandby) {
            throw new HapgError('UNSAFE_OPERATION', `cluster ${name} runs as a standby cluster, but the inventory declares it a primary cluster: deploy does not promote`, {
              hint: `to make it the primary run \`hapg standby promote -i ${path} --cluster ${name}\`, or add clusters.${name}.standby back`,
            });
          }
          continue;
        }
        const source = cluster.standby.cluster;
        const sysid = await initializedSystemId(session.facts, model, name, reachable);
        if (sysid) {
          const sourceSysid = await initializedSystemId(session.facts, model, source, reachable);
          if (sysid !== sourceSysid) {
            throw new HapgError(
              'UNSAFE_OPERATION',
              `standby cluster ${name} already exists in etcd scope ${model.cluster(name).scope} as a different cluster (system identifier ${sysid}, source ${source}: ${sourceSysid ?? 'not initialised'}): hapg will not turn it into a standby`,
              { hint: `if its data is not needed, rebuild it as a standby of ${source}: ${rebuildHint(path, name)}` },
            );
          }
          if (stored && !liveStandby) {
            throw new HapgError(
              'UNSAFE_OPERATION',
              `cluster ${name} is a primary cluster (no standby_cluster in its dynamic configuration in etcd), but the inventory declares it a standby of ${source}: hapg never converts a running cluster by PATCH /config`,
              { hint: `if it was promoted on purpose, remove clusters.${name}.standby from the inventory; to make it a standby again: ${rebuildHint(path, name)}` },
            );
          }
          continue;
        }
        if (sysid === null) {
          const withData: string[] = [];
          for (const host of cluster.hosts.filter(reachable)) {
            if ((await session.facts.get(host, pgData(cluster.postgres.data_dir))).exists) withData.push(host);
          }
          if (withData.length > 0) {
            throw new HapgError(
              'UNSAFE_OPERATION',
              `standby cluster ${name} is not initialised, but ${withData.join(', ')} already hold${withData.length === 1 ? 's' : ''} a PostgreSQL cluster in ${cluster.postgres.data_dir}: a standby starts from a base backup of ${source}, never from existing data`,
              { host: withData[0]!, hint: `if that data is not needed: ${rebuildHint(path, name)}` },
            );
          }
        }
      }
      return notesOnly();
    },
  };
}
