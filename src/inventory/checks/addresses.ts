import { isIP } from 'node:net';
import { addressIdentity } from '../address-identity.js';
import { listNames } from '../issues.js';
import { allPlacements } from '../../model/model.js';
import type { CheckContext } from './context.js';

/**
 * Host addresses are distinct, however they are spelled; a VIP is nobody's address and its
 * VRRP router id is its own.
 */
export function checkAddresses(ctx: CheckContext): void {
  const { inventory } = ctx;
  const hostByAddress = new Map<string, string>();
  /** `pg1`, or `pg1 (as 2001:db8::11)` when the other host spells the same address differently. */
  const ownerOf = (address: string): string | undefined => {
    const owner = hostByAddress.get(addressIdentity(address));
    if (owner === undefined) return undefined;
    const written = inventory.hosts[owner]?.address;
    return written === address ? owner : `${owner} (written ${written})`;
  };
  for (const [name, host] of Object.entries(inventory.hosts)) {
    const other = ownerOf(host.address);
    if (other !== undefined) {
      ctx.error(['hosts', name, 'address'], `${host.address} is already the address of host ${other}: each host needs an address of its own`);
    } else hostByAddress.set(addressIdentity(host.address), name);
  }

  const seen: { name: string; address: string; routerId: number; hosts: string[]; datacenters: Set<string> }[] = [];
  const keepalived = allPlacements(inventory).filter((p) => p.component === 'keepalived');
  const vipHosts = (cluster: string) => keepalived.filter((p) => p.of === cluster).map((p) => p.host);
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    const vip = cluster.vip;
    if (!vip) continue;
    const base = ['clusters', name, 'vip'];
    const owner = ownerOf(vip.address);
    if (owner !== undefined) {
      ctx.error([...base, 'address'], `${vip.address} is the address of host ${owner}: the VIP must be an unused address in the hosts' subnet`);
    }
    if (isIP(vip.address) === 4 && vip.prefix > 32) {
      ctx.error([...base, 'prefix'], `${vip.prefix} is too long for an IPv4 address (at most 32)`);
    }
    const hosts = vipHosts(name);
    const datacenters = new Set(hosts.map((h) => inventory.hosts[h]?.datacenter).filter((dc): dc is string => dc !== undefined));
    for (const other of seen) {
      if (other.address === addressIdentity(vip.address)) {
        ctx.error([...base, 'address'], `${vip.address} is already the VIP of cluster ${other.name}: each cluster needs a VIP of its own`);
      }
      if (other.routerId !== vip.router_id) continue;
      const shared = hosts.filter((h) => other.hosts.includes(h));
      if (shared.length > 0) {
        ctx.error(
          [...base, 'router_id'],
          `${vip.router_id} is already the router_id of cluster ${other.name}'s VIP on ${listNames(shared)}: keepalived needs a distinct router_id per VIP on a host`,
        );
      } else if ([...datacenters].some((dc) => other.datacenters.has(dc))) {
        ctx.warn(
          [...base, 'router_id'],
          `${vip.router_id} is also the router_id of cluster ${other.name}'s VIP in the same datacenter: if both VIPs share a network segment, VRRP mixes them up; pick another router_id`,
        );
      }
    }
    seen.push({ name, address: addressIdentity(vip.address), routerId: vip.router_id, hosts, datacenters });
  }
}
