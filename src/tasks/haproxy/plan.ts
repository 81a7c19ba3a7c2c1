import { fileMatches, type RemoteFileState } from '../../facts/files.js';
import type { ServiceState } from '../../facts/services.js';
import type { Inventory } from '../../inventory/schema.js';
import { haproxyContext, keepalivedContext } from '../../render/proxy-context.js';
import { HAPROXY_CONFIG_PATH, KEEPALIVED_CONFIG_PATH } from '../../render/roles.js';
import { renderTemplate } from '../../render/templates.js';
import { exec, file, type FileStep, type PlanItem } from '../../run/steps.js';
import { planServiceState } from '../service-plan.js';

export interface ProxyHostFacts {
  files: ReadonlyMap<string, RemoteFileState | null>;
  services: ReadonlyMap<string, ServiceState>;
}

/** Hosts that run HAProxy for some cluster; those of them that also carry a VIP run keepalived. */
export function proxyHosts(inventory: Inventory): { haproxy: string[]; keepalived: string[] } {
  const haproxy = new Set<string>();
  const keepalived = new Set<string>();
  for (const cluster of Object.values(inventory.clusters)) {
    for (const host of cluster.haproxy?.hosts ?? []) {
      haproxy.add(host);
      if (cluster.vip) keepalived.add(host);
    }
  }
  return { haproxy: [...haproxy].sort(), keepalived: [...keepalived].sort() };
}

export function haproxyFile(inventory: Inventory, host: string): FileStep {
  return file(host, HAPROXY_CONFIG_PATH, renderTemplate('haproxy/haproxy.cfg', haproxyContext(inventory, host)));
}

export function keepalivedFile(inventory: Inventory, host: string): FileStep {
  return file(host, KEEPALIVED_CONFIG_PATH, renderTemplate('keepalived/keepalived.conf', keepalivedContext(inventory, host)));
}

/**
 * HAProxy: a changed configuration is checked with `haproxy -c` before it is written,
 * then applied by a reload (the master process hands listeners over: established sessions
 * stay up). keepalived: started, or reloaded on change.
 */
export function planProxyHost(inventory: Inventory, host: string, facts: ProxyHostFacts): PlanItem[] {
  const { keepalived } = proxyHosts(inventory);
  const items: PlanItem[] = [];
  const haproxyCfg = haproxyFile(inventory, host);
  const haproxyChanged = fileMatches(facts.files.get(haproxyCfg.path), haproxyCfg) ? [] : [haproxyCfg];
  if (haproxyChanged.length > 0) {
    // Checked before it replaces the running configuration: a bad file never lands.
    items.push(exec(host, 'check the new haproxy.cfg', ['haproxy', '-c', '-q', '-f', '/dev/stdin'], { stdin: haproxyCfg.content }));
  }
  items.push(...haproxyChanged);
  items.push(...planServiceState(host, 'haproxy', facts.services.get('haproxy'), haproxyChanged, 'reload'));
  if (keepalived.includes(host)) {
    const keepalivedCfg = keepalivedFile(inventory, host);
    const changed = fileMatches(facts.files.get(keepalivedCfg.path), keepalivedCfg) ? [] : [keepalivedCfg];
    items.push(...changed, ...planServiceState(host, 'keepalived', facts.services.get('keepalived'), changed, 'reload'));
  }
  return items;
}
