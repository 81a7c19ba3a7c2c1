import type { Inventory } from '../../inventory/schema.js';
import type { Placement } from '../../model/placement.js';
import { fileStates } from '../../facts/files.js';
import { serviceStates } from '../../facts/services.js';
import type { Component } from '../component.js';
import { KEEPALIVED_CONFIG_PATH } from './context.js';
import { vipKernelStage } from './kernel.js';
import { keepalivedRetireStage } from './retire.js';
import { namesToResolve, planKeepalivedHost, resolvedOnHost } from './plan.js';
import { HapgError } from '../../errors.js';

/**
 * keepalived runs where a cluster's VIP may live: its HAProxy hosts, or without HAProxy its
 * members (the VIP then follows the Patroni leader, checked over curl).
 */
function placements(inventory: Inventory): Placement[] {
  return Object.entries(inventory.clusters).flatMap(([name, c]) =>
    c.vip
      ? (c.haproxy?.hosts ?? c.hosts).map((host) => ({
          component: 'keepalived',
          of: name,
          host,
          role: `vip:${name}`,
          ports: [],
          packages: c.haproxy ? ['keepalived'] : ['keepalived', 'curl'],
          services: ['keepalived'],
          dataPaths: [],
        }))
      : [],
  );
}

export const keepalivedComponent: Component = {
  name: 'keepalived',
  placements,
  stages: {
    hosts: vipKernelStage,
    edge: (model) => {
      const hosts = [...new Set(model.placements.filter((p) => p.component === 'keepalived').map((p) => p.host))];
      if (hosts.length === 0) return [];
      return [
        {
          id: 'keepalived',
          title: 'keepalived',
          async plan({ session, secrets }) {
            const items = await Promise.all(
              hosts.map(async (host) => {
                const names = namesToResolve(model, host);
                const [files, services, resolved] = await Promise.all([
                  session.facts.get(host, fileStates([KEEPALIVED_CONFIG_PATH])),
                  session.facts.get(host, serviceStates(['keepalived'])),
                  names.length ? session.facts.get(host, resolvedOnHost(names)) : new Map<string, string>(),
                ]);
                const unresolved = names.filter((n) => !resolved.has(n));
                if (unresolved.length) {
                  throw new HapgError('PRECHECK_FAILED', `${host}: cannot resolve ${unresolved.join(', ')} to an address for keepalived's unicast peers`, { host, hint: 'fix the name in DNS or /etc/hosts, or give the host an IP address in the inventory' });
                }
                return planKeepalivedHost(model, host, secrets, { file: files.get(KEEPALIVED_CONFIG_PATH), service: services.get('keepalived'), resolved });
              }),
            );
            return { blocks: [{ items: items.flat() }], notes: [] };
          },
        },
      ];
    },
    retire: (model) => [keepalivedRetireStage(model)],
  },
};
