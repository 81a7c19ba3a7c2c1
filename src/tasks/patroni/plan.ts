import { dirname } from 'node:path';
import { fileMatches, type RemoteFileState } from '../../facts/files.js';
import type { ServiceState } from '../../facts/services.js';
import type { InventorySecrets } from '../../inventory/secrets.js';
import type { Inventory } from '../../inventory/schema.js';
import { patroniContext } from '../../render/patroni-context.js';
import { PATRONI_CONFIG_PATH, PATRONI_UNIT_PATH } from '../../render/roles.js';
import { renderTemplate } from '../../render/templates.js';
import { exec, file, noop, service, type FileStep, type PlanItem } from '../../run/steps.js';
import type { PatroniState } from './rest.js';

export interface PatroniMemberFacts {
  files: ReadonlyMap<string, RemoteFileState | null>;
  service: ServiceState | undefined;
  state: PatroniState | undefined;
  /** The data directory holds a PostgreSQL cluster (PG_VERSION exists). */
  hasData: boolean;
}

/** patroni.yml (mode 0600, owned by postgres: it holds passwords) and the unit of one member. */
export function patroniFiles(inventory: Inventory, clusterName: string, host: string, secrets: InventorySecrets): FileStep[] {
  const { context, secrets: used } = patroniContext(inventory, clusterName, host, secrets);
  const etcdLocal = Object.values(inventory.etcd).some((e) => e.hosts.includes(host));
  return [
    file(host, PATRONI_CONFIG_PATH, renderTemplate('patroni/patroni.yml', context), {
      mode: 0o600,
      owner: 'postgres',
      group: 'postgres',
      secrets: used,
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
  /** The data directory's parent must be created first (a new member). */
  createDataParent: boolean;
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
export function planPatroniMember(
  inventory: Inventory,
  clusterName: string,
  host: string,
  secrets: InventorySecrets,
  facts: PatroniMemberFacts,
): MemberPlan {
  const files = patroniFiles(inventory, clusterName, host, secrets).filter((f) => !fileMatches(facts.files.get(f.path), f));
  const unitChanged = files.some((f) => f.path === PATRONI_UNIT_PATH);
  const running = facts.service?.active === 'active';
  const configChanged = files.some((f) => f.path === PATRONI_CONFIG_PATH);
  return {
    files,
    unitChanged,
    start: !running,
    createDataParent: !running && !facts.hasData,
    reload: running && configChanged && facts.state?.state !== 'unknown',
    restart: running && configChanged && facts.state?.state === 'unknown',
    enable: running && facts.service?.enabled !== 'enabled',
  };
}

/** The steps of a member plan, in order: files, daemon-reload, data parent dir, start or reload. */
export function memberSteps(inventory: Inventory, clusterName: string, host: string, plan: MemberPlan): PlanItem[] {
  const cluster = inventory.clusters[clusterName]!;
  const items: PlanItem[] = [...plan.files];
  if (plan.unitChanged) items.push(exec(host, 'systemctl daemon-reload', ['systemctl', 'daemon-reload']));
  if (plan.createDataParent) {
    const parent = dirname(cluster.postgres.data_dir);
    items.push(exec(host, `create ${parent}`, ['install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0750', parent]));
  }
  if (plan.start) {
    items.push(service(host, 'patroni', 'started', true));
  } else if (plan.reload) {
    items.push(service(host, 'patroni', 'reloaded'));
  } else if (plan.restart) {
    items.push(service(host, 'patroni', 'restarted'));
  }
  if (plan.enable) items.push(exec(host, 'enable patroni', ['systemctl', 'enable', '--quiet', 'patroni.service']));
  if (items.length === 0) items.push(noop(host, `patroni running, configuration unchanged`));
  return items;
}
