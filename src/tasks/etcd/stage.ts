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
      const unhealthy = view.live.filter((m) => !m.healthy && membership.staying.has(m.name));
      // An unhealthy member with a restart of its own (e.g. its peer URL updated to https by a run cut short before
      // its restart: its peers cannot reach it until it listens there) restarts first, the others keeping quorum;
      // restarting a healthy member while another one without a restart of its own is unhealthy is refused.
      const restarts = items.filter(isService('restarted')).sort((a, b) => Number(unhealthy.some((m) => m.name === b.host)) - Number(unhealthy.some((m) => m.name === a.host)));
      const fixedByRestart = (m: (typeof unhealthy)[number]) => restarts.some((r) => r.host === m.name);
      if (restarts.length > 0 && unhealthy.some((m) => !fixedByRestart(m))) {
        throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${name} is not healthy (${unhealthy.map((m) => `${m.name}: ${m.detail}`).join('; ')}): not restarting members`);
      }
      // A conversion to TLS: each member's peer URL is updated to https right before it restarts listening there
      // (its peers reach it again once it is back; quorum is checked before the next).
      const peerUrlUpdate = (host: string): PlanItem[] => {
        const url = membership.rescheme.get(host);
        const id = membership.staying.get(host)?.id;
        return url && id && view.asker ? [etcd.memberUpdate(view.asker, id, url, `etcd cluster ${name}: ${host}'s peer URL becomes ${url}`)] : [];
      };
      const stamp = asideStamp();
      const join = joinBlocks(ctx, model, view, membership, stamp);
      const blocks: Block[] = [
        { items: items.filter((i) => !restarts.includes(i)) },
        ...restarts.map((restart): Block => ({ items: [...peerUrlUpdate(restart.host), restart], waits: [waitForEtcdQuorum(etcd, 120_000, [...membership.staying.keys()])] })),
        // A member whose peer URL changes scheme without a restart (cut short between its restart and the update): the update alone.
        ...[...membership.rescheme.keys()].filter((h) => !restarts.some((r) => r.host === h)).map((h): Block => ({ items: peerUrlUpdate(h), waits: [waitForEtcdQuorum(etcd, 120_000, [...membership.staying.keys()])] })),
        ...join.blocks,
      ];
      blocks.at(-1)!.waits = [...(blocks.at(-1)!.waits ?? []), waitForEtcdQuorum(etcd)];
      return { blocks, notes: join.notes };
    },
  };
}
