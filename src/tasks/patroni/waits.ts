// What deploy waits for on a Patroni cluster, as wait steps: each poll re-reads the members.
import type { FactCache } from '../../facts/fact.js';
import { localPostgres, patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { wait, type WaitStep } from '../../run/steps.js';
import { initializedSystemId } from './cluster-state.js';
import { memberStates } from './facts.js';
import { runningLeader } from './member-health.js';
import { configLoadTime } from './pg-settings.js';

/** One poll of "`host` runs as the leader of its cluster". */
async function leaderPoll(facts: FactCache, model: DesiredState, cluster: string, host: string): Promise<{ done: boolean; status: string }> {
  const s = (await memberStates(facts, model, cluster)).get(host);
  return { done: s?.role === 'leader' && s.state === 'running', status: s ? `role ${s.role}, state ${s.state}` : 'Patroni not answering' };
}

/** `host` runs as the leader of its cluster. */
export function waitForLeader(model: DesiredState, cluster: string, host: string, timeoutMs = 180_000): WaitStep {
  return wait(host, `${host} to run as leader`, (facts) => leaderPoll(facts, model, cluster, host), { timeoutMs });
}

/**
 * `host` has initialised its cluster: it runs as leader, and Patroni has recorded the system
 * identifier in etcd (the `initialize` key, read afresh), which it does only after the
 * bootstrap and its post_bootstrap. Patroni reports the leader running some seconds before
 * that (while post_bootstrap runs, the key holds an empty value); a run that went on at that
 * point took the cluster for one not initialised.
 */
export function waitForBootstrapped(model: DesiredState, cluster: string, host: string, timeoutMs = 180_000): WaitStep {
  return wait(
    host,
    `${host} to initialise ${cluster} and run as leader`,
    async (facts) => {
      const leading = await leaderPoll(facts, model, cluster, host);
      if (!leading.done) return leading;
      const sysid = await initializedSystemId(facts, model, cluster, undefined, true);
      return sysid ? { done: true, status: `${leading.status}, system identifier ${sysid} in etcd` } : { done: false, status: `${leading.status}, bootstrap not recorded in etcd yet` };
    },
    { timeoutMs },
  );
}

/**
 * Every member runs and every replica streams from the leader (the leader's own replication
 * list: Patroni 3.0.2 reports replicas as "running", never "streaming"). In a standby cluster
 * the members stream from the standby leader. `check` runs on every poll.
 */
export function waitForStreamingReplicas(model: DesiredState, cluster: string, opts: { timeoutMs?: number; check?: () => void; leader?: string } = {}): WaitStep {
  const cm = model.cluster(cluster);
  return wait(
    opts.leader ?? cm.spec.leader,
    `every member of ${cluster} running and every replica streaming${opts.leader ? ` from ${opts.leader}` : ''}`,
    async (facts) => {
      opts.check?.();
      const states = await memberStates(facts, model, cluster);
      const leaders = [...states].filter(([, s]) => s?.role === cm.leaderRole && s.state === 'running').map(([h]) => h);
      if (leaders.length !== 1) return { done: false, status: leaders.length === 0 ? 'no running leader' : `several leaders: ${leaders.join(', ')}` };
      const leader = leaders[0]!;
      if (opts.leader && leader !== opts.leader) return { done: false, status: `the leader is ${leader}` };
      const streaming = new Set(states.get(leader)!.replication.filter((r) => r.state === 'streaming').map((r) => r.applicationName));
      const lagging = cm.spec.hosts.filter((h) => h !== leader && (!streaming.has(h) || states.get(h)?.state !== 'running'));
      const describe = (h: string) => {
        const s = states.get(h);
        return `${h} ${s ? `${s.state}${streaming.has(h) ? '' : ', not streaming'}` : 'not answering'}`;
      };
      return { done: lagging.length === 0, status: lagging.length ? lagging.map(describe).join('; ') : `all streaming from ${leader}` };
    },
    { timeoutMs: opts.timeoutMs ?? 300_000 },
  );
}

/**
 * `hosts` are members of the cluster in etcd, as `leader` reads it (GET /cluster): a starting
 * Patroni registers at its first loop, before it clones or starts PostgreSQL.
 */
export function waitForRegistered(model: DesiredState, cluster: string, leader: string, hosts: readonly string[], timeoutMs = 120_000): WaitStep {
  const api = patroniApi(model, cluster);
  return wait(
    leader,
    `${hosts.join(', ')} to register in etcd as members of ${cluster}`,
    async (facts) => {
      const view = await facts.fresh(leader, api.clusterView(leader));
      if (!view) return { done: false, status: `${leader} does not answer GET /cluster` };
      const listed = new Set(view.members.map((m) => m.name));
      const missing = hosts.filter((h) => !listed.has(h));
      return { done: missing.length === 0, status: missing.length ? `not registered yet: ${missing.join(', ')}` : 'registered' };
    },
    { timeoutMs },
  );
}

/** The current leader, read afresh (undefined when there is not exactly one running). */
export async function currentLeader(facts: FactCache, model: DesiredState, cluster: string): Promise<string | undefined> {
  return runningLeader(await memberStates(facts, model, cluster), model.cluster(cluster).leaderRole);
}

/**
 * Patroni applies a reloaded patroni.yml at its next loop: it rewrites pg_hba.conf and
 * reloads PostgreSQL. Waits until each member's pg_hba.conf holds exactly the inventory's
 * entries and PostgreSQL loaded its configuration after that file was written, so that when
 * deploy says done, the new rules are in force.
 */
export function waitForHbaApplied(model: DesiredState, cluster: string, hosts: readonly string[]): WaitStep[] {
  const cm = model.cluster(cluster);
  const wanted = cm.hba.join('\n');
  const pg = localPostgres(model, cluster);
  const hbaFile = {
    id: `pg-hba-file:${cm.spec.postgres.data_dir}`,
    argv: ['cat', '--', `${cm.spec.postgres.data_dir}/pg_hba.conf`],
    sudo: true,
    parse: (r: { stdout: string }) => r.stdout.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).join('\n'),
  };
  const loaded = pg.query('hba-loaded', "select pg_conf_load_time() >= (pg_stat_file('pg_hba.conf')).modification", (rows) => rows[0]?.[0] === 't');
  return hosts.map((host) =>
    wait(
      host,
      `${host} to apply its new pg_hba rules`,
      async (facts) => {
        if ((await facts.fresh(host, hbaFile)) !== wanted) return { done: false, status: 'pg_hba.conf not rewritten yet' };
        const applied = (await facts.fresh(host, loaded)) === true;
        return { done: applied, status: applied ? 'pg_hba.conf rewritten and loaded' : 'pg_hba.conf rewritten, PostgreSQL not reloaded yet' };
      },
      { timeoutMs: (cm.spec.patroni.loop_wait * 2 + 20) * 1000, intervalMs: 500 },
    ),
  );
}

