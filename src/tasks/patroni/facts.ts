import type { CommandFact, FactCache } from '../../facts/fact.js';
import type { PatroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { patroniApi } from '../../model/endpoints.js';
import type { PatroniState } from './rest.js';

/** Whether a PostgreSQL data directory is initialised (PG_VERSION exists). */
export function pgData(dataDir: string): CommandFact<{ exists: boolean }> {
  return {
    id: `pgdata:${dataDir}`,
    argv: ['test', '-f', `${dataDir}/PG_VERSION`],
    sudo: true,
    parse: (r) => ({ exists: r.exitCode === 0 }),
  };
}

export interface ControlData {
  /** pg_control's "Database cluster state": in production, shut down, shut down in recovery, in archive recovery… */
  state: string;
  timeline: number;
  /** The latest checkpoint's location (an LSN). */
  checkpoint: string;
}

/** What pg_control says about a data directory (undefined: no data there, or unreadable). */
export function controlData(binDir: string, dataDir: string): CommandFact<ControlData | undefined> {
  return {
    id: `controldata:${dataDir}`,
    argv: ['env', 'LC_ALL=C', `${binDir}/pg_controldata`, '-D', dataDir],
    sudo: true,
    parse: (r) => {
      if (r.exitCode !== 0) return undefined;
      const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(r.stdout)?.[1]?.trim();
      const state = field('Database cluster state');
      if (!state) return undefined;
      return { state, timeline: Number(field("Latest checkpoint's TimeLineID") ?? 0), checkpoint: field('Latest checkpoint location') ?? '' };
    },
  };
}

/** Whether pg_control says the server ran (or last ran) as a primary rather than in recovery. */
export function ranAsPrimary(control: ControlData): boolean {
  return control.state === 'in production' || control.state === 'shut down';
}

/** Reads every member's `/patroni` afresh; a member not answering maps to undefined. */
export async function memberStates(facts: FactCache, model: DesiredState, cluster: string, api: PatroniApi = patroniApi(model, cluster)): Promise<Map<string, PatroniState | undefined>> {
  const hosts = model.inventory.clusters[cluster]!.hosts;
  const entries = await Promise.all(hosts.map(async (h) => [h, await facts.fresh(h, api.state(h)).catch(() => undefined)] as const));
  return new Map(entries);
}

/** The same, from the run's cache (planning reads once; waits use memberStates), each {@link settledMemberState}. */
export async function cachedMemberStates(facts: FactCache, model: DesiredState, cluster: string): Promise<Map<string, PatroniState | undefined>> {
  const api = patroniApi(model, cluster);
  const hosts = model.inventory.clusters[cluster]!.hosts;
  const entries = await Promise.all(hosts.map(async (h) => [h, await settledMemberState(facts, api, h)] as const));
  return new Map(entries);
}

/** How long after its start a Patroni that does not answer yet is waited for (it serves its REST API a few seconds after it starts; longer on a busy host). */
export const PATRONI_START_GRACE_S = 45;

const SETTLE_POLL_MS = 500;

/** Seconds since patroni.service's main process started, by the host's clock (undefined: Patroni does not run). */
export const patroniProcessAge: CommandFact<number | undefined> = {
  id: 'patroni-process-age',
  argv: [
    'sh',
    '-c',
    'pid=$(systemctl show -p MainPID --value patroni.service) && [ "${pid:-0}" -gt 0 ] && start=$(systemctl show --timestamp=unix -p ExecMainStartTimestamp --value patroni.service) && echo $(( $(date +%s) - ${start#@} ))',
  ],
  parse: (r) => {
    const text = r.stdout.trim();
    return r.exitCode === 0 && /^-?\d+$/.test(text) ? Math.max(0, Number(text)) : undefined;
  },
};

/**
 * A member's `GET /patroni` from the run's cache, except that a Patroni that runs but does not
 * answer yet because it has just started (a run cut short right after restarting it, a host
 * that just booted) is read again until it answers or is {@link PATRONI_START_GRACE_S} old:
 * between its start and its REST API a leader would look absent and the cluster leaderless.
 * Undefined: not answering.
 */
export async function settledMemberState(facts: FactCache, api: PatroniApi, host: string, opts: { pollMs?: number } = {}): Promise<PatroniState | undefined> {
  const first = await facts.get(host, api.state(host)).catch(() => undefined);
  if (first !== undefined) return first;
  // Read afresh: a member already waited for is past its grace by now.
  const age = await facts.fresh(host, patroniProcessAge).catch(() => undefined);
  if (age === undefined || age >= PATRONI_START_GRACE_S) return undefined;
  const deadline = Date.now() + (PATRONI_START_GRACE_S - age) * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, opts.pollMs ?? SETTLE_POLL_MS));
    const state = await facts.fresh(host, api.state(host)).catch(() => undefined);
    if (state !== undefined) return state;
  }
  return undefined;
}

const CONFIG_NEWER = [
  'start=$(systemctl show --timestamp=us+utc -p ExecMainStartTimestamp --value patroni.service)',
  '[ -n "$start" ] || exit 0',
  's=$(date -d "$start" +%s.%N) && m=$(stat -c %.6Y "$1") && echo "$s $m"',
].join('\n');

/**
 * Whether patroni.yml was written after the running Patroni started (undefined: Patroni does
 * not run, or the times cannot be read). Patroni applies most of its file on a reload, but not
 * how it reaches etcd: a file changed there and reloaded still needs a restart.
 */
export function configNewerThanPatroni(configPath: string): CommandFact<boolean | undefined> {
  return {
    id: `patroni-config-newer:${configPath}`,
    argv: ['sh', '-c', CONFIG_NEWER, 'sh', configPath],
    parse: (r) => {
      const [started, written] = r.stdout.trim().split(/\s+/).map(Number);
      return r.exitCode === 0 && Number.isFinite(started) && Number.isFinite(written) ? written! > started! : undefined;
    },
  };
}

/**
 * patroni.yml without its top-level `bootstrap:` block, as lines: what a running Patroni acts
 * on. Patroni reads `bootstrap` only when it initialises a new cluster, so a change confined to
 * it (a parameter or slot of the dynamic configuration, which bootstrap.dcs repeats) needs the
 * file written, not a reload. {@link WITHOUT_BOOTSTRAP_AWK} makes the same cut on the host.
 */
export function withoutBootstrap(content: string): string {
  const lines = content.endsWith('\n') ? content.slice(0, -1).split('\n') : content.split('\n');
  let skip = false;
  const kept: string[] = [];
  for (const line of lines) {
    if (/^[^ #]/.test(line)) skip = /^bootstrap:/.test(line);
    if (!skip) kept.push(`${line}\n`);
  }
  return kept.join('');
}

/** The awk program that makes on the host the cut {@link withoutBootstrap} makes here. */
export const WITHOUT_BOOTSTRAP_AWK = '/^[^ #]/{skip = ($0 ~ /^bootstrap:/)} !skip';

/** sha256 of a host's patroni.yml without its `bootstrap:` block (undefined when unreadable). */
export function runtimeConfigDigest(configPath: string): CommandFact<string | undefined> {
  return {
    id: `patroni-runtime-config:${configPath}`,
    argv: ['sh', '-c', '[ -r "$1" ] || exit 1; awk "$2" "$1" | sha256sum', 'sh', configPath, WITHOUT_BOOTSTRAP_AWK],
    sudo: true,
    parse: (r) => (r.exitCode === 0 && /^[0-9a-f]{64}\b/.test(r.stdout) ? r.stdout.slice(0, 64) : undefined),
  };
}
