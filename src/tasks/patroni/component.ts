import type { Inventory } from '../../inventory/schema.js';
import type { Placement } from '../../model/placement.js';
import type { Component } from '../component.js';
import { dynamicConfigStage } from './config-stage.js';
import { patroniLeaveStage } from './leave.js';
import { clusterHealthGate, standbyLayoutGate } from './gate.js';
import { restartsStage } from './restarts.js';
import { pruneGate } from './prune-gate.js';
import { freshSecretsGate } from './secrets-gate.js';
import { patroniStage } from './stage.js';

/**
 * PostgreSQL run by Patroni on each cluster's hosts. hapg runs one Patroni per host (the host
 * name is the member name), so a host listed in a second cluster is that cluster's error.
 */
function placements(inventory: Inventory): Placement[] {
  const seen = new Set<string>();
  const out: Placement[] = [];
  for (const [name, c] of Object.entries(inventory.clusters)) {
    for (const host of c.hosts) {
      if (seen.has(host)) continue;
      seen.add(host);
      out.push({
        component: 'patroni',
        of: name,
        host,
        role: `postgres:${name}`,
        ports: [
          { port: c.postgres.port, path: ['clusters', name, 'postgres', 'port'], owner: `cluster ${name} postgres.port`, processes: ['postgres', 'patroni'] },
          { port: c.patroni.rest_api_port, path: ['clusters', name, 'patroni', 'rest_api_port'], owner: `cluster ${name} patroni.rest_api_port`, processes: ['patroni'] },
        ],
        packages: [`postgresql-${c.postgres.version}`, 'patroni', 'python3-etcd'],
        services: ['patroni'],
        dataPaths: [
          { path: c.postgres.data_dir, role: `postgres ${name} data` },
          ...(c.postgres.wal_dir ? [{ path: c.postgres.wal_dir, role: `postgres ${name} WAL` }] : []),
        ],
      });
    }
  }
  return out;
}

export const patroniComponent: Component = {
  name: 'patroni',
  placements,
  stages: {
    gates: (model) => [freshSecretsGate(model), ...model.clusterOrder.map((name) => clusterHealthGate(model, name)), standbyLayoutGate(model), pruneGate(model)],
    // A raise of max_connections & co. reaches running standby clusters before their source.
    beforeClusters: (model) =>
      model.clusterOrder.filter((n) => model.inventory.clusters[n]!.standby).flatMap((name) => [dynamicConfigStage(model, name, 'raise'), restartsStage(model, name, 'raise')]),
    cluster: (model, name) => [patroniLeaveStage(model, name), patroniStage(model, name), dynamicConfigStage(model, name), restartsStage(model, name)],
  },
};
