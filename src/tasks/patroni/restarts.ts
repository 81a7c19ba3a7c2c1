import { HapgError } from '../../errors.js';
import type { FactCache } from '../../facts/fact.js';
import { SHARED_MEMORY_PARAMETERS } from '../../inventory/checks/standby.js';
import { patroniApi, type PatroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import type { StepOutcome } from '../../run/executor.js';
import { noop, stepsOf, wait, type WaitProbe, type WaitStep } from '../../run/steps.js';
import type { Block, Stage, StageContext } from '../../stages/stage.js';
import { waitForWritesRoutedTo } from '../haproxy/routing.js';
import { waitForVip } from '../keepalived/vip.js';
import { configStageId, type ConfigVariant } from './config-stage.js';
import { dynamicConfigChanges } from './dynamic-config.js';
import { cachedMemberStates, memberStates } from './facts.js';
import { clusterHealth, replicaHealth, runningLeader, switchoverCandidate, type MemberStates, type Verdict } from './member-health.js';
import { parameterSettings } from './pg-settings.js';
import { classifyParameters, describeRestartAction, leaderRestartsFirst, restartSequence, type RestartAction } from './restart-plan.js';
import { waitForStreamingReplicas } from './waits.js';

export const RESTART_TITLE = 'restart PostgreSQL (pending restart)';

/**
 * Every member that waits for a restart restarts, in an order that keeps writes going (see
 * restartSequence): replicas one batch at a time, each streaming again within the lag limit
 * before the next, then a switchover to a healthy restarted replica; a shared-memory decrease
 * restarts the leader in place first. `plan` predicts the members from the parameters that
 * change; deploy reads who waits (Patroni's pending_restart), so a re-run after a stop
 * continues with the members still pending.
 */
export function restartsStage(model: DesiredState, name: string, variant: ConfigVariant = 'normal'): Stage {
  const cm = model.cluster(name);
  const lagLimit = cm.spec.patroni.maximum_lag_on_failover;
  return {
    id: variant === 'raise' ? `restarts-raise:${name}` : `restarts:${name}`,
    title: `Restarts of ${name}`,
    async plan(ctx) {
      const { session, mode } = ctx;
      const configPlan = ctx.earlier.get(configStageId(name, variant));
      if (variant === 'raise' && !configPlan?.blocks.some((b) => stepsOf(b.items).length > 0)) return { blocks: [], notes: [] };
      if (variant === 'normal' && mode === 'plan' && ctx.earlier.get(`restarts-raise:${name}`)?.blocks.length) return { blocks: [], notes: ['restarted before its source'] };
      const states = mode === 'deploy' ? await memberStates(session.facts, model, name) : await cachedMemberStates(session.facts, model, name);
      const leader = runningLeader(states, cm.leaderRole);
      if (!leader) return { blocks: [], notes: [] };
      const pending = mode === 'deploy' ? flaggedPending(states) : await predictedPending(ctx, model, name, leader, states);
      if (pending.size === 0) return { blocks: [], notes: [] };
      const health = clusterHealth(states, cm.spec, { lagLimit, allowPending: true });
      const notes: string[] = [];
      if (!health.healthy) {
        const refusal = `cluster ${name} is not healthy enough for a rolling restart (${health.status}): nothing restarted; ${[...pending].join(', ')} still wait for a restart`;
        if (mode === 'deploy' && !ctx.options.force) throw new HapgError('CLUSTER_UNHEALTHY', refusal, { hint: 'see `hapg status`; fix the cluster and re-run, or re-run with --force' });
        if (mode === 'plan') notes.push(`deploy would refuse: ${refusal}`);
      }
      const settings = await session.facts.fresh(leader, parameterSettings(cm.spec.postgres.port, [...SHARED_MEMORY_PARAMETERS]));
      const actions = restartSequence({
        members: cm.spec.hosts,
        leader,
        pending,
        leaderFirst: leaderRestartsFirst(cm.dynamicConfig.postgresql.parameters, settings),
        // A standby cluster's leader cannot be switched over like a primary: it restarts in place.
        switchover: ctx.options.rolling.switchover && !cm.spec.standby,
        batch: ctx.options.rolling.batch,
        candidate: switchoverCandidate(states, model.inventory, cm.spec, leader),
      });
      notes.push(...actions.map((a) => describeRestartAction(a, lagLimit)));
      return { blocks: actions.map((a) => restartBlock(ctx, model, name, a)), notes };
    },
    explainFailure(err, done, remaining) {
      const outcomes = done.flatMap(describeDone);
      const where = remaining[0];
      const atSwitchover = where?.says?.startsWith('switch over') === true;
      const failedAt = atSwitchover ? `the switchover from ${where!.items[0]!.host}` : [...new Set(where?.items.map((i) => i.host) ?? [])].join(', ');
      const untouched = [...new Set(remaining.slice(atSwitchover ? 0 : 1).flatMap((b) => b.items.map((i) => i.host)))];
      const why = (err instanceof Error ? err.message : String(err)).replace(/\.$/, '');
      return new HapgError('CLUSTER_UNHEALTHY', `rolling restart of cluster ${name} stopped at ${failedAt || 'the start'}: ${why}; done: ${outcomes.join(', ') || 'nothing'}; left untouched: ${untouched.join(', ') || 'none'}`, {
        ...(where?.items[0] ? { host: where.items[0].host } : {}),
        cause: err,
        hint: 're-running `hapg deploy` continues from there once the member is healthy (see `hapg status`)',
      });
    },
  };
}

/** Members Patroni flags pending_restart now. */
function flaggedPending(states: MemberStates): Set<string> {
  return new Set([...states].filter(([, s]) => s?.pendingRestart).map(([h]) => h));
}

/** Members that will wait for a restart once the dynamic configuration is applied: flagged now, or every running member when a restart parameter changes. */
async function predictedPending(ctx: StageContext, model: DesiredState, name: string, leader: string, states: MemberStates): Promise<Set<string>> {
  const cm = model.cluster(name);
  const live = await ctx.session.facts.get(leader, patroniApi(model, name).config(leader));
  const changes = live ? dynamicConfigChanges(live, cm.dynamicConfig) : [];
  const names = changes.filter((c) => c.key.startsWith('postgresql.parameters.')).map((c) => c.key.slice('postgresql.parameters.'.length));
  const settings = names.length ? await ctx.session.facts.get(leader, parameterSettings(cm.spec.postgres.port, names)) : new Map();
  const restartChange = classifyParameters(changes, settings).some((p) => p.applies === 'restart');
  return new Set(cm.spec.hosts.filter((h) => states.get(h)?.pendingRestart || (restartChange && states.get(h)?.state === 'running')));
}

function describeDone(outcome: StepOutcome): string[] {
  const step = outcome.step;
  if (step.kind !== 'http') return [];
  if (step.path === '/switchover') return [`switched over: ${step.title.replace(/^switchover /, '')}`];
  if (step.path === '/restart') return [`${step.host} ${outcome.changed ? 'restarted' : 'needed no restart'}`];
  return [];
}

/** The steps and waits of one action of the sequence. */
function restartBlock(ctx: StageContext, model: DesiredState, name: string, action: RestartAction): Block {
  const cm = model.cluster(name);
  const api = patroniApi(model, name, ctx.secrets);
  const lagLimit = cm.spec.patroni.maximum_lag_on_failover;
  const timeoutMs = ctx.options.rolling.memberTimeoutMs;
  const timeoutSeconds = Math.max(1, Math.round(timeoutMs / 1000));
  const statesNow = (facts: FactCache) => memberStates(facts, model, name);
  switch (action.kind) {
    case 'restart':
      if (action.role === 'replica') {
        return {
          items: action.hosts.map((h) => api.restartPending(h, RESTART_TITLE, timeoutSeconds)),
          waits: action.hosts.map((h) => replicaBackWait(model, name, h, lagLimit, timeoutMs)),
          says: says(action, lagLimit),
        };
      }
      return { ...leaderInPlaceBlock(model, name, api, action.hosts[0]!, timeoutSeconds, timeoutMs), says: says(action, lagLimit) };
    case 'switchover': {
      const candidateOf = async (facts: FactCache) => {
        const states = await statesNow(facts);
        return switchoverCandidate(states, model.inventory, cm.spec, action.from);
      };
      let target: string | undefined = action.to;
      const blockFor = (to: string | undefined): Pick<Block, 'items' | 'waits' | 'says'> => ({
        says: `${says({ ...action, to }, lagLimit)}; its demotion restarts ${action.from} with the new settings`,
        items: to ? [api.switchover(action.from, to)] : [noop(action.from, 'switch over to a healthy restarted replica')],
        waits: to ? [waitForStreamingReplicas(model, name, { leader: to, timeoutMs: 120_000 }), ...waitForWritesRoutedTo(model, name, () => target), ...(cm.spec.vip ? [waitForVip(model, name, cm.spec.haproxy ? {} : { on: () => target })] : [])] : [],
      });
      return {
        ...blockFor(action.to),
        replan: async (run) => {
          target = await candidateOf(run.session.facts);
          // Patroni names a new synchronous standby at its next loop after a restart: wait for it, bounded.
          const deadline = Date.now() + (cm.spec.patroni.loop_wait * 2 + 5) * 1000;
          if (!target && cm.spec.patroni.synchronous_mode) run.session.sink({ kind: 'info', message: `waiting up to ${Math.round((deadline - Date.now()) / 1000)} s for a synchronous standby that may become leader` });
          while (!target && cm.spec.patroni.synchronous_mode && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 1000));
            target = await candidateOf(run.session.facts);
          }
          if (!target) {
            throw new HapgError('CLUSTER_UNHEALTHY', `no healthy replica to switch over to${cm.spec.patroni.synchronous_mode ? ' (synchronous_mode: it must be the synchronous standby)' : ''}; --no-switchover restarts the leader in place`);
          }
          if (action.to && action.to !== target) run.session.sink({ kind: 'info', message: `switching over to ${target} rather than ${action.to}: the healthiest replica now` });
          return blockFor(target);
        },
      };
    }
    case 'restart-old-leader':
      return {
        // Its demotion restarted it with the new settings; restarted again only if still pending.
        items: [noop(action.host, 'its demotion restarts it with the new settings')],
        replan: async (run) => {
          const s = (await statesNow(run.session.facts)).get(action.host);
          if (!s?.pendingRestart) return { items: [noop(action.host, 'its demotion already restarted it with the new settings')] };
          return { items: [api.restartPending(action.host, RESTART_TITLE, timeoutSeconds)], waits: [replicaBackWait(model, name, action.host, lagLimit, timeoutMs)] };
        },
      };
  }
}

