import { HapgError } from '../../errors.js';
import { etcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import type { Block, Stage } from '../../stages/stage.js';
import { isNoop, type PlanItem } from '../../run/steps.js';
import { asideStamp } from '../move-aside.js';
import { waitForEtcdQuorum } from './health.js';
import { assertRetirable, etcdView, joinBlocks, membershipOf } from './membership.js';
import { planEtcdMember } from './plan.js';

/**
 * One etcd cluster to quorum. A new cluster: every member starts together. A running one:
 * stopped members start, members whose settings changed restart one at a time (each back in
 * quorum before the next), members that are down and left the inventory are removed, and new
 * members join one at a time as learners (see membership.ts). Members that still run and left
 * the inventory are removed in the retire phase, once every client points elsewhere.
 */
export function etcdStage(model: DesiredState, name: string): Stage {
  const etcd = etcdClient(model, name);
  return {
    id: `etcd:${name}`,
    title: `etcd cluster ${name}`,
    async plan(ctx) {
      const { session } = ctx;
      const view = await etcdView(session, model, name);
      const isService = (state: string) => (i: PlanItem) => !isNoop(i) && i.kind === 'service' && i.state === state;
      if (!view.live) {
        // Nothing answers: a cluster whose members all stopped starts again; a new one bootstraps (checked by its gate).
        const items = etcd.hosts.flatMap((h) => planEtcdMember(model.inventory, name, h, view.hosts.get(h)!));
        return { blocks: [{ items, waits: [waitForEtcdQuorum(etcd)] }], notes: [] };
      }
      const membership = membershipOf(view, { allowEven: ctx.options.allowEven ?? false })!;
      assertRetirable(session, view, membership);
      const items = [...membership.staying.keys()].flatMap((h) => planEtcdMember(model.inventory, name, h, view.hosts.get(h)!));
      const restarts = items.filter(isService('restarted'));
      const unhealthy = view.live.filter((m) => !m.healthy && membership.staying.has(m.name));
      if (restarts.length > 0 && unhealthy.length > 0) {
        throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${name} is not healthy (${unhealthy.map((m) => `${m.name}: ${m.detail}`).join('; ')}): not restarting members`);
      }
      const stamp = asideStamp();
      const join = joinBlocks(ctx, model, view, membership, stamp);
      const blocks: Block[] = [
        { items: items.filter((i) => !restarts.includes(i)) },
        ...restarts.map((restart): Block => ({ items: [restart], waits: [waitForEtcdQuorum(etcd, 120_000, [...membership.staying.keys()])] })),
        ...join.blocks,
      ];
      blocks.at(-1)!.waits = [...(blocks.at(-1)!.waits ?? []), waitForEtcdQuorum(etcd)];
      return { blocks, notes: join.notes };
    },
  };
}
