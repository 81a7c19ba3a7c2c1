import type { DesiredState } from '../../model/model.js';
import { service } from '../../run/steps.js';
import type { Block, Stage } from '../../stages/stage.js';
import { asideStamp, moveAside } from '../move-aside.js';
import { assertRetirable, etcdView, leftoverHosts, membershipOf, retireBlocks } from './membership.js';

/**
 * The retire phase of one etcd cluster: members that left the inventory and still run are
 * removed one at a time, after every client (Patroni's endpoint lists) was pointed at the
 * others; hosts whose member is already gone get their etcd stopped for good and their data
 * moved aside.
 */
export function etcdRetireStage(model: DesiredState, name: string): Stage {
  return {
    id: `etcd-retire:${name}`,
    title: `etcd cluster ${name}: members leaving`,
    async plan(ctx) {
      const { session } = ctx;
      const view = await etcdView(session, model, name);
      if (!view.live || !view.asker) return { blocks: [], notes: [] };
      const membership = membershipOf(view, { allowEven: ctx.options.allowEven ?? false })!;
      assertRetirable(session, view, membership);
      const stamp = asideStamp();
      const retire = retireBlocks(ctx, model, view, membership, stamp);
      const dataDir = model.inventory.etcd[name]!.data_dir;
      const leftovers = await leftoverHosts(session, model, view);
      const blocks: Block[] = [...retire.blocks, ...(leftovers.length ? [{ items: leftovers.flatMap((h) => [service(h, 'etcd', 'stopped', false), moveAside(h, dataDir, stamp)]) }] : [])];
      const notes = [...retire.notes, ...leftovers.map((h) => `${h} is no longer a member of etcd cluster ${name}: stop its etcd for good and move its data aside`)];
      return { blocks, notes };
    },
  };
}
