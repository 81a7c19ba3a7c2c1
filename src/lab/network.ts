import { HapgError } from '../errors.js';
import { networksOverlap, type LabSubnet } from './layout.js';
import { runLocal } from './local.js';
import { BRIDGE_NAME, NETNS_PREFIX, VETH_PREFIX, netnsName, vethName } from './paths.js';

interface IpAddrInfo {
  ifname: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

interface IpRoute {
  dst: string;
  dev?: string;
}

interface IpLink {
  ifname: string;
  master?: string;
  operstate?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { state?: string } };
}

async function ipJson<T>(args: string[]): Promise<T[]> {
  const { stdout } = await runLocal('ip', ['-j', ...args], { what: 'reading network state' });
  return stdout.trim() ? (JSON.parse(stdout) as T[]) : [];
}

/**
 * Refuses a subnet that overlaps any address or route of the machine outside the lab
 * bridge: the lab must never capture traffic meant for a real network.
 */
export async function assertSubnetIsFree(subnet: LabSubnet): Promise<void> {
  const lab = { address: `${subnet.prefix}.0`, prefixLength: 24 };
  for (const link of await ipJson<IpAddrInfo>(['-4', 'addr', 'show'])) {
    if (link.ifname === BRIDGE_NAME) continue;
    for (const a of link.addr_info ?? []) {
      if (a.local && a.prefixlen !== undefined && networksOverlap(lab, { address: a.local, prefixLength: a.prefixlen })) {
        throw new HapgError('LAB', `subnet ${subnet.cidr} overlaps ${a.local}/${a.prefixlen} on ${link.ifname}`, {
          hint: 'pick another private /24 with --subnet',
        });
      }
    }
  }
  for (const route of await ipJson<IpRoute>(['-4', 'route', 'show', 'table', 'main'])) {
    if (route.dst === 'default' || route.dev === BRIDGE_NAME) continue;
    const [address, len] = route.dst.split('/');
    if (address && networksOverlap(lab, { address, prefixLength: len === undefined ? 32 : Number(len) })) {
      throw new HapgError('LAB', `subnet ${subnet.cidr} overlaps the route ${route.dst}${route.dev ? ` on ${route.dev}` : ''}`, {
        hint: 'pick another private /24 with --subnet',
      });
    }
  }
}

