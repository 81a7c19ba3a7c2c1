import { HapgError } from '../../errors.js';
import { etcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { etcdClusterHealth, quorumOf } from './health.js';

/**
 * Before anything changes: an etcd cluster that runs has quorum. Nothing answering is a
 * cluster not deployed yet; answering without quorum is a broken one, and deploy stops.
 */
export function etcdQuorumGate(model: DesiredState, name: string): Stage {
  const etcd = etcdClient(model, name);
  return {
    id: `gate:etcd:${name}`,
    title: `Checking etcd cluster ${name}`,
    async plan({ session }) {
      const health = await etcdClusterHealth(session.facts, etcd);
      const answering = health.healthy.length + health.unhealthy.filter((u) => u.detail !== 'not answering').length;
      if (answering > 0 && health.healthy.length < quorumOf(etcd.hosts.length)) {
        throw new HapgError(
          'CLUSTER_UNHEALTHY',
          `etcd cluster ${name} has lost quorum (${health.healthy.length} of ${etcd.hosts.length} members healthy; ${health.unhealthy.map((u) => `${u.host}: ${u.detail}`).join('; ')})`,
          { hint: 'bring the failed etcd members back before deploying' },
        );
      }
      return notesOnly();
    },
  };
}
