// What `plan` predicts for a live cluster's parameters: how each changed one takes effect
// (asked from the running leader's pg_settings) and the restart sequence deploy would run.
import type { Cluster, Inventory } from '../../inventory/schema.js';
import type { Session } from '../../run/session.js';
import { switchoverCandidate, type MemberStates } from '../patroni/member-health.js';
import { parameterSettings } from '../patroni/pg-settings.js';
import {
  changedParameterNames,
  classifyParameters,
  leaderRestartsFirst,
  restartSequence,
  SHARED_MEMORY_PARAMETERS,
  type ParameterChange,
  type ParameterSetting,
  type RestartAction,
} from '../patroni/restart-plan.js';
import type { RollingOptions } from '../patroni/rolling-restart.js';
import { desiredDynamicConfig, dynamicConfigChanges } from '../patroni/dynamic-config.js';
import { memberStates } from '../patroni/wait.js';

export interface ClusterRestartPlan {
  parameters: ParameterChange[];
  /** Members that will wait for a restart: flagged now, or every running member when a restart parameter changes. */
  pending: string[];
  leaderFirst: boolean;
  actions: RestartAction[];
}

/** The prediction from facts alone (pure): see restartSequence for the order. */
export function predictRestarts(input: {
  inventory: Inventory;
  name: string;
  leader: string;
  live: Record<string, unknown>;
  settings: ReadonlyMap<string, ParameterSetting>;
  states: MemberStates;
  rolling: Pick<RollingOptions, 'switchover' | 'batch'>;
}): ClusterRestartPlan {
  const { inventory, name, leader, states } = input;
  const cluster: Cluster = inventory.clusters[name]!;
  const desired = desiredDynamicConfig(inventory, name);
  const parameters = classifyParameters(dynamicConfigChanges(input.live, desired), input.settings);
  const restartChange = parameters.some((p) => p.applies === 'restart');
  const pending = cluster.hosts.filter((h) => {
    const s = states.get(h);
    return s?.pendingRestart || (restartChange && s?.state === 'running');
  });
  const leaderFirst = leaderRestartsFirst(desired.postgresql.parameters, input.settings);
  const actions = restartSequence({
    members: cluster.hosts,
    leader,
    pending: new Set(pending),
    leaderFirst,
    switchover: input.rolling.switchover && !cluster.standby,
    batch: input.rolling.batch,
    candidate: switchoverCandidate(states, inventory, cluster, leader),
  });
  return { parameters, pending, leaderFirst, actions };
}

/** Gathers the facts (live dynamic configuration given) and predicts. */
export async function planRestarts(
  session: Session,
  name: string,
  leader: string,
  live: Record<string, unknown>,
  rolling: Pick<RollingOptions, 'switchover' | 'batch'>,
): Promise<ClusterRestartPlan> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const names = changedParameterNames(dynamicConfigChanges(live, desiredDynamicConfig(inventory, name)));
  const [settings, states] = await Promise.all([
    session.facts.get(leader, parameterSettings(cluster.postgres.port, [...names, ...SHARED_MEMORY_PARAMETERS])),
    memberStates(session.facts, cluster),
  ]);
  return predictRestarts({ inventory, name, leader, live, settings, states, rolling });
}
