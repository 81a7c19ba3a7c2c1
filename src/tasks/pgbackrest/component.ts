import type { Inventory } from '../../inventory/schema.js';
import type { Placement } from '../../model/placement.js';
import type { RestoreInto } from '../../model/model.js';
import type { Component } from '../component.js';
import { accessStage } from './access.js';
import { backedUpClusters, repositoryMode, repositoryReaders } from './model.js';
import { stanzaStage } from './stanza.js';

/**
 * pgBackRest on the members of every cluster with `backup:` and on its repository host. No
 * listener of its own (the transport is SSH), no service (backups are systemd timers).
 * Clusters without `backup:` get nothing: the component adds no placement and no stage.
 */
function placements(inventory: Inventory): Placement[] {
  const out: Placement[] = [];
  const repositoryHosts = new Map<string, string[]>();
  for (const [name, cluster] of backedUpClusters(inventory)) {
    for (const host of cluster.hosts) {
      out.push({ component: 'pgbackrest', of: name, host, role: `pgbackrest:${name}`, ports: [], packages: ['pgbackrest'], services: [], dataPaths: [] });
    }
    const mode = repositoryMode(cluster.backup);
    if (mode.kind === 'host') repositoryHosts.set(mode.host, [...(repositoryHosts.get(mode.host) ?? []), name]);
  }
  for (const [name, source] of repositoryReaders(inventory)) {
    for (const host of inventory.clusters[name]!.hosts) {
      out.push({ component: 'pgbackrest', of: name, host, role: `pgbackrest-reader:${source}`, ports: [], packages: ['pgbackrest'], services: [], dataPaths: [] });
    }
  }
  for (const [host, clusters] of repositoryHosts) {
    out.push({ component: 'pgbackrest', of: clusters.join(','), host, role: `pgbackrest-repo:${clusters.join(',')}`, ports: [], packages: ['pgbackrest'], services: [], dataPaths: [] });
  }
  return out;
}

/**
 * pgBackRest on the hosts of a cluster restored from another one's backups (`hapg restore
 * --into`), where the target has no backups of its own: they read the source's stanza.
 */
export function restoreReaderPlacements(inventory: Inventory, into: RestoreInto): Placement[] {
  if (inventory.clusters[into.target]?.backup) return [];
  return (inventory.clusters[into.target]?.hosts ?? []).map((host) => ({
    component: 'pgbackrest',
    of: into.target,
    host,
    role: `pgbackrest-restore:${into.source}`,
    ports: [],
    packages: ['pgbackrest'],
    services: [],
    dataPaths: [],
  }));
}

export const pgbackrestComponent: Component = {
  name: 'pgbackrest',
  placements,
  stages: {
    // Users, keys and pgbackrest.conf before Patroni starts: archive_command pushes from the first segment.
    hosts: (model) => accessStage(model),
    cluster: (model, name) => (model.inventory.clusters[name]!.backup ? [stanzaStage(model, name)] : []),
  },
};
