import { HapgError } from '../../errors.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import type { StepOutcome } from '../../run/executor.js';
import type { Stage } from '../../stages/stage.js';
import { waitForWritesRoutedTo } from '../haproxy/routing.js';
import { waitForVip } from '../keepalived/vip.js';
import { memberStates } from '../patroni/facts.js';
import { writeReadStage } from '../postgres/verify.js';
import { waitForStreamingReplicas } from '../patroni/waits.js';

export interface SwitchoverChoice {
  from: string;
  to: string;
}

/**
 * A planned switchover through Patroni's REST API, verified: the new member runs as leader,
 * the old one streams from it, every HAProxy routes writes to it, the VIP follows, and a
 * write through the VIP is read back from a replica. `chosen` is filled when the stage plans.
 */
export function switchoverStages(model: DesiredState, name: string, to: string | undefined, chosen: Partial<SwitchoverChoice> = {}): Stage[] {
  const cluster = model.inventory.clusters[name];
  if (!cluster) throw new HapgError('USAGE', `unknown cluster "${name}" (the inventory has ${Object.keys(model.inventory.clusters).join(', ')})`);
  const switching: Stage = {
    id: `switchover:${name}`,
    title: `Switching cluster ${name} over`,
    async plan({ session, secrets }) {
      const states = await memberStates(session.facts, model, name);
      const leaders = [...states].filter(([, s]) => s?.role === 'leader' && s.state === 'running').map(([h]) => h);
      if (leaders.length !== 1) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} has ${leaders.length} running leaders: not switching over`);
      const from = leaders[0]!;
      const streaming = new Set(states.get(from)!.replication.filter((r) => r.state === 'streaming').map((r) => r.applicationName));
      const eligible = cluster.hosts.filter((h) => h !== from && streaming.has(h) && !model.inventory.hosts[h]!.tags.nofailover);
      if (to !== undefined) {
        if (!cluster.hosts.includes(to)) throw new HapgError('USAGE', `--to ${to}: not a member of cluster ${name} (${cluster.hosts.join(', ')})`);
        if (to === from) throw new HapgError('USAGE', `--to ${to}: already the leader of cluster ${name}`);
        if (!eligible.includes(to)) throw new HapgError('CLUSTER_UNHEALTHY', `--to ${to}: not a streaming replica that may become leader`, { host: to });
      }
      // The replica with the most WAL replayed (least to catch up), first in inventory order on ties.
      const target = to ?? [...eligible].sort((a, b) => (states.get(b)?.replayedPosition ?? 0) - (states.get(a)?.replayedPosition ?? 0))[0];
      if (!target) throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} has no streaming replica to switch over to`);
      chosen.from = from;
      chosen.to = target;
      const promoted = { ...waitForStreamingReplicas(model, name, { leader: target, timeoutMs: 120_000 }), tag: `promoted:${name}` };
      const follow = [...waitForWritesRoutedTo(model, name, target), ...(cluster.vip ? [waitForVip(model, name, cluster.haproxy ? {} : { on: () => target })] : [])];
      return { blocks: [{ items: [{ ...patroniApi(model, name, secrets).switchover(from, target), tag: `switchover:${name}` }], waits: [promoted, ...follow] }], notes: [] };
    },
  };
  return [switching, writeReadStage(model, name)];
}

/** Milliseconds from the switchover request until the new leader ran with every replica streaming. */
export function promotedMs(outcomes: readonly StepOutcome[], name: string): number {
  return outcomes.filter((o) => o.step.tag === `switchover:${name}` || o.step.tag === `promoted:${name}`).reduce((sum, o) => sum + o.ms, 0);
}
