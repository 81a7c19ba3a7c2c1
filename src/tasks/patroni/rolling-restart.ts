import { HapgError } from '../../errors.js';
import { clusterSecretKey, type InventorySecrets } from '../../inventory/secrets.js';
import { PATRONI_ROLES } from '../../render/roles.js';
import type { EventSink } from '../../run/events.js';
import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';
import { switchover } from '../switchover/switchover.js';
import { clusterHealth, replicaHealth, runningLeader, switchoverCandidate, type MemberStates } from './member-health.js';
import { parameterSettings } from './pg-settings.js';
import { leaderRestartsFirst, restartSequence, SHARED_MEMORY_PARAMETERS, type RestartAction } from './restart-plan.js';
import { desiredDynamicConfig } from './dynamic-config.js';
import { leaderRoleOf, memberStates } from './wait.js';

/** How deploy restarts members for parameters that need it. */
export interface RollingOptions {
  /** false (--no-switchover): the leader restarts in place, last, accepting the write outage. */
  switchover: boolean;
  /** Replicas restarted at a time (--serial N). */
  batch: number;
  /** How long a restarted member may take to run and stream again before deploy stops. */
  memberTimeoutMs: number;
  /** Restart even when the cluster is not healthy first (--force). */
  force: boolean;
}

export const DEFAULT_ROLLING: RollingOptions = { switchover: true, batch: 1, memberTimeoutMs: 120_000, force: false };

export const RESTART_TITLE = 'restart PostgreSQL (pending restart)';

/** What the sequence runner asks of the cluster; the session implements it, unit tests fake it. */
export interface RestartOps {
  /** Restarts `host` if it still waits for a restart, and waits until it is healthy again. false: nothing was pending. */
  restart(host: string, role: 'replica' | 'leader' | 'old-leader'): Promise<boolean>;
  /** Hands the leadership to a healthy restarted replica; returns it. */
  switchover(from: string, preferred: string | undefined): Promise<string>;
}

export interface SequenceResult {
  restarted: string[];
  switchedTo: string | undefined;
}

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Runs a restart sequence step by step; a batch runs in parallel. When a step fails, the
 * steps after it are not started and the error names the member, what was done and what
 * was left untouched, so that a re-run (which sees who still waits) continues from there.
 */
export async function runRestartSequence(name: string, actions: readonly RestartAction[], ops: RestartOps, sink: EventSink): Promise<SequenceResult> {
  const result: SequenceResult = { restarted: [], switchedTo: undefined };
  const done: string[] = [];
  for (const [index, action] of actions.entries()) {
    const untouched = () => untouchedBy(actions.slice(index + 1));
    if (action.kind === 'switchover') {
      try {
        result.switchedTo = await ops.switchover(action.from, action.to);
        done.push(`switched over ${action.from} → ${result.switchedTo}`);
      } catch (err) {
        throw stopped(name, `the switchover from ${action.from}`, reasonOf(err), done, [...new Set([action.from, ...untouched()])], action.from, err);
      }
      continue;
    }
    const hosts = action.kind === 'restart' ? action.hosts : [action.host];
    const role = action.kind === 'restart' ? action.role : 'old-leader';
    const outcomes = await Promise.allSettled(hosts.map((h) => ops.restart(h, role)));
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') {
        if (o.value) result.restarted.push(hosts[i]!);
        done.push(`${hosts[i]} ${o.value ? 'restarted' : 'needed no restart'}`);
      }
    });
    const failures = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ host: hosts[i]!, err: o.reason as unknown }] : []));
    if (failures.length > 0) {
      const first = failures[0]!;
      const why = failures.map((f) => (failures.length > 1 ? `${f.host}: ${reasonOf(f.err)}` : reasonOf(f.err))).join('; ');
      throw stopped(name, failures.map((f) => f.host).join(', '), why, done, untouched(), first.host, first.err);
    }
  }
  sink({ kind: 'info', message: `rolling restart of ${name} done: ${done.join(', ') || 'nothing to restart'}` });
  return result;
}

