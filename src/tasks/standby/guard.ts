import { HapgError } from '../../errors.js';
import { patroniScope } from '../../inventory/defaults.js';
import type { Session } from '../../run/session.js';
import { dynamicConfig } from '../patroni/dynamic-config.js';
import { pgData } from '../patroni/facts.js';
import { initializedSystemId, storedDynamicConfig } from './facts.js';

/** The live dynamic configuration of a cluster, from the first member that answers. */
export async function liveDynamicConfig(session: Session, name: string): Promise<Record<string, unknown> | undefined> {
  const cluster = session.loaded.inventory.clusters[name]!;
  for (const host of cluster.hosts) {
    if (!session.remotes.has(host)) continue;
    const live = await session.facts.get(host, dynamicConfig(cluster.patroni.rest_api_port)).catch(() => undefined);
    if (live) return live;
  }
  return undefined;
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
export async function assertStandbyLayout(session: Session): Promise<void> {
  const { inventory, path } = session.loaded;
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    // From etcd, not from a member: a stopped cluster starts with what its scope holds.
    const stored = await storedDynamicConfig(session, name, cluster);
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
    const sysid = await initializedSystemId(session, name, cluster);
    if (sysid) {
      const sourceSysid = await initializedSystemId(session, source, inventory.clusters[source]!);
      if (sysid !== sourceSysid) {
        throw new HapgError(
          'UNSAFE_OPERATION',
          `standby cluster ${name} already exists in etcd scope ${patroniScope(name, cluster)} as a different cluster (system identifier ${sysid}, source ${source}: ${sourceSysid ?? 'not initialised'}): hapg will not turn it into a standby`,
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
      for (const host of cluster.hosts) {
        if (!session.remotes.has(host)) continue;
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
}
