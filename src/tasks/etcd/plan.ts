import { fileMatches, type RemoteFileState } from '../../facts/files.js';
import type { ServiceState } from '../../facts/services.js';
import type { Inventory } from '../../inventory/schema.js';
import { renderTemplate } from '../../render/templates.js';
import { file, type PlanItem } from '../../run/steps.js';
import { planServiceState } from '../service-plan.js';
import { ETCD_ENV_PATH, etcdContext } from './context.js';

export interface EtcdMemberFacts {
  envFile: RemoteFileState | null | undefined;
  service: ServiceState | undefined;
}

/** The rendered environment file of one etcd member. */
export function etcdEnvFile(inventory: Inventory, etcdName: string, host: string) {
  return file(host, ETCD_ENV_PATH, renderTemplate('etcd/etcd.env', etcdContext(inventory, etcdName, host)), {
    title: `write ${ETCD_ENV_PATH}`,
  });
}

/**
 * Steps for one etcd member: its configuration, then start it (all members of a new cluster
 * start together) or restart it when its configuration changed (one member at a time).
 */
export function planEtcdMember(inventory: Inventory, etcdName: string, host: string, facts: EtcdMemberFacts): PlanItem[] {
  const env = etcdEnvFile(inventory, etcdName, host);
  const changed = fileMatches(facts.envFile, env) ? [] : [env];
  return [...changed, ...planServiceState(host, 'etcd', facts.service, changed, 'restart')];
}
