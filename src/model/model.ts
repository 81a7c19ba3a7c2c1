import { HapgError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import { COMPONENTS } from '../tasks/registry.js';
import { restoreReaderPlacements } from '../tasks/pgbackrest/component.js';
import { clusterModel, type ClusterModel } from '../tasks/patroni/model.js';
import type { Access } from './access.js';
import type { Placement } from './placement.js';
import { clustersInOrder } from './topology.js';

/**
 * The desired state, computed once from the inventory: every component's placements (which
 * host runs what, on which ports, with which packages, services and data paths) and each
 * Patroni cluster's settings. Checks, preflight, plans, stages and status read it; nothing
 * re-derives it.
 */
export interface DesiredState {
  inventory: Inventory;
  placements: readonly Placement[];
  /** Clusters in deploy order: sources before the standby clusters that stream from them. */
  clusterOrder: readonly string[];
  /** Hosts that run a component (of one instance), in placement order. */
  hostsOf(component: string, of?: string): string[];
  placementsOn(host: string): Placement[];
  /** Debian packages a host needs, sorted. */
  packagesOn(host: string): string[];
  /** A Patroni cluster's settings (pg_hba, slots, dynamic configuration, standby section). */
  cluster(name: string): ClusterModel;
  /** What hapg's own requests present and trust (set by the command; see Access). */
  access: Access;
  /**
   * Set only while `hapg restore --into` runs: the target cluster's hosts read the source's
   * repository (restore and archive-get of its stanza, nothing else). The command's last
   * deploy runs with a model without it, which takes that access away again.
   */
  restoreInto?: RestoreInto;
}

/** A restore of one cluster's backups into another cluster of the inventory. */
export interface RestoreInto {
  source: string;
  target: string;
}

/** Every placement of every registered component. */
export function allPlacements(inventory: Inventory): Placement[] {
  return COMPONENTS.flatMap((c) => c.placements(inventory));
}

export function buildModel(inventory: Inventory, opts: { restoreInto?: RestoreInto } = {}): DesiredState {
  const placements = [...allPlacements(inventory), ...(opts.restoreInto ? restoreReaderPlacements(inventory, opts.restoreInto) : [])];
  const clusters = new Map<string, ClusterModel>();
  const byHost = new Map<string, Placement[]>();
  for (const p of placements) byHost.set(p.host, [...(byHost.get(p.host) ?? []), p]);
  return {
    inventory,
    access: { tls: undefined, secrets: undefined },
    ...(opts.restoreInto ? { restoreInto: opts.restoreInto } : {}),
    placements,
    clusterOrder: clustersInOrder(inventory),
    hostsOf: (component, of) => [...new Set(placements.filter((p) => p.component === component && (of === undefined || p.of === of)).map((p) => p.host))],
    placementsOn: (host) => byHost.get(host) ?? [],
    packagesOn: (host) => [...new Set((byHost.get(host) ?? []).flatMap((p) => p.packages))].sort(),
    cluster(name) {
      let model = clusters.get(name);
      if (!model) {
        if (!Object.hasOwn(inventory.clusters, name)) throw new HapgError('INTERNAL', `unknown cluster ${name}`);
        model = clusterModel(inventory, name);
        clusters.set(name, model);
      }
      return model;
    },
  };
}