function untouchedBy(actions: readonly RestartAction[]): string[] {
  const hosts = actions.flatMap((a) => (a.kind === 'restart' ? a.hosts : a.kind === 'restart-old-leader' ? [a.host] : [a.from]));
  return [...new Set(hosts)];
}

function stopped(name: string, where: string, why: string, done: string[], untouched: string[], host: string, cause: unknown): HapgError {
  return new HapgError(
    'CLUSTER_UNHEALTHY',
    `rolling restart of cluster ${name} stopped at ${where}: ${why.replace(/\.$/, '')}; done: ${done.join(', ') || 'nothing'}; left untouched: ${untouched.join(', ') || 'none'}`,
    { host, cause, hint: 're-running `hapg deploy` continues from there once the member is healthy (see `hapg status`)' },
  );
}

/** Fresh states of every member. */
const statesOf = (session: Session, name: string): Promise<MemberStates> => memberStates(session.facts, session.loaded.inventory.clusters[name]!);

/**
 * Restarts every member that waits for a restart (read from Patroni's pending_restart), in
 * an order that keeps writes going: see restartSequence. A re-run after a stop continues with
 * the members still pending. Refuses to start on an unhealthy cluster unless forced. Returns
 * the changes made (restarts and the switchover).
 */
export async function restartPendingMembers(session: Session, secrets: InventorySecrets, name: string, opts: RollingOptions): Promise<number> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const lagLimit = cluster.patroni.maximum_lag_on_failover;
  const states = await statesOf(session, name);
  const pending = new Set([...states].filter(([, s]) => s?.pendingRestart).map(([h]) => h));
  if (pending.size === 0) {
    session.sink({ kind: 'noop', host: runningLeader(states, leaderRoleOf(cluster)) ?? cluster.hosts[0]!, title: `patroni ${name} restarts`, reason: 'no member waits for a restart' });
    return 0;
  }
  const health = clusterHealth(states, cluster, { lagLimit, allowPending: true });
  if (!health.healthy && !opts.force) {
    throw new HapgError('CLUSTER_UNHEALTHY', `cluster ${name} is not healthy enough for a rolling restart (${health.status}): nothing restarted; ${[...pending].join(', ')} still wait for a restart`, {
      hint: 'see `hapg status`; fix the cluster and re-run, or re-run with --force',
    });
  }
  const leader = health.leader ?? runningLeader(states) ?? [...pending][0]!;
  const settings = await session.facts.fresh(leader, parameterSettings(cluster.postgres.port, [...SHARED_MEMORY_PARAMETERS]));
  const leaderFirst = leaderRestartsFirst(desiredDynamicConfig(inventory, name).postgresql.parameters, settings);
  const actions = restartSequence({
    members: cluster.hosts,
    leader,
    pending,
    leaderFirst,
    // A standby cluster's leader cannot be switched over like a primary: it restarts in place.
    switchover: opts.switchover && !cluster.standby,
    batch: opts.batch,
    candidate: switchoverCandidate(states, inventory, cluster, leader),
  });
  session.sink({ kind: 'phase', title: `Rolling restart of ${name}: ${describeOrder(actions)}` });
  const result = await runRestartSequence(name, actions, sessionOps(session, secrets, name, opts), session.sink);
  return result.restarted.length + (result.switchedTo ? 1 : 0);
}

function describeOrder(actions: readonly RestartAction[]): string {
  return actions
    .map((a) => (a.kind === 'restart' ? `${a.hosts.join(' + ')}${a.role === 'leader' ? ' (leader, in place)' : ''}` : a.kind === 'switchover' ? 'switchover' : `${a.host} (old leader)`))
    .join(', then ');
}

