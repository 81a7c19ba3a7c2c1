import type { PatroniApi } from '../../model/endpoints.js';
import { noop, type PlanItem } from '../../run/steps.js';
import type { DynamicConfig } from './model.js';

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

/** What Patroni assumes for a key its configuration lacks (a cluster bootstrapped before hapg set it). */
const PATRONI_DEFAULTS: Partial<Record<string, unknown>> = { failsafe_mode: false };

/**
 * The settings whose live value differs from the inventory's. Keys the inventory does not
 * name are left as they are (someone may have set them with patronictl edit-config).
 */
export function dynamicConfigChanges(live: Record<string, unknown>, desired: DynamicConfig, prune: readonly string[] = []): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const key of ['ttl', 'loop_wait', 'retry_timeout', 'maximum_lag_on_failover', 'synchronous_mode', 'synchronous_mode_strict', 'failsafe_mode'] as const) {
    if (!same(live[key] ?? PATRONI_DEFAULTS[key], desired[key])) changes.push({ key, from: live[key], to: desired[key] });
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
  // A permanent slot the inventory no longer declares is dropped only when --prune names it.
  for (const name of leftoverSlots(live, desired).filter((n) => prune.includes(n))) changes.push({ key: `slots.${name}`, from: liveSlots[name], to: null });
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

/**
 * Permanent slots in the live configuration that the inventory no longer declares: most often
 * the slot of a standby cluster removed from the inventory, which keeps retaining WAL on the
 * leader. hapg keeps them (warning) unless --prune names them.
 */
export function leftoverSlots(live: Record<string, unknown>, desired: DynamicConfig): string[] {
  const liveSlots = (live['slots'] ?? {}) as Record<string, unknown>;
  return Object.keys(liveSlots)
    .filter((name) => liveSlots[name] !== null && !(name in desired.slots))
    .sort();
}

/** One PATCH /config with every change, sent to the leader's REST API with its credentials. */
export function planDynamicConfig(leader: string, api: PatroniApi, desired: DynamicConfig, live: Record<string, unknown> | undefined, prune: readonly string[] = []): PlanItem[] {
  if (!live) return [noop(leader, 'dynamic configuration not readable yet (it is seeded at bootstrap)')];
  const changes = dynamicConfigChanges(live, desired, prune);
  if (changes.length === 0) return [noop(leader, 'dynamic configuration as declared')];
  const body: Record<string, unknown> = {};
  for (const c of changes) {
    const path = c.key.split('.');
    let node = body;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = c.to;
  }
  const show = (v: unknown) => (v === undefined ? '(unset)' : v === null ? '(dropped, --prune)' : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  const describe = changes.map((c) => `${c.key.replace(/^postgresql\.parameters\./, '')} ${show(c.from)} → ${show(c.to)}`).join(', ');
  return [api.patchConfig(leader, body, `PATCH /config: ${describe}`)];
}
