import { fileStates } from '../../facts/files.js';
import { serviceStates } from '../../facts/services.js';
import type { Inventory } from '../../inventory/schema.js';
import type { Placement } from '../../model/placement.js';
import type { Component } from '../component.js';
import { HAPROXY_CONFIG_PATH } from './context.js';
import { planHaproxyHost } from './plan.js';
import { haproxyRetireStage } from './retire.js';
import { waitForHaproxyRouting } from './routing.js';

/** HAProxy on each cluster's haproxy hosts: a read-write, a read-only and a stats listener per cluster. */
function placements(inventory: Inventory): Placement[] {
  return Object.entries(inventory.clusters).flatMap(([name, c]) =>
    (c.haproxy?.hosts ?? []).map((host) => ({
      component: 'haproxy',
      of: name,
      host,
      role: `haproxy:${name}`,
      ports: (['read_write_port', 'read_only_port', 'stats_port'] as const).map((key) => ({
        port: c.haproxy![key],
        path: ['clusters', name, 'haproxy', key],
        owner: `cluster ${name} haproxy.${key}`,
        processes: ['haproxy'],
      })),
      packages: ['haproxy'],
      services: ['haproxy'],
      dataPaths: [],
    })),
  );
}

export const haproxyComponent: Component = {
  name: 'haproxy',
  placements,
  stages: {
    edge: (model) => {
      const hosts = [...new Set(model.placements.filter((p) => p.component === 'haproxy').map((p) => p.host))];
      if (hosts.length === 0) return [];
      return [
        {
          id: 'haproxy',
          title: 'HAProxy',
          async plan({ session }) {
            const items = (
              await Promise.all(
                hosts.map(async (host) => {
                  const [files, services] = await Promise.all([session.facts.get(host, fileStates([HAPROXY_CONFIG_PATH])), session.facts.get(host, serviceStates(['haproxy']))]);
                  return planHaproxyHost(model, host, { file: files.get(HAPROXY_CONFIG_PATH), service: services.get('haproxy') });
                }),
              )
            ).flat();
            // A started or reloaded HAProxy counts every server UP until it has checked them.
            const touched = items.filter((i) => i.kind === 'service').map((i) => i.host);
            return { blocks: [{ items, waits: waitForHaproxyRouting(model, touched) }], notes: [] };
          },
        },
      ];
    },
    retire: (model) => [haproxyRetireStage(model)],
  },
};
