import type { DesiredState } from '../model/model.js';
import type { ComponentStages } from '../tasks/component.js';
import { preflightStage } from '../tasks/preflight/stage.js';
import { COMPONENTS } from '../tasks/registry.js';
import type { Stage } from './stage.js';

/**
 * The deploy graph: the one order `deploy` executes and `plan` prints. Preflight, then each
 * phase in turn, components in registry order within a phase (retire in reverse: what was set
 * up last goes first, so a leaving proxy host gives up its VIP before its HAProxy stops):
 *   gates → hosts → dcs → before-clusters → primary clusters (sources first) → edge →
 *   standby clusters (after their source and the proxies they may reach it through) →
 *   retire (members and proxies that left the inventory, once clients point elsewhere) → verify.
 */
export function deployGraph(model: DesiredState, opts: { preflight?: boolean } = {}): Stage[] {
  const phase = (pick: (s: ComponentStages) => Stage[] | undefined) => COMPONENTS.flatMap((c) => pick(c.stages) ?? []);
  const clusters = (names: readonly string[]) => names.flatMap((name) => phase((s) => s.cluster?.(model, name)));
  const primaries = model.clusterOrder.filter((n) => !model.inventory.clusters[n]!.standby);
  const standbys = model.clusterOrder.filter((n) => model.inventory.clusters[n]!.standby);
  return [
    ...(opts.preflight === false ? [] : [preflightStage()]),
    ...phase((s) => s.gates?.(model)),
    ...phase((s) => s.hosts?.(model)),
    ...phase((s) => s.dcs?.(model)),
    ...phase((s) => s.beforeClusters?.(model)),
    ...clusters(primaries),
    ...phase((s) => s.edge?.(model)),
    ...clusters(standbys),
    ...[...COMPONENTS].reverse().flatMap((c) => c.stages.retire?.(model) ?? []),
    ...model.clusterOrder.flatMap((name) => phase((s) => s.verify?.(model, name))),
  ];
}
