import { SHARED_MEMORY_PARAMETERS } from '../../inventory/checks/standby.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { stepsOf, wait, type WaitStep } from '../../run/steps.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { dynamicConfigChanges, leftoverSlots, planDynamicConfig } from './dynamic-config.js';
import { cachedMemberStates } from './facts.js';
import { runningLeader } from './member-health.js';
import { parameterSettings } from './pg-settings.js';
import { changedParameterNames, classifyParameters } from './restart-plan.js';
import { configLoadTimes, waitForConfigReload } from './waits.js';
import { inactivePhysicalSlots, slotState } from '../standby/facts.js';
import { formatBytes } from '../preflight/checks.js';

/**
 * `raise`: on a running standby cluster, a raise of max_connections & co. applied before its
 * source (were the source restarted first, the standby would replay a higher setting than its
 * own and stop recovery); decreases go source first, which is the normal order.
 */
export type ConfigVariant = 'normal' | 'raise';

export const configStageId = (name: string, variant: ConfigVariant) => (variant === 'raise' ? `raise:${name}` : `dynamic-config:${name}`);

/**
 * Cluster-wide settings (Patroni's dynamic configuration in etcd) through one PATCH /config
 * on the leader: Patroni then reloads every member and flags pending_restart where a
 * parameter needs a restart. Deploy waits until every member reloaded before the restarts.
 */
export function dynamicConfigStage(model: DesiredState, name: string, variant: ConfigVariant = 'normal'): Stage {
  const cm = model.cluster(name);
  return {
    id: configStageId(name, variant),
    title: variant === 'raise' ? `Shared-memory parameters of standby cluster ${name}, raised before its source` : `Dynamic configuration of ${name}`,
    async plan(ctx) {
      const { session } = ctx;
      const raised = ctx.earlier.get(configStageId(name, 'raise'));
      if (variant === 'normal' && ctx.mode === 'plan' && raised && raised.blocks.some((b) => stepsOf(b.items).length > 0)) {
        return notesOnly(`applied before its source (${raised.blocks.flatMap((b) => stepsOf(b.items)).map((s) => s.title).join('; ')})`);
      }
      const leader = runningLeader(await cachedMemberStates(session.facts, model, name), cm.leaderRole);
      if (!leader) return notesOnly();
      const api = patroniApi(model, name, ctx.secrets);
      const live = await session.facts.get(leader, api.config(leader));
      if (variant === 'raise') {
        const liveParams = ((live?.['postgresql'] ?? {}) as { parameters?: Record<string, unknown> }).parameters ?? {};
        const wanted = cm.dynamicConfig.postgresql.parameters;
        const due = SHARED_MEMORY_PARAMETERS.filter((p) => wanted[p] !== undefined && liveParams[p] !== undefined && Number(wanted[p]) > Number(liveParams[p]));
        if (due.length === 0) return notesOnly();
      }
      // Leftover permanent slots (a standby cluster removed from the inventory): kept with a
      // warning naming the WAL each retains, dropped only when --prune names them.
      const prune = variant === 'normal' ? (ctx.options.prune ?? []) : [];
      const leftovers = variant === 'normal' && live ? leftoverSlots(live, cm.dynamicConfig) : [];
      const dropped = leftovers.filter((s) => prune.includes(s));
      const kept = leftovers.filter((s) => !prune.includes(s));
      if (kept.length > 0) {
        const retained = await session.facts.fresh(leader, inactivePhysicalSlots(cm.spec.postgres.port)).catch(() => undefined);
        for (const slot of kept) {
          const held = retained?.find((r) => r.name === slot);
          session.sink({
            kind: 'warn',
            host: leader,
            message: `cluster ${name}: permanent slot ${slot} is no longer in the inventory (a standby cluster removed?) and is kept${held ? `, retaining ${formatBytes(held.retainedBytes)} of WAL` : ''}; \`--prune ${slot}\` drops it`,
          });
        }
      }
      const items = planDynamicConfig(leader, api, cm.dynamicConfig, live, prune);
      const slotWaits = ctx.mode === 'deploy' && stepsOf(items).length > 0 ? dropped.map((slot) => waitForSlotDropped(leader, cm.spec.postgres.port, name, slot)) : [];
      const names = live ? changedParameterNames(dynamicConfigChanges(live, cm.dynamicConfig)) : [];
      const parameters = names.length ? classifyParameters(dynamicConfigChanges(live!, cm.dynamicConfig), await session.facts.fresh(leader, parameterSettings(cm.spec.postgres.port, names))) : [];
      const waits: WaitStep[] = [];
      if (ctx.mode === 'deploy' && parameters.length > 0 && stepsOf(items).length > 0) {
        const needsRestart = parameters.some((p) => p.applies === 'restart');
        waits.push(waitForConfigReload(model, name, leader, await configLoadTimes(session.facts, model, name), { needsRestart }));
      }
      waits.push(...slotWaits);
      return { blocks: [{ items, waits }], notes: dropped.map((slot) => `--prune ${slot}: drop permanent slot ${slot} from ${name}'s configuration; Patroni then drops it on the leader ${leader}`), parameters };
    },
  };
}

/** A pruned permanent slot is gone from the leader (Patroni drops it within a loop). */
function waitForSlotDropped(leader: string, port: number, name: string, slot: string): WaitStep {
  return wait(
    leader,
    `slot ${slot} dropped on ${name}'s leader ${leader}`,
    async (facts) => {
      const state = await facts.fresh(leader, slotState(port, slot));
      return { done: state === undefined, status: state ? `still there${state.active ? ' (active)' : ''}` : 'gone' };
    },
    { timeoutMs: 60_000 },
  );
}
