// What a standby cluster's bootstrap waits for, and the watch that proves no member ever ran
// as a primary on the way.
import { HapgError } from '../../errors.js';
import type { FactCache } from '../../facts/fact.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { wait, type WaitStep } from '../../run/steps.js';
import type { Watcher } from '../../stages/stage.js';
import { haproxyServers } from '../haproxy/stats.js';
import { waitForVip } from '../keepalived/vip.js';
import { currentLeader } from '../patroni/waits.js';
import type { MemberRole } from '../patroni/rest.js';
import { slotState, walReceiver } from './facts.js';

/**
 * Watches the role of every member of a standby cluster while it bootstraps, polling each
 * member's REST API continuously. A standby cluster must never report the leader role: it
 * would mean a member ran as a normal primary with its own timeline, which is the path that
 * corrupts a standby. `check` raises at the first sighting, with the member and the time.
 */
export class RoleWatch implements Watcher {
  readonly #seen = new Map<string, Set<MemberRole>>();
  #polls = 0;
  #violation: { host: string; at: Date } | undefined;
  #running = true;
  readonly #loop: Promise<void>;

  constructor(
    private readonly facts: FactCache,
    private readonly model: DesiredState,
    private readonly name: string,
    intervalMs = 300,
  ) {
    this.#loop = this.#run(intervalMs);
  }

  async #run(intervalMs: number): Promise<void> {
    const api = patroniApi(this.model, this.name);
    const hosts = this.model.inventory.clusters[this.name]!.hosts;
    while (this.#running) {
      await Promise.all(
        hosts.map(async (host) => {
          const state = await this.facts.fresh(host, api.state(host)).catch(() => undefined);
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

  check(): void {
    if (!this.#violation) return;
    const { host, at } = this.#violation;
    throw new HapgError(
      'CLUSTER_UNHEALTHY',
      `${host}: member of standby cluster ${this.name} reported the leader role at ${at.toISOString()}: a standby cluster must never run as a primary; stopping`,
      { host, hint: 'inspect the member (hapg status, journalctl -u patroni) before anything else; its data may have diverged from the source' },
    );
  }

  async stop(): Promise<string> {
    this.#running = false;
    await this.#loop;
    this.check();
    const roles = [...this.#seen].map(([h, r]) => `${h} ${[...r].join('/')}`).join(', ');
    return `standby cluster ${this.name}: no member reported the leader role (${this.#polls} polls of every member; roles seen: ${roles})`;
  }
}

/** The source cluster's permanent slot for this standby exists on its leader (Patroni creates it within a loop). */
export function waitForSourceSlot(model: DesiredState, name: string): WaitStep {
  const standby = model.inventory.clusters[name]!.standby!;
  const source = model.inventory.clusters[standby.cluster]!;
  return wait(
    source.leader,
    `slot ${standby.slot} on the leader of ${standby.cluster}`,
    async (facts) => {
      const leader = await currentLeader(facts, model, standby.cluster);
      if (!leader) return { done: false, status: `${standby.cluster} has no running leader` };
      const slot = await facts.fresh(leader, slotState(source.postgres.port, standby.slot));
      return { done: slot !== undefined, status: slot ? `present on ${leader}` : `not yet on ${leader}` };
    },
    { timeoutMs: (source.patroni.loop_wait + 30) * 1000 },
  );
}

/**
 * `host` runs as the standby leader, its WAL receiver streams from the source and the slot
 * on the source's leader is active. Checks the role watch on every poll.
 */
export function waitForStandbyLeader(model: DesiredState, name: string, host: string, watch: () => Watcher | undefined, timeoutMs = 600_000): WaitStep {
  const cluster = model.inventory.clusters[name]!;
  const source = model.inventory.clusters[cluster.standby!.cluster]!;
  const slotName = model.cluster(name).standby!.primary_slot_name;
  const api = patroniApi(model, name);
  return wait(
    host,
    `${host} to run as standby leader of ${name}, streaming from ${cluster.standby!.cluster} through slot ${slotName}`,
    async (facts) => {
      watch()?.check();
      const state = await facts.fresh(host, api.state(host));
      if (state?.role !== 'standby_leader' || state.state !== 'running') return { done: false, status: state ? `role ${state.role}, state ${state.state}` : 'Patroni not answering' };
      const receiver = await facts.fresh(host, walReceiver(cluster.postgres.port));
      if (receiver?.status !== 'streaming') return { done: false, status: `standby leader, WAL receiver ${receiver?.status ?? 'not running'}` };
      const leader = await currentLeader(facts, model, cluster.standby!.cluster);
      const slot = leader ? await facts.fresh(leader, slotState(source.postgres.port, slotName)) : undefined;
      return { done: slot?.active === true, status: `WAL receiver streaming from ${receiver.senderHost}; slot on ${leader ?? '(no leader)'} ${slot ? (slot.active ? 'active' : 'inactive') : 'missing'}` };
    },
    { timeoutMs, intervalMs: 500, tag: `standby-streaming:${name}` },
  );
}

/**
 * The standby's way to its source works: through HAProxy, every source HAProxy host sends
 * read-write connections to the source's leader; through the VIP, that and one host holding
 * the VIP. Members are reached directly (libpq picks the read-write one): nothing to wait for.
 */
export function waitForSourceEndpoint(model: DesiredState, name: string): WaitStep[] {
  const standby = model.inventory.clusters[name]!.standby!;
  const source = model.inventory.clusters[standby.cluster]!;
  if (standby.source === 'members' || !source.haproxy) return [];
  const haproxy = source.haproxy;
  const routing = wait(
    haproxy.hosts[0]!,
    `HAProxy of ${standby.cluster} to route read-write connections to its leader`,
    async (facts) => {
      const leader = await currentLeader(facts, model, standby.cluster);
      if (!leader) return { done: false, status: `${standby.cluster} has no running leader` };
      const notYet: string[] = [];
      for (const h of haproxy.hosts) {
        const servers = await facts.fresh(h, haproxyServers(model, standby.cluster, h));
        if (!servers?.some((s) => s.proxy === `${standby.cluster}_read_write` && s.server === leader && s.status === 'UP')) notYet.push(h);
      }
      return { done: notYet.length === 0, status: notYet.length ? `not yet on ${notYet.join(', ')}` : 'routing' };
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  return standby.source === 'vip' ? [routing, waitForVip(model, standby.cluster)] : [routing];
}
