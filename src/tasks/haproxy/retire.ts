// HAProxy on hosts that left every cluster's haproxy hosts: stopped and disabled, once the
// remaining proxies were reloaded (edge phase) and the VIP left the host (keepalived's retire
// stage runs first). Its configuration file stays, so the host's history can be read.
import type { DesiredState } from '../../model/model.js';
import { service } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';
import { hostsStillRunning } from '../leaving-service.js';
import { HAPROXY_CONFIG_PATH } from './context.js';

export function haproxyRetireStage(model: DesiredState): Stage {
  return {
    id: 'haproxy-retire',
    title: 'HAProxy: hosts leaving',
    async plan({ session }) {
      const leaving = await hostsStillRunning(session, model, 'haproxy', HAPROXY_CONFIG_PATH, new Set(model.hostsOf('haproxy')));
      if (leaving.length === 0) return { blocks: [], notes: [] };
      return {
        blocks: [{ items: leaving.map((h) => service(h, 'haproxy', 'stopped', false)), says: `stop HAProxy for good on ${leaving.join(', ')}` }],
        notes: leaving.map((h) => `${h} is no longer a HAProxy host of any cluster: stop and disable its HAProxy (the remaining proxies were reloaded without it first)`),
      };
    },
  };
}