const probeOf = (v: Verdict): WaitProbe => ({ done: v.healthy, status: v.status });

/** The sequence line of an action: describeRestartAction without its host prefix. */
const says = (action: RestartAction, lagLimit: number) => describeRestartAction(action, lagLimit).replace(/^\[[^\]]*\] /, '');

/** A restarted replica runs, waits for nothing, streams and has caught up within the lag limit. */
function replicaBackWait(model: DesiredState, name: string, host: string, lagLimit: number, timeoutMs: number): WaitStep {
  const role = model.cluster(name).leaderRole;
  return wait(
    host,
    `${host} to run and stream again with lag below ${lagLimit} bytes`,
    async (facts) => {
      const states = await memberStates(facts, model, name);
      const leader = runningLeader(states, role);
      return probeOf(leader ? replicaHealth(states, leader, host, { lagLimit }) : { healthy: false, status: 'no running leader' });
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/**
 * The leader restarted in place (a write outage): it runs as leader again with nothing
 * pending, then every replica replays past the restart (its parameter-change record) before
 * anything else restarts.
 */
function leaderInPlaceBlock(model: DesiredState, name: string, api: PatroniApi, leader: string, timeoutSeconds: number, timeoutMs: number): Block {
  const cm = model.cluster(name);
  const lagLimit = cm.spec.patroni.maximum_lag_on_failover;
  let restartedAt: number | undefined;
  const back = wait(
    leader,
    `${leader} to run as leader again with nothing pending`,
    async (facts) => {
      const s = (await memberStates(facts, model, name)).get(leader);
      const ok = s?.role === cm.leaderRole && s.state === 'running' && !s.pendingRestart;
      if (ok) restartedAt = s.walPosition;
      return { done: ok, status: s ? `role ${s.role}, state ${s.state}${s.pendingRestart ? ', restart pending' : ''}` : 'Patroni not answering' };
    },
    { timeoutMs, intervalMs: 500 },
  );
  const replicas = cm.spec.hosts.filter((h) => h !== leader);
  return {
    items: [api.restartPending(leader, RESTART_TITLE, timeoutSeconds)],
    waits: [
      back,
      ...replicas.map((replica) =>
        wait(
          replica,
          `${replica} to stream again from ${leader}`,
          async (facts) => probeOf(replicaHealth(await memberStates(facts, model, name), leader, replica, { lagLimit, allowPending: true, ...(restartedAt !== undefined ? { replayedAtLeast: restartedAt } : {}) })),
          { timeoutMs, intervalMs: 500 },
        ),
      ),
    ],
  };
}
