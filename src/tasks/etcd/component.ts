import type { Inventory } from '../../inventory/schema.js';
import type { Placement } from '../../model/placement.js';
import type { Component } from '../component.js';
import { etcdQuorumGate } from './gate.js';
import { etcdAuthStage } from './auth.js';
import { etcdRetireStage } from './retire.js';
import { etcdStage } from './stage.js';

/** etcd members: hapg runs one etcd per host, so a host listed in a second etcd cluster is that cluster's error, not a second placement. */
function placements(inventory: Inventory): Placement[] {
  const seen = new Set<string>();
  const out: Placement[] = [];
  for (const [name, etcd] of Object.entries(inventory.etcd)) {
    for (const host of etcd.hosts) {
      if (seen.has(host)) continue;
      seen.add(host);
      out.push({
        component: 'etcd',
        of: name,
        host,
        role: `etcd:${name}`,
        ports: [
          { port: etcd.client_port, path: ['etcd', name, 'client_port'], owner: `etcd ${name} client_port`, processes: ['etcd'] },
          { port: etcd.peer_port, path: ['etcd', name, 'peer_port'], owner: `etcd ${name} peer_port`, processes: ['etcd'] },
        ],
        packages: ['etcd-server', 'etcd-client'],
        services: ['etcd'],
        dataPaths: [{ path: etcd.data_dir, role: `etcd ${name}` }],
      });
    }
  }
  return out;
}

export const etcdComponent: Component = {
  name: 'etcd',
  placements,
  stages: {
    gates: (model) => Object.keys(model.inventory.etcd).map((name) => etcdQuorumGate(model, name)),
    dcs: (model) => Object.keys(model.inventory.etcd).flatMap((name) => [etcdStage(model, name), etcdAuthStage(model, name)]),
    retire: (model) => Object.keys(model.inventory.etcd).map((name) => etcdRetireStage(model, name)),
  },
};
