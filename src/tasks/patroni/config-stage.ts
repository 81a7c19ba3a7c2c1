import { SHARED_MEMORY_PARAMETERS } from '../../inventory/checks/standby.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { stepsOf, type WaitStep } from '../../run/steps.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { dynamicConfigChanges, planDynamicConfig } from './dynamic-config.js';
import { cachedMemberStates } from './facts.js';
import { runningLeader } from './member-health.js';
import { parameterSettings } from './pg-settings.js';
import { changedParameterNames, classifyParameters } from './restart-plan.js';
import { configLoadTimes, waitForConfigReload } from './waits.js';

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
      const items = planDynamicConfig(leader, api, cm.dynamicConfig, live);
      const names = live ? changedParameterNames(dynamicConfigChanges(live, cm.dynamicConfig)) : [];
      const parameters = names.length ? classifyParameters(dynamicConfigChanges(live!, cm.dynamicConfig), await session.facts.fresh(leader, parameterSettings(cm.spec.postgres.port, names))) : [];
      const waits: WaitStep[] = [];
      if (ctx.mode === 'deploy' && parameters.length > 0 && stepsOf(items).length > 0) {
        waits.push(waitForConfigReload(model, name, leader, await configLoadTimes(session.facts, model, name)));
      }
      return { blocks: [{ items, waits }], notes: [], parameters };
    },
  };
}
