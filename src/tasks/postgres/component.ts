import type { Component } from '../component.js';
import { standbyVerifyStage } from '../standby/verify.js';
import { rolesStage } from './roles-stage.js';
import { writeReadStage } from './verify.js';

/**
 * What lives inside PostgreSQL rather than on the host: application roles and databases (a
 * standby cluster has its source's), and the end-to-end check that a cluster takes writes
 * and serves them back. Runs wherever Patroni runs, so it places nothing of its own.
 */
export const postgresComponent: Component = {
  name: 'postgres',
  placements: () => [],
  stages: {
    cluster: (model, name) => (model.inventory.clusters[name]!.standby ? [] : [rolesStage(model, name)]),
    verify: (model, name) => [model.inventory.clusters[name]!.standby ? standbyVerifyStage(model, name) : writeReadStage(model, name)],
  },
};
