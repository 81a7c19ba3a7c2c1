// keepalived on hosts that no longer carry any cluster's VIP: stopped and disabled (a stopping
// keepalived tells its peers at once, with priority 0, so a remaining host takes the VIP without
// waiting for adverts to time out), then the VIP is verified on exactly one remaining host.
import type { DesiredState } from '../../model/model.js';
import { service } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';
import { hostsStillRunning } from '../leaving-service.js';
import { KEEPALIVED_CONFIG_PATH } from './context.js';
import { waitForVip } from './vip.js';

export function keepalivedRetireStage(model: DesiredState): Stage {
  return {
    id: 'keepalived-retire',
    title: 'keepalived: hosts leaving',
    async plan({ session }) {
      const leaving = await hostsStillRunning(session, model, 'keepalived', KEEPALIVED_CONFIG_PATH, new Set(model.hostsOf('keepalived')));
      if (leaving.length === 0) return { blocks: [], notes: [] };
      const vips = Object.keys(model.inventory.clusters).filter((c) => model.inventory.clusters[c]!.vip && model.hostsOf('keepalived', c).length > 0);
      return {
        blocks: [{ items: leaving.map((h) => service(h, 'keepalived', 'stopped', false)), waits: vips.map((c) => waitForVip(model, c)), says: `stop keepalived for good on ${leaving.join(', ')}` }],
        notes: leaving.map(
          (h) => `${h} no longer carries a VIP: stop and disable its keepalived (its VIP moves to a remaining host at once)${vips.length ? `; then the VIP of ${vips.join(', ')} is verified on exactly one remaining host` : ''}`,
        ),
      };
    },
  };
}
