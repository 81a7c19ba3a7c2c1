// The pause a conversion to TLS holds its clusters in while Patroni restarts to reach etcd over
// TLS and etcd drops plain HTTP and turns authentication on. Paused, Patroni changes no role,
// never demotes a leader that loses etcd for a moment, and leaves PostgreSQL running when it
// stops. While Patroni's REST API moves to https (checks over plain HTTP would fail and take the
// leader out of HAProxy until HAProxy reloads with TLS checks), HAProxy's health checks of the
// cluster's servers are suspended, keeping each server in the state it had: with the cluster
// paused no member can change role, so the states stay true. The HAProxy reload that follows
// brings fresh processes with checks on; resuming enables them again in any case.
import type { FactCache } from '../../facts/fact.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { exec, noop, wait, type PlanItem } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';
import { runningLeader } from '../patroni/member-health.js';
import { cachedMemberStates } from '../patroni/facts.js';

/** HAProxy's admin socket (see haproxy.cfg.hbs). */
const HAPROXY_SOCKET = '/run/haproxy/admin.sock';

/** Sends one command line to HAProxy's admin socket (perl-base is on every Debian host); prints HAProxy's answer. */
const HAPROXY_COMMAND = 'use IO::Socket::UNIX; my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "$ARGV[0]: $!\\n"; print $s "$ARGV[1]\\n"; my $out = join("", <$s>); $out =~ s/\\s+$//; die "$out\\n" if $out ne ""; ';

/** The HAProxy hosts in front of `cluster`, with a step that sends `action health` for every server of both its listeners. */
function healthChecks(model: DesiredState, cluster: string, action: 'disable' | 'enable'): PlanItem[] {
  const members = model.inventory.clusters[cluster]!.hosts;
  const line = members.flatMap((m) => [`${action} health ${cluster}_read_write/${m}`, `${action} health ${cluster}_read_only/${m}`]).join('; ');
  const what = action === 'disable' ? `suspend HAProxy's health checks of cluster ${cluster} (servers keep their state while the REST API moves to https)` : `resume HAProxy's health checks of cluster ${cluster}`;
  return model.hostsOf('haproxy', cluster).map((h) => exec(h, what, ['perl', '-e', HAPROXY_COMMAND, HAPROXY_SOCKET, line]));
}

/** Whether every member that answers reports the cluster `paused` (and at least one answers). */
async function allPaused(facts: FactCache, model: DesiredState, cluster: string, paused: boolean) {
  const api = patroniApi(model, cluster);
  const hosts = model.inventory.clusters[cluster]!.hosts;
  const states = await Promise.all(hosts.map((h) => facts.fresh(h, api.state(h)).catch(() => undefined)));
  const answering = states.filter((s) => s !== undefined);
  const done = answering.length > 0 && answering.every((s) => s.paused === paused);
  return { done, status: `${answering.filter((s) => s.paused === paused).length} of ${answering.length} answering members ${paused ? 'paused' : 'resumed'}` };
}

/**
 * Pauses `clusters` (PATCH /config on the leader, then every member reports it), then, with
 * `suspendChecks`, suspends HAProxy's health checks of their servers.
 */
export function pauseStage(model: DesiredState, clusters: readonly string[], opts: { suspendChecks: boolean }): Stage {
  return {
    id: 'tls-conversion:pause',
    title: `Pausing ${clusters.join(', ')} for the conversion to TLS`,
    async plan({ session, secrets }) {
      const items: PlanItem[] = [];
      const waits = [];
      for (const cluster of clusters) {
        const states = await cachedMemberStates(session.facts, model, cluster);
        const answering = [...states.values()].filter((s) => s !== undefined);
        const leader = runningLeader(states) ?? runningLeader(states, 'standby_leader');
        if (answering.length > 0 && answering.every((s) => s.paused)) {
          items.push(noop(leader ?? model.inventory.clusters[cluster]!.hosts[0]!, `cluster ${cluster} paused`));
        } else if (leader) {
          items.push(patroniApi(model, cluster, secrets).patchConfig(leader, { pause: true }, `pause cluster ${cluster} (Patroni changes no role and leaves PostgreSQL running while it restarts)`));
        } else {
          continue; // not initialised, or no leader: nothing runs that a restart could stop
        }
        const hosts = model.inventory.clusters[cluster]!.hosts;
        waits.push(wait(hosts[0]!, `every member of ${cluster} to report the pause`, (facts) => allPaused(facts, model, cluster, true), { timeoutMs: 60_000, intervalMs: 500 }));
        if (opts.suspendChecks) items.push(...healthChecks(model, cluster, 'disable'));
      }
      return { blocks: [{ items: items.filter((i) => i.kind !== 'exec'), waits }, { items: items.filter((i) => i.kind === 'exec') }], notes: [] };
    },
  };
}

/** Resumes HAProxy's health checks of `clusters`' servers, then resumes the clusters. */
export function resumeStage(model: DesiredState, clusters: readonly string[]): Stage {
  return {
    id: 'tls-conversion:resume',
    title: `Resuming ${clusters.join(', ')} after the conversion to TLS`,
    async plan({ session, secrets }) {
      const checks: PlanItem[] = [];
      const items: PlanItem[] = [];
      const waits = [];
      for (const cluster of clusters) {
        checks.push(...healthChecks(model, cluster, 'enable'));
        const states = await cachedMemberStates(session.facts, model, cluster);
        const leader = runningLeader(states) ?? runningLeader(states, 'standby_leader');
        if (![...states.values()].some((s) => s?.paused)) continue;
        if (!leader) {
          items.push(noop(model.inventory.clusters[cluster]!.hosts[0]!, `cluster ${cluster} stays paused: no running leader to resume it through`));
          continue;
        }
        items.push(patroniApi(model, cluster, secrets).patchConfig(leader, { pause: false }, `resume cluster ${cluster}`));
        waits.push(wait(leader, `every member of ${cluster} to report it resumed`, (facts) => allPaused(facts, model, cluster, false), { timeoutMs: 60_000, intervalMs: 500 }));
      }
      return { blocks: [{ items: checks }, { items, waits }], notes: [] };
    },
  };
}