/** A fixed, locally administered MAC so ARP caches survive re-creating links. */
function labMac(subnet: LabSubnet, lastOctet: number): string {
  const third = Number(subnet.prefix.split('.')[2]);
  return ['02', '68', '70', '67', hex(third), hex(lastOctet)].join(':');
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export async function linkExists(name: string): Promise<boolean> {
  const { exitCode } = await runLocal('ip', ['link', 'show', 'dev', name], { allowFailure: true });
  return exitCode === 0;
}

/** Creates the lab bridge with its address (or fixes the address); the hosts' only link. */
export async function ensureBridge(subnet: LabSubnet, bridgeAddress: string): Promise<void> {
  if (!(await linkExists(BRIDGE_NAME))) {
    await runLocal('ip', ['link', 'add', BRIDGE_NAME, 'address', labMac(subnet, 1), 'type', 'bridge', 'stp_state', '0'], {
      what: 'creating the lab bridge',
    });
  }
  const [link] = await ipJson<IpAddrInfo>(['-4', 'addr', 'show', 'dev', BRIDGE_NAME]);
  const addresses = (link?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
  if (addresses.length !== 1 || addresses[0] !== `${bridgeAddress}/24`) {
    await runLocal('ip', ['addr', 'flush', 'dev', BRIDGE_NAME], { what: 'configuring the lab bridge' });
    await runLocal('ip', ['addr', 'add', `${bridgeAddress}/24`, 'dev', BRIDGE_NAME], { what: 'configuring the lab bridge' });
  }
  await runLocal('ip', ['link', 'set', 'dev', BRIDGE_NAME, 'up'], { what: 'configuring the lab bridge' });
}

/** The host's own network namespace with eth0 (its address) joined to the bridge by a veth. */
export async function createHostNetwork(host: string, address: string, subnet: LabSubnet): Promise<void> {
  const ns = netnsName(host);
  const veth = vethName(host);
  const what = `creating the network of ${host}`;
  const lastOctet = Number(address.split('.')[3]);
  await runLocal('ip', ['netns', 'add', ns], { what });
  await runLocal('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'address', labMac(subnet, lastOctet), 'netns', ns], { what });
  await runLocal('ip', ['link', 'set', 'dev', veth, 'master', BRIDGE_NAME, 'up'], { what });
  await runLocal('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up'], { what });
  await runLocal('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'], { what });
  await runLocal('ip', ['-n', ns, 'link', 'set', 'dev', 'eth0', 'up'], { what });
}

/** True when the host's namespace, veth (on the bridge) and address are all in place. */
export async function hostNetworkIsIntact(host: string, address: string): Promise<boolean> {
  const veth = await ipJson<IpLink>(['link', 'show', 'dev', vethName(host)]).catch(() => []);
  if (veth[0]?.master !== BRIDGE_NAME) return false;
  const { exitCode, stdout } = await runLocal('ip', ['-n', netnsName(host), '-j', '-4', 'addr', 'show', 'dev', 'eth0'], { allowFailure: true });
  if (exitCode !== 0 || !stdout.trim()) return false;
  const info = JSON.parse(stdout) as IpAddrInfo[];
  return (info[0]?.addr_info ?? []).some((a) => a.local === address);
}

/** Deletes one host's veth and namespace; absent objects are fine. */
export async function removeHostNetwork(host: string): Promise<void> {
  await deleteLink(vethName(host));
  await deleteNetns(netnsName(host));
}

export async function deleteLink(name: string): Promise<void> {
  if (await linkExists(name)) await runLocal('ip', ['link', 'del', 'dev', name], { what: `deleting ${name}` });
}

export async function deleteNetns(name: string): Promise<void> {
  const names = await listNetns();
  if (names.includes(name)) await runLocal('ip', ['netns', 'del', name], { what: `deleting network namespace ${name}` });
}

async function listNetns(): Promise<string[]> {
  const { stdout } = await runLocal('ip', ['-j', 'netns', 'list'], { what: 'listing network namespaces' });
  return stdout.trim() ? (JSON.parse(stdout) as { name: string }[]).map((n) => n.name) : [];
}

/** Lab namespaces and links present in the kernel, whatever the state file says. */
export async function listLabNetworkObjects(): Promise<{ netns: string[]; veths: string[]; bridge: boolean }> {
  const netns = (await listNetns()).filter((n) => n.startsWith(NETNS_PREFIX));
  const links = await ipJson<IpLink>(['link', 'show']);
  const veths = links.map((l) => l.ifname.split('@')[0] ?? '').filter((n) => n !== BRIDGE_NAME && new RegExp(`^${VETH_PREFIX}pg\\d+$`).test(n));
  return { netns, veths, bridge: links.some((l) => l.ifname === BRIDGE_NAME) };
}

/**
 * Cuts (or restores) a host's network at its bridge port. The host keeps its carrier, as in
 * a real partition: frames are dropped at the switch, nothing changes inside the host.
 */
export async function setHostIsolated(host: string, isolated: boolean): Promise<void> {
  const state = isolated ? '0' : '3'; // bridge port state: 0 disabled, 3 forwarding
  await runLocal('bridge', ['link', 'set', 'dev', vethName(host), 'state', state], {
    what: `${isolated ? 'isolating' : 'healing'} ${host}`,
  });
}

/** Whether the host's bridge port drops its frames. */
export async function hostIsIsolated(host: string): Promise<boolean> {
  const [link] = await ipJson<IpLink>(['-d', 'link', 'show', 'dev', vethName(host)]).catch(() => []);
  const state = link?.linkinfo?.info_slave_data?.state;
  return state !== undefined && state !== 'forwarding';
}
