import type { HttpFact } from '../../facts/fact.js';
import type { Inventory } from '../../inventory/schema.js';
import { standbyClusterConfig, type StandbyClusterConfig } from '../../render/standby.js';
import { PATRONI_ROLES } from '../../render/roles.js';
import type { Secret } from '../../secret.js';
import { noop, type HttpStep, type PlanItem } from '../../run/steps.js';
import { BASE_PARAMETERS, permanentSlots } from '../../render/patroni-context.js';

type Scalar = string | number | boolean;

/** The cluster-wide settings hapg manages in Patroni's dynamic configuration (etcd). */
export interface DynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  synchronous_mode: boolean;
  synchronous_mode_strict: boolean;
  postgresql: { use_pg_rewind: boolean; use_slots: boolean; parameters: Record<string, Scalar> };
  /** Permanent slots, by name (the inventory's and those of standby clusters streaming from this one). */
  slots: Record<string, Record<string, string>>;
  /** Only on a standby cluster. */
  standby_cluster?: StandbyClusterConfig;
}

/** The dynamic configuration the inventory asks for (the same values bootstrap.dcs seeds). */
export function desiredDynamicConfig(inventory: Inventory, name: string): DynamicConfig {
  const cluster = inventory.clusters[name]!;
  const p = cluster.patroni;
  const standby = standbyClusterConfig(inventory, name);
  return {
    ttl: p.ttl,
    loop_wait: p.loop_wait,
    retry_timeout: p.retry_timeout,
    maximum_lag_on_failover: p.maximum_lag_on_failover,
    synchronous_mode: p.synchronous_mode,
    synchronous_mode_strict: p.synchronous_mode_strict,
    postgresql: { use_pg_rewind: p.use_pg_rewind, use_slots: p.use_slots, parameters: { ...BASE_PARAMETERS, ...cluster.postgres.parameters } },
    slots: permanentSlots(inventory, name),
    ...(standby ? { standby_cluster: standby } : {}),
  };
}

/** Patroni's dynamic configuration as stored in etcd (`GET /config`); undefined when not answering. */
export function dynamicConfig(restPort: number): HttpFact<Record<string, unknown> | undefined> {
  return {
    id: `patroni-config:${restPort}`,
    http: { method: 'GET', port: restPort, path: '/config', timeoutMs: 5000 },
    parse: (res) => (res && res.status === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined),
  };
}

export interface ConfigChange {
  key: string;
  from: unknown;
  to: unknown;
}

/** Same value as PostgreSQL and Patroni see it: 100 and "100", on and "on" are equal; lists and maps by content. */
const same = (a: unknown, b: unknown): boolean => {
  if (a === undefined || a === null) return false;
  if (typeof b === 'object' && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return String(a) === String(b);
};

/**
 * The settings whose live value differs from the inventory's. Keys the inventory does not
 * name are left as they are (someone may have set them with patronictl edit-config).
 */
export function dynamicConfigChanges(live: Record<string, unknown>, desired: DynamicConfig): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const key of ['ttl', 'loop_wait', 'retry_timeout', 'maximum_lag_on_failover', 'synchronous_mode', 'synchronous_mode_strict'] as const) {
    if (!same(live[key], desired[key])) changes.push({ key, from: live[key], to: desired[key] });
  }
  const livePg = (live['postgresql'] ?? {}) as { use_pg_rewind?: unknown; use_slots?: unknown; parameters?: Record<string, unknown> };
  for (const key of ['use_pg_rewind', 'use_slots'] as const) {
    if (!same(livePg[key], desired.postgresql[key])) changes.push({ key: `postgresql.${key}`, from: livePg[key], to: desired.postgresql[key] });
  }
  for (const [name, value] of Object.entries(desired.postgresql.parameters).sort(([a], [b]) => a.localeCompare(b))) {
    const current = livePg.parameters?.[name];
    if (!same(current, value)) changes.push({ key: `postgresql.parameters.${name}`, from: current, to: value });
  }
  const liveSlots = (live['slots'] ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, slot] of Object.entries(desired.slots).sort(([a], [b]) => a.localeCompare(b))) {
    const current = liveSlots[name];
    const matches = current !== undefined && current !== null && Object.entries(slot).every(([k, v]) => same(current[k], v));
    if (!matches) changes.push({ key: `slots.${name}`, from: current ?? undefined, to: slot });
  }
  // A standby_cluster section is only ever adjusted here, never added or removed: adding one
  // to a running cluster is the conversion hapg refuses, removing one is `hapg standby promote`.
  const liveStandby = live['standby_cluster'] as Record<string, unknown> | null | undefined;
  if (desired.standby_cluster && liveStandby) {
    for (const [key, value] of Object.entries(desired.standby_cluster)) {
      if (!same(liveStandby[key], value)) changes.push({ key: `standby_cluster.${key}`, from: liveStandby[key], to: value });
    }
  }
  return changes;
}

/** One PATCH /config with every change, sent to the leader's REST API with its credentials. */
export function planDynamicConfig(
  leader: string,
  inventory: Inventory,
  name: string,
  live: Record<string, unknown> | undefined,
  restPassword: Secret,
): PlanItem[] {
  const cluster = inventory.clusters[name]!;
  if (!live) return [noop(leader, 'dynamic configuration not readable yet (it is seeded at bootstrap)')];
  const changes = dynamicConfigChanges(live, desiredDynamicConfig(inventory, name));
  if (changes.length === 0) return [noop(leader, 'dynamic configuration as declared')];
  const body: Record<string, unknown> = {};
  for (const c of changes) {
    const path = c.key.split('.');
    let node = body;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = c.to;
  }
  const show = (v: unknown) => (v === undefined ? '(unset)' : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  const describe = changes.map((c) => `${c.key.replace(/^postgresql\.parameters\./, '')} ${show(c.from)} → ${show(c.to)}`).join(', ');
  const step: HttpStep = {
    kind: 'http',
    host: leader,
    title: `PATCH /config: ${describe}`,
    port: cluster.patroni.rest_api_port,
    method: 'PATCH',
    path: '/config',
    body,
    basicAuth: { user: PATRONI_ROLES.restApi, password: restPassword },
  };
  return [step];
}
