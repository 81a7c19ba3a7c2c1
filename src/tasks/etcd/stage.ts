import { HapgError } from '../../errors.js';
import { fileStates } from '../../facts/files.js';
import { serviceStates } from '../../facts/services.js';
import { etcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import type { Block, Stage } from '../../stages/stage.js';
import { isNoop, type PlanItem } from '../../run/steps.js';
import { ETCD_ENV_PATH } from './context.js';
import { etcdClusterHealth, waitForEtcdQuorum } from './health.js';
import { planEtcdMember } from './plan.js';

/**
 * One etcd cluster to quorum: members that are not running start together (a new member
 * waits for its peers), members whose configuration changed restart one at a time, each
 * back in quorum before the next.
 */
export function etcdStage(model: DesiredState, name: string): Stage {
  const etcd = etcdClient(model, name);
  return {
    id: `etcd:${name}`,
    title: `etcd cluster ${name}`,
    async plan({ session }) {
      const items = (
        await Promise.all(
          etcd.hosts.map(async (host) => {
            const [files, services] = await Promise.all([session.facts.get(host, fileStates([ETCD_ENV_PATH])), session.facts.get(host, serviceStates(['etcd']))]);
            return planEtcdMember(model.inventory, name, host, { envFile: files.get(ETCD_ENV_PATH), service: services.get('etcd') });
          }),
        )
      ).flat();
      const isService = (state: string) => (i: PlanItem) => !isNoop(i) && i.kind === 'service' && i.state === state;
      const restarts = items.filter(isService('restarted'));
      const starts = items.filter(isService('started'));
      if (restarts.length > 0 || starts.length > 0) {
        const before = await etcdClusterHealth(session.facts, etcd);
        // A member that is not in the running cluster's member list would start a cluster of its own.
        const strangers = before.healthy.length > 0 ? starts.map((s) => s.host).filter((h) => !before.members.includes(h)) : [];
        if (strangers.length > 0) {
          throw new HapgError('UNSAFE_OPERATION', `etcd cluster ${name} is running without ${strangers.join(', ')}: adding members to a running etcd cluster is not supported yet`, {
            host: strangers[0]!,
            hint: `add the member with etcdctl member add, or remove it from etcd.${name}.hosts`,
          });
        }
        if (restarts.length > 0 && before.unhealthy.length > 0) {
          throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${name} is not healthy (${before.unhealthy.map((u) => `${u.host}: ${u.detail}`).join('; ')}): not restarting members`);
        }
      }
      const blocks: Block[] = [
        { items: items.filter((i) => !restarts.includes(i)) },
        ...restarts.map((restart): Block => ({ items: [restart], waits: [waitForEtcdQuorum(etcd)] })),
      ];
      blocks.at(-1)!.waits = [waitForEtcdQuorum(etcd)];
      return { blocks, notes: [] };
    },
  };
}