/** RestartOps over the session: Patroni's REST API through the SSH connections. */
function sessionOps(session: Session, secrets: InventorySecrets, name: string, opts: RollingOptions): RestartOps {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const lagLimit = cluster.patroni.maximum_lag_on_failover;
  const timeoutSeconds = Math.max(1, Math.round(opts.memberTimeoutMs / 1000));
  const leaderRole = leaderRoleOf(cluster);

  async function postRestart(host: string): Promise<boolean> {
    const response = await session.remotes.get(host)!.http({
      method: 'POST',
      port: cluster.patroni.rest_api_port,
      path: '/restart',
      // Patroni's own condition: restart only if it still flags the member pending.
      body: JSON.stringify({ restart_pending: true, timeout: timeoutSeconds }),
      headers: { 'content-type': 'application/json' },
      basicAuth: { user: PATRONI_ROLES.restApi, password: secrets.get(clusterSecretKey(name, 'rest_api'))! },
      timeoutMs: opts.memberTimeoutMs + 15_000,
    });
    session.facts.invalidate(host);
    if (response.status === 200) return true;
    if (/conditions are not satisfied/.test(response.body)) return false;
    if (/already in progress/.test(response.body)) return true;
    throw new HapgError('COMMAND_FAILED', `Patroni on ${host} answered ${response.status} to the restart: ${response.body.trim().slice(0, 200)}`, { host });
  }

  async function waitHealthy(host: string, what: string, check: (states: MemberStates) => { healthy: boolean; status: string }): Promise<void> {
    await waitUntil(
      `${host} to ${what}`,
      async () => {
        const v = check(await statesOf(session, name));
        return { done: v.healthy, status: v.status };
      },
      { timeoutMs: opts.memberTimeoutMs, host, intervalMs: 500 },
    );
  }

  return {
    async restart(host, role) {
      const before = (await statesOf(session, name)).get(host);
      if (before && !before.pendingRestart) {
        session.sink({ kind: 'noop', host, title: RESTART_TITLE, reason: role === 'old-leader' ? 'its demotion already restarted it with the new settings' : 'no restart pending' });
        return false;
      }
      session.sink({ kind: 'step', host, title: RESTART_TITLE });
      if (!(await postRestart(host))) {
        session.sink({ kind: 'noop', host, title: RESTART_TITLE, reason: 'Patroni no longer flags it pending' });
        return false;
      }
      if (role === 'leader') {
        await waitHealthy(host, 'run as leader again with nothing pending', (states) => {
          const s = states.get(host);
          const ok = s?.role === leaderRole && s.state === 'running' && !s.pendingRestart;
          return { healthy: ok, status: s ? `role ${s.role}, state ${s.state}${s.pendingRestart ? ', restart pending' : ''}` : 'Patroni not answering' };
        });
        // Replicas must replay past the restart (its parameter-change record) before they restart themselves.
        const restartedAt = (await statesOf(session, name)).get(host)?.walPosition;
        for (const replica of cluster.hosts.filter((h) => h !== host)) {
          await waitHealthy(replica, `stream again from ${host}`, (states) =>
            replicaHealth(states, host, replica, { lagLimit, allowPending: true, ...(restartedAt !== undefined ? { replayedAtLeast: restartedAt } : {}) }),
          );
        }
      } else {
        await waitHealthy(host, `run and stream again with lag below ${lagLimit} bytes`, (states) => {
          const leader = runningLeader(states, leaderRole);
          return leader ? replicaHealth(states, leader, host, { lagLimit }) : { healthy: false, status: 'no running leader' };
        });
      }
      session.sink({ kind: 'change', host, title: RESTART_TITLE });
      return true;
    },
    async switchover(from, preferred) {
      const states = await statesOf(session, name);
      const candidate = switchoverCandidate(states, inventory, cluster, from);
      if (!candidate) {
        throw new HapgError('CLUSTER_UNHEALTHY', `no healthy replica to switch over to${cluster.patroni.synchronous_mode ? ' (synchronous_mode: it must be the synchronous standby)' : ''}; --no-switchover restarts the leader in place`);
      }
      if (preferred && preferred !== candidate) session.sink({ kind: 'info', message: `switching over to ${candidate} rather than ${preferred}: the healthiest replica now` });
      const moved = await switchover(session, secrets, name, candidate);
      session.sink({ kind: 'change', host: moved.to, title: `switchover ${moved.from} → ${moved.to}`, detail: `promoted in ${moved.promotedMs} ms` });
      return moved.to;
    },
  };
}
