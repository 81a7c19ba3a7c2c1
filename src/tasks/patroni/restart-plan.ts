// Which changed PostgreSQL parameters need a restart, and in what order the members restart:
// pure functions of the live settings and member states, shared by `plan` and `deploy`.
import type { ConfigChange } from './dynamic-config.js';

// Parameters PostgreSQL sizes shared memory by: a hot standby needs them at least as high as its primary.
import { SHARED_MEMORY_PARAMETERS } from '../../inventory/checks/standby.js';
export { SHARED_MEMORY_PARAMETERS };

/** A parameter as the running server describes it in pg_settings. */
export interface ParameterSetting {
  /** pg_settings.context: "postmaster" needs a restart; the others take effect on reload. */
  context: string;
  /** The running value, in the parameter's base unit. */
  setting: string;
  unit: string | undefined;
}

/** How a changed parameter takes effect: known from the running server, never from a list. */
export type Applies = 'reload' | 'restart' | 'unknown';

export interface ParameterChange {
  name: string;
  from: unknown;
  to: unknown;
  applies: Applies;
  /** pg_settings.context on the leader; undefined when the server does not know the parameter. */
  context: string | undefined;
  /** A shared-memory parameter set lower than the leader runs with: the leader restarts first. */
  decrease: boolean;
}

const PARAMETER_PREFIX = 'postgresql.parameters.';

/** The names of the PostgreSQL parameters among dynamic configuration changes. */
export function changedParameterNames(changes: readonly ConfigChange[]): string[] {
  return changes.filter((c) => c.key.startsWith(PARAMETER_PREFIX)).map((c) => c.key.slice(PARAMETER_PREFIX.length));
}

/** A shared-memory parameter whose wanted value is below what the server runs with. */
export function isSharedMemoryDecrease(name: string, wanted: unknown, setting: ParameterSetting | undefined): boolean {
  if (!(SHARED_MEMORY_PARAMETERS as readonly string[]).includes(name) || !setting) return false;
  const want = Number(String(wanted).trim());
  const running = Number(setting.setting);
  return Number.isFinite(want) && Number.isFinite(running) && want < running;
}

/** Classifies each changed PostgreSQL parameter by the leader's pg_settings. */
export function classifyParameters(changes: readonly ConfigChange[], settings: ReadonlyMap<string, ParameterSetting>): ParameterChange[] {
  return changes
    .filter((c) => c.key.startsWith(PARAMETER_PREFIX))
    .map((c) => {
      const name = c.key.slice(PARAMETER_PREFIX.length);
      const setting = settings.get(name);
      const applies: Applies = !setting ? 'unknown' : setting.context === 'postmaster' ? 'restart' : 'reload';
      return { name, from: c.from, to: c.to, applies, context: setting?.context, decrease: isSharedMemoryDecrease(name, c.to, setting) };
    });
}

/**
 * Whether the leader must restart before its replicas: a shared-memory parameter goes down.
 * Compared with what the leader runs, so a re-run after a half-done restart still knows.
 */
export function leaderRestartsFirst(wanted: Readonly<Record<string, unknown>>, leaderSettings: ReadonlyMap<string, ParameterSetting>): boolean {
  return SHARED_MEMORY_PARAMETERS.some((name) => name in wanted && isSharedMemoryDecrease(name, wanted[name], leaderSettings.get(name)));
}

/** One step of a rolling restart. */
export type RestartAction =
  /** Restart these members together (a batch of replicas, or the leader alone in place). */
  | { kind: 'restart'; hosts: string[]; role: 'replica' | 'leader' }
  /** Hand the leader over to a restarted replica (chosen again when the step runs). */
  | { kind: 'switchover'; from: string; to: string | undefined }
  /** The old leader, now a replica: restarted unless its demotion already applied the change. */
  | { kind: 'restart-old-leader'; host: string };

export interface RestartSequenceInput {
  /** Members in inventory order. */
  members: readonly string[];
  leader: string;
  /** Members that wait for a restart (or will, once the change is applied). */
  pending: ReadonlySet<string>;
  leaderFirst: boolean;
  /** false: restart the leader in place, accepting the write outage (--no-switchover). */
  switchover: boolean;
  /** Replicas restarted at a time (--serial). */
  batch: number;
  /** The replica a switchover would go to, as far as is known now. */
  candidate: string | undefined;
}

/**
 * The order of restarts. An increase: replicas (in batches), then a switchover to a restarted
 * replica, then the old leader. A shared-memory decrease: the leader in place first (a
 * replica promoted with the higher value could not be followed by a leader restarted lower),
 * then the replicas. Without switchover, or with no replica to hand over to, the leader
 * restarts in place last.
 */
export function restartSequence(input: RestartSequenceInput): RestartAction[] {
  const batch = Math.max(1, Math.floor(input.batch));
  const replicas = input.members.filter((h) => h !== input.leader && input.pending.has(h));
  const batches: RestartAction[] = [];
  for (let i = 0; i < replicas.length; i += batch) batches.push({ kind: 'restart', hosts: replicas.slice(i, i + batch), role: 'replica' });
  const leaderPending = input.pending.has(input.leader);
  if (!leaderPending) return batches;
  const inPlace: RestartAction = { kind: 'restart', hosts: [input.leader], role: 'leader' };
  if (input.leaderFirst) return [inPlace, ...batches];
  const canHandOver = input.switchover && input.members.some((h) => h !== input.leader);
  if (!canHandOver) return [...batches, inPlace];
  return [...batches, { kind: 'switchover', from: input.leader, to: input.candidate }, { kind: 'restart-old-leader', host: input.leader }];
}

/** Every member a sequence may restart, in order. */
export function hostsOf(actions: readonly RestartAction[]): string[] {
  return actions.flatMap((a) => (a.kind === 'restart' ? a.hosts : a.kind === 'restart-old-leader' ? [a.host] : []));
}

/** One line per step, as `plan` shows it. */
export function describeRestartAction(action: RestartAction, lagLimit: number): string {
  switch (action.kind) {
    case 'restart':
      return action.role === 'leader'
        ? `[${action.hosts[0]}] restart PostgreSQL on the leader in place (writes pause until it runs again), then wait until every replica streams again`
        : `[${action.hosts.join(', ')}] restart PostgreSQL (replica${action.hosts.length > 1 ? 's together' : ''}), wait until ${action.hosts.length > 1 ? 'they stream' : 'it streams'} again with lag below ${lagLimit} bytes`;
    case 'switchover':
      return `switch over from ${action.from} to ${action.to ? `${action.to} (a healthy restarted replica; chosen again at that point)` : 'a healthy restarted replica'}`;
    case 'restart-old-leader':
      return `[${action.host}] restart PostgreSQL (the old leader, now a replica) if still pending, wait until it streams again`;
  }
}

/** A value as plan output shows it. */
export function showValue(v: unknown): string {
  return v === undefined || v === null ? '(unset)' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** One line per changed parameter: how it takes effect, and why. */
export function describeParameterChange(p: ParameterChange): string {
  const how =
    p.applies === 'restart'
      ? `needs a restart (pg_settings.context ${p.context})${p.decrease ? '; a decrease: the leader restarts first' : ''}`
      : p.applies === 'reload'
        ? `applies on reload (pg_settings.context ${p.context})`
        : 'not known to the running server: applies on reload if a loaded module defines it';
  return `${p.name} ${showValue(p.from)} → ${showValue(p.to)}: ${how}`;
}
