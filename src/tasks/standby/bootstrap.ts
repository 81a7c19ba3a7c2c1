import { HapgError } from '../../errors.js';
import type { Session } from '../../run/session.js';
import { waitUntil } from '../../run/wait.js';
import { standbyClusterConfig } from '../../render/standby.js';
import { patroniState, type MemberRole } from '../patroni/rest.js';
import { memberStates } from '../patroni/wait.js';
import { slotState, walReceiver } from './facts.js';
import { waitForVip } from '../deploy/converge-proxies.js';
import { haproxyServers } from '../status/haproxy-stats.js';

export interface RoleWatchSummary {
  polls: number;
  /** Every role each member reported while watched. */
  seen: Map<string, Set<MemberRole>>;
}

/**
 * Watches the role of every member of a standby cluster while it bootstraps, polling each
 * member's REST API continuously. A standby cluster must never report the leader role: it
 * would mean a member ran as a normal primary with its own timeline, which is the path that
 * corrupts a standby. `assert` raises at the first sighting, with the member and the time.
 */
export class RoleWatch {
  readonly #session: Session;
  readonly #name: string;
  readonly #seen = new Map<string, Set<MemberRole>>();
  #polls = 0;
  #violation: { host: string; at: Date } | undefined;
  #running = true;
  readonly #loop: Promise<void>;

  constructor(session: Session, name: string, intervalMs = 300) {
    this.#session = session;
    this.#name = name;
    this.#loop = this.#run(intervalMs);
  }

  async #run(intervalMs: number): Promise<void> {
    const cluster = this.#session.loaded.inventory.clusters[this.#name]!;
    const fact = patroniState(cluster.patroni.rest_api_port);
    while (this.#running) {
      await Promise.all(
        cluster.hosts.map(async (host) => {
          const state = await this.#session.facts.fresh(host, fact).catch(() => undefined);
          if (!state) return;
          let roles = this.#seen.get(host);
          if (!roles) this.#seen.set(host, (roles = new Set()));
          roles.add(state.role);
          if (state.role === 'leader' && !this.#violation) this.#violation = { host, at: new Date() };
        }),
      );
      this.#polls++;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /** Raises if any member has reported the leader role since the watch started. */
  assert(): void {
    if (!this.#violation) return;
    const { host, at } = this.#violation;
    throw new HapgError(
      'CLUSTER_UNHEALTHY',
      `${host}: member of standby cluster ${this.#name} reported the leader role at ${at.toISOString()}: a standby cluster must never run as a primary; stopping`,
      { host, hint: 'inspect the member (hapg status, journalctl -u patroni) before anything else; its data may have diverged from the source' },
    );
  }

  async stop(): Promise<RoleWatchSummary> {
    this.#running = false;
    await this.#loop;
    return { polls: this.#polls, seen: this.#seen };
  }
}

/** The running leader of a primary cluster (role leader), or undefined. */
export async function primaryLeaderOf(session: Session, name: string): Promise<string | undefined> {
  const cluster = session.loaded.inventory.clusters[name]!;
  const states = await memberStates(session.facts, cluster);
  return [...states].find(([, s]) => s?.role === 'leader' && s.state === 'running')?.[0];
}

/** Waits until the source's leader holds the standby's permanent slot (Patroni creates it within a loop). */
export async function waitForSourceSlot(session: Session, name: string): Promise<void> {
  const standby = session.loaded.inventory.clusters[name]!.standby!;
  const source = session.loaded.inventory.clusters[standby.cluster]!;
  await waitUntil(
    `slot ${standby.slot} on the leader of ${standby.cluster}`,
    async () => {
      const leader = await primaryLeaderOf(session, standby.cluster);
      if (!leader) return { done: false, status: `${standby.cluster} has no running leader` };
      const slot = await session.facts.fresh(leader, slotState(source.postgres.port, standby.slot));
      return { done: slot !== undefined, status: slot ? `present on ${leader}` : `not yet on ${leader}` };
    },
    { timeoutMs: (source.patroni.loop_wait + 30) * 1000 },
  );
}

/**
 * Waits until `host` runs as the standby leader, its WAL receiver streams from the source
 * and the slot on the source's leader is active. Checks the role watch on every poll.
 */
export async function waitForStandbyLeader(session: Session, name: string, host: string, watch: RoleWatch, timeoutMs = 600_000): Promise<void> {
  const { inventory } = session.loaded;
  const cluster = inventory.clusters[name]!;
  const source = inventory.clusters[cluster.standby!.cluster]!;
  const config = standbyClusterConfig(inventory, name)!;
  await waitUntil(
    `${host} to run as standby leader of ${name}, streaming from ${cluster.standby!.cluster} through slot ${config.primary_slot_name}`,
    async () => {
      watch.assert();
      const state = await session.facts.fresh(host, patroniState(cluster.patroni.rest_api_port));
      if (state?.role !== 'standby_leader' || state.state !== 'running') {
        return { done: false, status: state ? `role ${state.role}, state ${state.state}` : 'Patroni not answering' };
      }
      const receiver = await session.facts.fresh(host, walReceiver(cluster.postgres.port));
      if (receiver?.status !== 'streaming') return { done: false, status: `standby leader, WAL receiver ${receiver?.status ?? 'not running'}` };
      const leader = await primaryLeaderOf(session, cluster.standby!.cluster);
      const slot = leader ? await session.facts.fresh(leader, slotState(source.postgres.port, config.primary_slot_name)) : undefined;
      return { done: slot?.active === true, status: `WAL receiver streaming from ${receiver.senderHost}; slot on ${leader ?? '(no leader)'} ${slot ? (slot.active ? 'active' : 'inactive') : 'missing'}` };
    },
    { timeoutMs, intervalMs: 500, host },
  );
}

/**
 * Waits until the standby's way to its source works: through HAProxy, every source HAProxy
 * host sends read-write connections to the source's leader; through the VIP, that and one
 * host holding the VIP. Members are reached directly (libpq picks the read-write one).
 */
export async function waitForSourceEndpoint(session: Session, name: string): Promise<void> {
  const { inventory } = session.loaded;
  const standby = inventory.clusters[name]!.standby!;
  const source = inventory.clusters[standby.cluster]!;
  if (standby.source === 'members' || !source.haproxy) return;
  const haproxy = source.haproxy;
  await waitUntil(
    `HAProxy of ${standby.cluster} to route read-write connections to its leader`,
    async () => {
      const leader = await primaryLeaderOf(session, standby.cluster);
      if (!leader) return { done: false, status: `${standby.cluster} has no running leader` };
      const routing = await Promise.all(
        haproxy.hosts.map(async (h) => {
          const servers = await session.facts.fresh(h, haproxyServers(haproxy.stats_port));
          return servers?.some((s) => s.proxy === `${standby.cluster}_read_write` && s.server === leader && s.status === 'UP') ? undefined : h;
        }),
      );
      const notYet = routing.filter((h): h is string => h !== undefined);
      return { done: notYet.length === 0, status: notYet.length ? `not yet on ${notYet.join(', ')}` : 'routing' };
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  if (standby.source === 'vip') await waitForVip(session, standby.cluster, source);
}
