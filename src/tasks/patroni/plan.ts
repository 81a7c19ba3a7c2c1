import { createHash } from 'node:crypto';
import { fileMatches, type RemoteFileState } from '../../facts/files.js';
import type { ServiceState } from '../../facts/services.js';
import type { InventorySecrets } from '../../inventory/secrets.js';
import type { DesiredState } from '../../model/model.js';
import { renderTemplate } from '../../render/templates.js';
import { exec, file, noop, service, type FileStep, type PlanItem } from '../../run/steps.js';
import { PATRONI_SECRET_LINES, patroniContext, type BootstrapMethod } from './context.js';
import { withoutBootstrap } from './facts.js';
import { PATRONI_CONFIG_PATH, PATRONI_UNIT_PATH } from './model.js';
import type { PatroniState } from './rest.js';
import { switchesEtcdTransport } from '../tls/model.js';

export interface PatroniMemberFacts {
  files: ReadonlyMap<string, RemoteFileState | null>;
  service: ServiceState | undefined;
  state: PatroniState | undefined;
  /** The data directory holds a PostgreSQL cluster (PG_VERSION exists). */
  hasData: boolean;
  /** patroni.yml was written after the running Patroni started (asked only when Patroni's etcd transport switches). */
  configNewer?: boolean | undefined;
  /** sha256 of the host's patroni.yml without its `bootstrap:` block (undefined when it cannot be read). */
  runtimeDigest?: string | undefined;
}

/** patroni.yml (mode 0600, owned by postgres: it holds passwords) and the unit of one member. */
export function patroniFiles(
  model: DesiredState,
  clusterName: string,
  host: string,
  secrets: InventorySecrets,
  opts: { bootstrap?: BootstrapMethod } = {},
): FileStep[] {
  const { context, secrets: used } = patroniContext(model, clusterName, host, secrets, opts);
  const etcdLocal = model.placementsOn(host).some((p) => p.component === 'etcd');
  return [
    file(host, PATRONI_CONFIG_PATH, renderTemplate('patroni/patroni.yml', context), {
      mode: 0o600,
      owner: 'postgres',
      group: 'postgres',
      secrets: used,
      secretLines: PATRONI_SECRET_LINES,
    }),
    file(host, PATRONI_UNIT_PATH, renderTemplate('patroni/patroni.service', { scope: context.scope, name: host, configPath: PATRONI_CONFIG_PATH, etcdLocal })),
  ];
}

export interface MemberPlan {
  /** Configuration files that differ from the host's. */
  files: FileStep[];
  unitChanged: boolean;
  /** Patroni is not running here and must be started. */
  start: boolean;
  /** A new member: its data (and WAL) directories are created first, where missing. */
  createDataDirs: boolean;
  /** Patroni runs with an outdated patroni.yml: reload it (SIGHUP). */
  reload: boolean;
  /**
   * Patroni runs with an outdated patroni.yml but cannot reach its own PostgreSQL (state
   * "unknown", e.g. stale credentials): it cannot apply a reload, so restart it.
   */
  restart: boolean;
  /** Patroni runs but would not start at boot. */
  enable: boolean;
}

/** What one member needs, from its facts. */
export function planPatroniMember(model: DesiredState, clusterName: string, host: string, secrets: InventorySecrets, facts: PatroniMemberFacts): MemberPlan {
  const files = patroniFiles(model, clusterName, host, secrets).filter((f) => !fileMatches(facts.files.get(f.path), f));
  const running = facts.service?.active === 'active';
  const configChanged = files.some((f) => f.path === PATRONI_CONFIG_PATH);
  // Patroni reads how it reaches etcd (scheme, certificates) only at start: in the conversion pass
  // that moves it to TLS, a member restarts (paused: PostgreSQL keeps running), also when an
  // earlier run wrote the file and was cut short before the restart.
  const dcsRestart = running && switchesEtcdTransport(model.inventory, clusterName) && (configChanged || facts.configNewer === true);
  // A change confined to `bootstrap:` is written and not reloaded: a running Patroni never
  // reads it again, and each reload makes every member reload PostgreSQL for nothing.
  const config = files.find((f) => f.path === PATRONI_CONFIG_PATH);
  const runtimeChanged = config !== undefined && facts.runtimeDigest !== createHash('sha256').update(withoutBootstrap(config.content)).digest('hex');
  const restart = (running && runtimeChanged && facts.state?.state === 'unknown') || dcsRestart;
  return {
    files,
    unitChanged: files.some((f) => f.path === PATRONI_UNIT_PATH),
    start: !running,
    createDataDirs: !running && !facts.hasData,
    reload: running && runtimeChanged && !restart,
    restart,
    enable: running && facts.service?.enabled !== 'enabled',
  };
}

/**
 * Creates a directory for PostgreSQL where it is missing: each missing component is made and
 * owned by postgres; directories that already exist keep their owner and mode (a data_dir
 * under /srv never changes /srv). The last one gets mode 0700, as PostgreSQL requires.
 */
const CREATE_DIRS = [
  'set -e',
  'for d in "$@"; do',
  '  missing=""; p="$d"',
  '  while [ ! -e "$p" ]; do missing="$p${missing:+ $missing}"; p=$(dirname "$p"); done',
  '  for m in $missing; do mkdir -m 0750 -- "$m"; chown postgres:postgres -- "$m"; done',
  '  [ -z "$missing" ] || chmod 0700 -- "$d"',
  'done',
].join('\n');

/** The steps of a member plan, in order: files, daemon-reload, data directories, start or reload. */
export function memberSteps(model: DesiredState, clusterName: string, host: string, plan: MemberPlan): PlanItem[] {
  const pg = model.inventory.clusters[clusterName]!.postgres;
  const items: PlanItem[] = [...plan.files];
  if (plan.unitChanged) items.push(exec(host, 'systemctl daemon-reload', ['systemctl', 'daemon-reload']));
  if (plan.createDataDirs) {
    const dirs = [pg.data_dir, ...(pg.wal_dir ? [pg.wal_dir] : [])];
    items.push(exec(host, `create ${dirs.join(' and ')} where missing`, ['sh', '-c', CREATE_DIRS, 'sh', ...dirs]));
  }
  if (plan.start) items.push(service(host, 'patroni', 'started', true));
  else if (plan.reload) items.push(service(host, 'patroni', 'reloaded'));
  else if (plan.restart) items.push(service(host, 'patroni', 'restarted'));
  if (plan.enable) items.push(exec(host, 'enable patroni', ['systemctl', 'enable', '--quiet', 'patroni.service']));
  if (items.length === 0) items.push(noop(host, 'patroni running, configuration unchanged'));
  return items;
}
