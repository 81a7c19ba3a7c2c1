import { HapgError } from '../../errors.js';
import type { DesiredState } from '../../model/model.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { pgData } from '../patroni/facts.js';
import { assertRetirable, etcdView, membershipOf } from './membership.js';

/**
 * Before anything changes: an etcd cluster that runs has quorum, and the membership the
 * inventory asks of it can be reached safely (refused here, with one line, otherwise).
 * Nothing answering is a cluster not deployed yet, or one whose members all stopped.
 */
export function etcdQuorumGate(model: DesiredState, name: string): Stage {
  return {
    id: `gate:etcd:${name}`,
    title: `Checking etcd cluster ${name}`,
    async plan({ session, options }) {
      const view = await etcdView(session, model, name);
      if (view.live) {
        assertRetirable(session, view, membershipOf(view, { allowEven: options.allowEven ?? false })!);
        return notesOnly();
      }
      const answering = [...view.own].filter(([, h]) => h !== undefined);
      if (answering.length > 0) {
        const healthy = answering.filter(([, h]) => h!.healthy).length;
        const inventoryHosts = view.client.hosts.length;
        throw new HapgError(
          'CLUSTER_UNHEALTHY',
          `etcd cluster ${name} has lost quorum (${healthy} of ${inventoryHosts} members healthy; ${[...view.own].filter(([, h]) => !h?.healthy).map(([host, h]) => `${host}: ${h ? h.detail : 'not answering'}`).join('; ')})`,
          { hint: 'bring the failed etcd members back before deploying' },
        );
      }
      const withData = [...view.hosts].filter(([, f]) => f.hasData).map(([h]) => h);
      if (withData.length > 0 && withData.length < view.client.hosts.length) {
        const bare = view.client.hosts.filter((h) => !withData.includes(h));
        throw new HapgError(
          'UNSAFE_OPERATION',
          `etcd cluster ${name} is not running: ${withData.join(', ')} hold its data, ${bare.join(', ')} do${bare.length === 1 ? 'es' : ''} not; hapg adds members only to a running cluster`,
          { hint: `start etcd on ${withData.join(', ')} first (or list only them under etcd.${name}.hosts and deploy), then add the others` },
        );
      }
      if (withData.length === 0) await assertNoDcsMove(session, model, name);
      return notesOnly();
    },
  };
}

/**
 * A new etcd cluster is created empty. A Patroni cluster that already holds data and would use
 * it is being moved to another DCS: its running members keep the old one until they restart,
 * then find no leader and no history here, and may elect a second leader. hapg refuses that.
 */
async function assertNoDcsMove(session: Parameters<Stage['plan']>[0]['session'], model: DesiredState, name: string): Promise<void> {
  for (const [cluster, spec] of Object.entries(model.inventory.clusters)) {
    if (spec.etcd !== name) continue;
    for (const host of spec.hosts.filter((h) => session.remotes.has(h))) {
      if (!(await session.facts.get(host, pgData(spec.postgres.data_dir))).exists) continue;
      throw new HapgError(
        'UNSAFE_OPERATION',
        `cluster ${cluster} already holds data (${host}: ${spec.postgres.data_dir}), but none of etcd cluster ${name}'s hosts (${model.inventory.etcd[name]!.hosts.join(', ')}) runs or has data: that would move the cluster to a new, empty DCS, which hapg does not automate`,
        {
          host,
          hint: `to move etcd to other hosts, grow the running etcd cluster onto them and shrink it off the old ones (two deploys); see "Day 2" in the README for moving a cluster to another etcd cluster`,
        },
      );
    }
  }
}
