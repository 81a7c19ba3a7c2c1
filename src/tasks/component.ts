import type { Inventory } from '../inventory/schema.js';
import type { DesiredState } from '../model/model.js';
import type { Placement } from '../model/placement.js';
import type { Stage } from '../stages/stage.js';

/**
 * Where a component's stages go in the deploy graph (src/stages/graph.ts runs the phases in
 * this order): gates check before anything changes; hosts prepare every host (packages);
 * dcs brings up the DCS; before-clusters runs what must precede every cluster (a standby's
 * parameter raise); cluster runs per cluster, sources first; edge runs after the primary
 * clusters and before the standby clusters (proxies a standby may reach its source through);
 * retire removes what left the inventory and still runs, once every client points elsewhere
 * (etcd members, proxies); verify proves each cluster works end to end.
 */
export interface ComponentStages {
  gates?(model: DesiredState): Stage[];
  hosts?(model: DesiredState): Stage[];
  dcs?(model: DesiredState): Stage[];
  beforeClusters?(model: DesiredState): Stage[];
  cluster?(model: DesiredState, cluster: string): Stage[];
  edge?(model: DesiredState): Stage[];
  retire?(model: DesiredState): Stage[];
  verify?(model: DesiredState, cluster: string): Stage[];
}

/**
 * One component: a folder under src/tasks/ and a line in the registry. It says where it runs
 * and what it needs there (the model), and which stages it adds to the graph.
 */
export interface Component {
  /** Its folder name and the name placements carry. */
  name: string;
  /** Every host it runs on, with the ports, packages, services and data paths it needs there. */
  placements(inventory: Inventory): Placement[];
  stages: ComponentStages;
}