/** When each running member's PostgreSQL last loaded its configuration (members not answering are left out). */
export async function configLoadTimes(facts: FactCache, model: DesiredState, cluster: string): Promise<Map<string, string>> {
  const spec = model.inventory.clusters[cluster]!;
  const fact = configLoadTime(spec.postgres.port);
  const entries = await Promise.all(spec.hosts.map(async (h) => [h, await facts.fresh(h, fact).catch(() => undefined)] as const));
  return new Map(entries.filter((e): e is readonly [string, string] => e[1] !== undefined));
}

/**
 * Every member has applied a changed dynamic configuration: each PostgreSQL reloaded its
 * configuration since `before`, and Patroni had a second to re-read pending_restart after.
 * When the change holds a parameter that needs a restart, a reload alone proves nothing (the
 * Patroni reload of a changed patroni.yml just before reloads PostgreSQL too, and may land
 * after `before` was read): then every member must also report pending_restart, which only
 * the new configuration causes. Soft: a member that does not get there in time (a change
 * Patroni finds equal, a member already running the new value) is reported.
 */
export function waitForConfigReload(model: DesiredState, cluster: string, leader: string, before: ReadonlyMap<string, string>, opts: { needsRestart?: boolean } = {}): WaitStep {
  const spec = model.inventory.clusters[cluster]!;
  let reloadedAt: number | undefined;
  return wait(
    leader,
    `every member of ${cluster} to reload its PostgreSQL configuration`,
    async (facts) => {
      const now = await configLoadTimes(facts, model, cluster);
      const waiting = [...before].filter(([h, t]) => now.get(h) === t).map(([h]) => h);
      if (waiting.length > 0) return { done: false, status: `not yet reloaded: ${waiting.join(', ')}` };
      if (opts.needsRestart) {
        const states = await memberStates(facts, model, cluster);
        const unflagged = [...before.keys()].filter((h) => states.get(h)?.pendingRestart !== true);
        return { done: unflagged.length === 0, status: unflagged.length ? `reloaded; pending_restart not reported yet by ${unflagged.join(', ')}` : 'all reloaded, restart pending on every member' };
      }
      reloadedAt ??= Date.now();
      // Patroni re-reads pg_settings' pending_restart a second after the reload.
      return { done: Date.now() - reloadedAt >= 2000, status: 'all reloaded' };
    },
    { timeoutMs: (spec.patroni.loop_wait * 2 + 10) * 1000, intervalMs: 500, soft: true },
  );
}
