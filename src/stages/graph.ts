import type { DesiredState } from '../model/model.js';
import type { ComponentStages } from '../tasks/component.js';
import { preflightStage } from '../tasks/preflight/stage.js';
import { COMPONENTS } from '../tasks/registry.js';
import type { GraphNode, Lanes, Stage } from './stage.js';

/**
 * The deploy graph: the one order `deploy` executes and `plan` prints. Preflight, then each
 * phase in turn, components in registry order within a phase (retire in reverse: what was set
 * up last goes first, so a leaving proxy host gives up its VIP before its HAProxy stops):
 *   gates → hosts → dcs → before-clusters → primary clusters (sources first) → edge →
 *   standby clusters (after their source and the proxies they may reach it through) →
 *   retire (members and proxies that left the inventory, once clients point elsewhere) → verify.
 * Clusters that share no host and do not depend on each other are lanes: deploy runs them
 * side by side (see clusterLanes).
 */
export function deployGraph(model: DesiredState, opts: { preflight?: boolean; /** clusters whose own stages (and verification) are left out: a command that must not touch them */ leaveOut?: readonly string[] } = {}): GraphNode[] {
  const phase = (pick: (s: ComponentStages) => Stage[] | undefined) => COMPONENTS.flatMap((c) => pick(c.stages) ?? []);
  const lanes = (title: string, names: readonly string[], stagesOf: (name: string) => Stage[]): GraphNode[] => {
    const groups = clusterLanes(model, names)
      .map((lane) => lane.flatMap(stagesOf))
      .filter((lane) => lane.length > 0);
    if (groups.length <= 1) return groups.flat();
    const node: Lanes = { title, lanes: groups };
    return [node];
  };
  const clusters = (title: string, names: readonly string[]) => lanes(title, names, (name) => phase((s) => s.cluster?.(model, name)));
  const included = model.clusterOrder.filter((n) => !opts.leaveOut?.includes(n));
  const primaries = included.filter((n) => !model.inventory.clusters[n]!.standby);
  const standbys = included.filter((n) => model.inventory.clusters[n]!.standby);
  const sideBySide = (names: readonly string[]) => `Clusters ${names.join(', ')} side by side`;
  return [
    ...(opts.preflight === false ? [] : [preflightStage()]),
    ...phase((s) => s.gates?.(model)),
    ...phase((s) => s.hosts?.(model)),
    ...phase((s) => s.dcs?.(model)),
    ...phase((s) => s.beforeClusters?.(model)),
    ...clusters(sideBySide(primaries), primaries),
    ...phase((s) => s.edge?.(model)),
    ...clusters(sideBySide(standbys), standbys),
    ...[...COMPONENTS].reverse().flatMap((c) => c.stages.retire?.(model) ?? []),
    ...lanes(`Verifying clusters ${included.join(', ')} side by side`, included, (name) => phase((s) => s.verify?.(model, name))),
  ];
}

/**
 * The graph's gates and host preparation alone (packages, certificates, pgBackRest access):
 * what a command that bootstraps an already deployed cluster anew needs before it starts.
 */
export function hostPhases(model: DesiredState): Stage[] {
  return [...COMPONENTS.flatMap((c) => c.stages.gates?.(model) ?? []), ...COMPONENTS.flatMap((c) => c.stages.hosts?.(model) ?? [])];
}

/**
 * The hosts a cluster's own stages may touch: every host with a placement of that cluster
 * (members, its proxies, its backup repository host), never its etcd cluster's.
 */
export function clusterHosts(model: DesiredState, name: string): Set<string> {
  const hosts = new Set(model.inventory.clusters[name]!.hosts);
  for (const p of model.placements) if (p.component !== 'etcd' && p.of.split(',').includes(name)) hosts.add(p.host);
  return hosts;
}

/**
 * Clusters in lanes, each lane in deploy order: two clusters share a lane when they share a
 * host or one is the standby source of the other (directly or through others in the lane).
 * Lanes share nothing, so their stages may run side by side.
 */
export function clusterLanes(model: DesiredState, names: readonly string[]): string[][] {
  const lanes: { names: string[]; hosts: Set<string> }[] = [];
  for (const name of names) {
    const hosts = clusterHosts(model, name);
    const source = model.inventory.clusters[name]!.standby?.cluster;
    const joined = lanes.filter((lane) => lane.names.some((n) => n === source || model.inventory.clusters[n]!.standby?.cluster === name) || [...hosts].some((h) => lane.hosts.has(h)));
    const merged = { names: [...joined.flatMap((l) => l.names), name], hosts: new Set([...joined.flatMap((l) => [...l.hosts]), ...hosts]) };
    // Merged lanes keep deploy order: their clusters in the order they came.
    merged.names.sort((a, b) => names.indexOf(a) - names.indexOf(b));
    const at = joined.length ? lanes.indexOf(joined[0]!) : lanes.length;
    for (const lane of joined) lanes.splice(lanes.indexOf(lane), 1);
    lanes.splice(Math.min(at, lanes.length), 0, merged);
  }
  return lanes.map((l) => l.names);
}
