import { fileMatches, type RemoteFileState } from '../../facts/files.js';
import type { ServiceState } from '../../facts/services.js';
import type { Inventory } from '../../inventory/schema.js';
import { renderTemplate } from '../../render/templates.js';
import { exec, file, noop, service, type PlanItem } from '../../run/steps.js';
import { ETCD_ENV_PATH, etcdContext, parseInitialCluster, type EtcdInitialCluster } from './context.js';

export interface EtcdMemberFacts {
  envFile: RemoteFileState | null | undefined;
  /** The environment file's content ('' when absent). */
  envContent: string;
  service: ServiceState | undefined;
  /** Its data directory holds a member: it has started before, and ignores the first-start lines. */
  hasData: boolean;
}

/** The rendered environment file of one etcd member (`initial`: how it first starts; default the inventory's bootstrap). */
export function etcdEnvFile(inventory: Inventory, etcdName: string, host: string, initial?: EtcdInitialCluster) {
  return file(host, ETCD_ENV_PATH, renderTemplate('etcd/etcd.env', etcdContext(inventory, etcdName, host, initial)), {
    title: `write ${ETCD_ENV_PATH}`,
  });
}

const FIRST_START_ONLY = /^ETCD_INITIAL_CLUSTER(_STATE)?=/;

/**
 * The settings a running member depends on: the file's lines without comments and without the
 * lines etcd reads only at a first start. Only a change here needs a restart.
 */
export function runtimeSettings(envFile: string): string {
  return envFile
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !FIRST_START_ONLY.test(l))
    .join('\n');
}

/**
 * Steps for one etcd member that belongs to the cluster: its configuration, then start it (all
 * members of a new cluster start together) or restart it when a setting it runs with changed
 * (one member at a time). A member with data keeps the first-start lines its file has, so a
 * membership change rewrites no running member's file and restarts nobody.
 */
export function planEtcdMember(inventory: Inventory, etcdName: string, host: string, facts: EtcdMemberFacts, initial?: EtcdInitialCluster): PlanItem[] {
  const kept = facts.hasData ? parseInitialCluster(facts.envContent) : undefined;
  const env = etcdEnvFile(inventory, etcdName, host, kept ?? initial);
  const changed = !fileMatches(facts.envFile, env);
  const running = facts.service?.active === 'active';
  const enabled = facts.service?.enabled === 'enabled';
  const items: PlanItem[] = changed ? [env] : [];
  if (!running) items.push(service(host, 'etcd', 'started', true));
  else if (changed && runtimeSettings(facts.envContent) !== runtimeSettings(env.content)) items.push(service(host, 'etcd', 'restarted', enabled ? undefined : true));
  else if (!enabled) items.push(exec(host, 'enable etcd', ['systemctl', 'enable', '--quiet', 'etcd.service']));
  if (items.length === 0) items.push(noop(host, 'etcd running, configuration unchanged'));
  return items;
}
