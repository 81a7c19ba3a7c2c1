import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';

export const KEEPALIVED_CONFIG_PATH = '/etc/keepalived/keepalived.conf';

export interface KeepalivedContext {
  routerId: string;
  /** Some instance follows HAProxy: the haproxy check script is defined. */
  tracksHaproxy: boolean;
  instances: {
    name: string;
    interface: string;
    routerId: number;
    priority: number;
    sourceAddress: string;
    peers: string[];
    vip: string;
    /** The script that must succeed for this host to hold the VIP. */
    trackScript: string;
  }[];
  /** Per-cluster checks for VIPs that follow the Patroni leader (no HAProxy in front). */
  leaderChecks: { name: string; url: string }[];
}

/**
 * keepalived.conf for one host: a VRRP instance per VIP it may hold. In front of HAProxy the
 * VIP lives on a host whose HAProxy runs; without HAProxy it follows the Patroni leader (the
 * member whose REST API answers 200 on /primary, or /standby-leader in a standby cluster).
 */
export function keepalivedContext(model: DesiredState, host: string): KeepalivedContext {
  const { inventory } = model;
  const placements = model.placementsOn(host).filter((p) => p.component === 'keepalived');
  const leaderChecks: KeepalivedContext['leaderChecks'] = [];
  const instances = placements.map((p) => {
    const c = inventory.clusters[p.of]!;
    const vip = c.vip!;
    const peers = model.hostsOf('keepalived', p.of);
    let trackScript = 'check_haproxy';
    if (!c.haproxy) {
      trackScript = `check_${p.of.replace(/-/g, '_')}_leader`;
      leaderChecks.push({ name: trackScript, url: `http://127.0.0.1:${c.patroni.rest_api_port}/${c.standby ? 'standby-leader' : 'primary'}` });
    }
    return {
      name: `hapg_${p.of}`,
      interface: vip.interface,
      routerId: vip.router_id,
      // In front of HAProxy the first host is preferred; nopreempt keeps the VIP where it is after a failure.
      priority: 150 - peers.indexOf(host),
      sourceAddress: addressOf(inventory, host),
      peers: peers.filter((h) => h !== host).map((h) => addressOf(inventory, h)),
      vip: `${vip.address}/${vip.prefix}`,
      trackScript,
    };
  });
  return { routerId: host, tracksHaproxy: instances.some((i) => i.trackScript === 'check_haproxy'), instances, leaderChecks };
}
