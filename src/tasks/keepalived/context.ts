import { isIP } from 'node:net';
import { clusterSecretKey, requireSecret, type InventorySecrets } from '../../inventory/secrets.js';
import type { DesiredState } from '../../model/model.js';
import { addressOf, hostPort } from '../../model/topology.js';
import type { Secret } from '../../secret.js';
import { CA_BUNDLE_PATH, clusterMode } from '../tls/model.js';

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
    /** VRRP PASS authentication: keepalived reads the first 8 characters. */
    authPass: string;
  }[];
  /** Per-cluster checks for VIPs that follow the Patroni leader (no HAProxy in front). */
  leaderChecks: { name: string; url: string; curlTls: string }[];
}

/** Lines of keepalived.conf whose value is a secret: masked by position in plans. */
export const KEEPALIVED_SECRET_LINES = /^(\s*auth_pass\s+)(.*)$/;

/** The VRRP password of a cluster's VIP as keepalived uses it (its first 8 characters). */
export function vrrpPassword(secrets: InventorySecrets, cluster: string): string {
  return requireSecret(secrets, clusterSecretKey(cluster, 'vrrp')).reveal().slice(0, 8);
}

/**
 * keepalived.conf for one host: a VRRP instance per VIP it may hold. In front of HAProxy the
 * VIP lives on a host whose HAProxy runs; without HAProxy it follows the Patroni leader (the
 * member whose REST API answers 200 on /primary, or /standby-leader in a standby cluster).
 * Adverts are authenticated and unicast; `resolved` maps host names given as DNS names to the
 * address the host resolves them to (keepalived wants addresses).
 */
export function keepalivedContext(model: DesiredState, host: string, secrets: InventorySecrets, resolved: ReadonlyMap<string, string> = new Map()): { context: KeepalivedContext; secrets: Secret[] } {
  const { inventory } = model;
  const used: Secret[] = [];
  const ip = (h: string) => {
    const address = addressOf(inventory, h);
    return isIP(address) ? address : (resolved.get(address) ?? address);
  };
  const placements = model.placementsOn(host).filter((p) => p.component === 'keepalived');
  const leaderChecks: KeepalivedContext['leaderChecks'] = [];
  const instances = placements.map((p) => {
    const c = inventory.clusters[p.of]!;
    const vip = c.vip!;
    const peers = model.hostsOf('keepalived', p.of);
    let trackScript = 'check_haproxy';
    if (!c.haproxy) {
      trackScript = `check_${p.of.replace(/-/g, '_')}_leader`;
      // Patroni's REST API listens on the member's own address.
      const secure = clusterMode(inventory, p.of) === 'tls';
      leaderChecks.push({
        name: trackScript,
        url: `${secure ? 'https' : 'http'}://${hostPort(addressOf(inventory, host), c.patroni.rest_api_port)}/${c.standby ? 'standby-leader' : 'primary'}`,
        curlTls: secure ? ` --cacert ${CA_BUNDLE_PATH}` : '',
      });
    }
    return {
      name: `hapg_${p.of}`,
      interface: vip.interface,
      routerId: vip.router_id,
      // In front of HAProxy the first host is preferred; nopreempt keeps the VIP where it is after a failure.
      priority: 150 - peers.indexOf(host),
      sourceAddress: ip(host),
      peers: peers.filter((h) => h !== host).map(ip),
      vip: `${vip.address}/${vip.prefix}`,
      trackScript,
      authPass: vrrpPassword(secrets, p.of),
    };
  });
  for (const p of placements) used.push(requireSecret(secrets, clusterSecretKey(p.of, 'vrrp')));
  return { context: { routerId: host, tracksHaproxy: instances.some((i) => i.trackScript === 'check_haproxy'), instances, leaderChecks }, secrets: used };
}
