import { HapgError } from '../errors.js';
import { networksOverlap, type LabSubnet } from './layout.js';
import { runLocal } from './local.js';
import { DEFAULT_LAB, hostOfLabObject, isLabBridgeName, labNames, netnsName, vethName, type LabNames } from './paths.js';

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
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { state?: string } };
}

async function ipJson<T>(args: string[]): Promise<T[]> {
  const { stdout } = await runLocal('ip', ['-j', ...args], { what: 'reading network state' });
  return stdout.trim() ? (JSON.parse(stdout) as T[]) : [];
}

/**
 * Why SUBNET cannot be this lab's, or undefined when it is free: it overlaps an address or
 * route of the machine outside this lab's bridge (another lab's bridge included). The lab
 * must never capture traffic meant for a real network or another lab.
 */
export async function subnetConflict(names: LabNames, subnet: LabSubnet): Promise<string | undefined> {
  const lab = { address: `${subnet.prefix}.0`, prefixLength: 24 };
  for (const link of await ipJson<IpAddrInfo>(['-4', 'addr', 'show'])) {
    if (link.ifname === names.bridge) continue;
    for (const a of link.addr_info ?? []) {
      if (a.local && a.prefixlen !== undefined && networksOverlap(lab, { address: a.local, prefixLength: a.prefixlen })) {
        return `${a.local}/${a.prefixlen} on ${link.ifname}`;
      }
    }
  }
  for (const route of await ipJson<IpRoute>(['-4', 'route', 'show', 'table', 'main'])) {
    if (route.dst === 'default' || route.dev === names.bridge) continue;
    const [address, len] = route.dst.split('/');
    if (address && networksOverlap(lab, { address, prefixLength: len === undefined ? 32 : Number(len) })) {
      return `the route ${route.dst}${route.dev ? ` on ${route.dev}` : ''}`;
    }
  }
  return undefined;
}

/** Refuses a subnet that is not free for this lab (see subnetConflict). */
export async function assertSubnetIsFree(names: LabNames, subnet: LabSubnet): Promise<void> {
  const conflict = await subnetConflict(names, subnet);
  if (conflict) throw new HapgError('LAB', `subnet ${subnet.cidr} overlaps ${conflict}`, { hint: 'pick another private /24 with --subnet' });
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

/** The lab a bridge belongs to, from the alias `lab up` wrote on it (undefined when unmarked). */
function labOfAlias(alias: string | undefined): string | undefined {
  return /^hapg lab (\S+)$/.exec(alias ?? '')?.[1];
}

/**
 * Every lab bridge on the machine with its address and owner, whichever lab (or hapg
 * version) created it: the apt proxy must listen on all of them.
 */
export async function listLabBridges(): Promise<{ bridge: string; address: string | undefined; lab: string | undefined }[]> {
  const links = (await ipJson<IpLink>(['link', 'show'])).filter((l) => isLabBridgeName(l.ifname));
  if (links.length === 0) return [];
  const addresses = await ipJson<IpAddrInfo>(['-4', 'addr', 'show']);
  return links.map((l) => ({
    bridge: l.ifname,
    address: addresses.find((a) => a.ifname === l.ifname)?.addr_info?.find((i) => i.local)?.local,
    lab: labOfAlias(l.ifalias) ?? (l.ifname === labNames(DEFAULT_LAB).bridge ? DEFAULT_LAB : undefined),
  }));
}

/**
 * Refuses to touch a bridge another lab owns: lab names are hashed to 4 hex digits for
 * interface names, so two names can meet on one bridge; then one of them must be renamed.
 */
export async function assertBridgeIsOurs(names: LabNames): Promise<void> {
  const [link] = await ipJson<IpLink>(['link', 'show', 'dev', names.bridge]).catch(() => []);
  const owner = labOfAlias(link?.ifalias);
  if (owner !== undefined && owner !== names.lab) {
    throw new HapgError('LAB', `bridge ${names.bridge} belongs to lab "${owner}", whose name hashes like "${names.lab}"`, {
      hint: `choose another name for this lab, or run \`hapg lab down --lab ${owner}\` first`,
    });
  }
}

/** Creates the lab's bridge with its address and owner alias (or fixes them); the hosts' only link. */
export async function ensureBridge(names: LabNames, subnet: LabSubnet, bridgeAddress: string): Promise<void> {
  const what = `configuring the lab bridge ${names.bridge}`;
  if (!(await linkExists(names.bridge))) {
    await runLocal('ip', ['link', 'add', names.bridge, 'address', labMac(subnet, 1), 'type', 'bridge', 'stp_state', '0'], {
      what: `creating the lab bridge ${names.bridge}`,
    });
  }
  await runLocal('ip', ['link', 'set', 'dev', names.bridge, 'alias', names.bridgeAlias], { what });
  const [link] = await ipJson<IpAddrInfo>(['-4', 'addr', 'show', 'dev', names.bridge]);
  const addresses = (link?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
  if (addresses.length !== 1 || addresses[0] !== `${bridgeAddress}/24`) {
    await runLocal('ip', ['addr', 'flush', 'dev', names.bridge], { what });
    await runLocal('ip', ['addr', 'add', `${bridgeAddress}/24`, 'dev', names.bridge], { what });
  }
  await runLocal('ip', ['link', 'set', 'dev', names.bridge, 'up'], { what });
}

/** The host's own network namespace with eth0 (its address) joined to the bridge by a veth. */
export async function createHostNetwork(names: LabNames, host: string, address: string, subnet: LabSubnet): Promise<void> {
  const ns = netnsName(names, host);
  const veth = vethName(names, host);
  const what = `creating the network of ${host}`;
  const lastOctet = Number(address.split('.')[3]);
  await runLocal('ip', ['netns', 'add', ns], { what });
  await runLocal('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'address', labMac(subnet, lastOctet), 'netns', ns], { what });
  await runLocal('ip', ['link', 'set', 'dev', veth, 'master', names.bridge, 'up'], { what });
  await runLocal('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up'], { what });
  await runLocal('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'], { what });
  await runLocal('ip', ['-n', ns, 'link', 'set', 'dev', 'eth0', 'up'], { what });
  // What a host needs to bind a VIP it does not hold right now. On a real host hapg sets it
  // with sysctl; a container cannot write /proc/sys, so the lab sets it from outside, per host.
  for (const key of ['net.ipv4.ip_nonlocal_bind', 'net.ipv6.ip_nonlocal_bind']) {
    await runLocal('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=1`], { what });
  }
}

/** True when the host's namespace, veth (on the lab's bridge) and address are all in place. */
export async function hostNetworkIsIntact(names: LabNames, host: string, address: string): Promise<boolean> {
  const veth = await ipJson<IpLink>(['link', 'show', 'dev', vethName(names, host)]).catch(() => []);
  if (veth[0]?.master !== names.bridge) return false;
  const { exitCode, stdout } = await runLocal('ip', ['-n', netnsName(names, host), '-j', '-4', 'addr', 'show', 'dev', 'eth0'], { allowFailure: true });
  if (exitCode !== 0 || !stdout.trim()) return false;
  const info = JSON.parse(stdout) as IpAddrInfo[];
  return (info[0]?.addr_info ?? []).some((a) => a.local === address);
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

/** This lab's namespaces and links present in the kernel, whatever the state file says; other labs' are never listed. */
export async function listLabNetworkObjects(names: LabNames): Promise<{ netns: string[]; veths: string[]; bridge: boolean }> {
  const netns = (await listNetns()).filter((n) => hostOfLabObject(names.netnsPrefix, n) !== undefined);
  const links = await ipJson<IpLink>(['link', 'show']);
  const veths = links.map((l) => l.ifname.split('@')[0] ?? '').filter((n) => hostOfLabObject(names.vethPrefix, n) !== undefined);
  return { netns, veths, bridge: links.some((l) => l.ifname === names.bridge) };
}

/**
 * Cuts (or restores) a host's network at its bridge port. The host keeps its carrier, as in
 * a real partition: frames are dropped at the switch, nothing changes inside the host.
 */
export async function setHostIsolated(names: LabNames, host: string, isolated: boolean): Promise<void> {
  const state = isolated ? '0' : '3'; // bridge port state: 0 disabled, 3 forwarding
  await runLocal('bridge', ['link', 'set', 'dev', vethName(names, host), 'state', state], {
    what: `${isolated ? 'isolating' : 'healing'} ${host}`,
  });
}

/** Whether the host's bridge port drops its frames. */
export async function hostIsIsolated(names: LabNames, host: string): Promise<boolean> {
  const [link] = await ipJson<IpLink>(['-d', 'link', 'show', 'dev', vethName(names, host)]).catch(() => []);
  const state = link?.linkinfo?.info_slave_data?.state;
  return state !== undefined && state !== 'forwarding';
}

/** The link-layer address partitioned peers are sent to: no port of the bridge has it, so frames go nowhere. */
const NOWHERE_MAC = '02:00:00:00:00:01';

/**
 * Cuts (or restores) a host's traffic to some peers only, as a partition between datacenters
 * does: the host's neighbour entry for each peer points at a link-layer address nobody has,
 * so packets are silently lost (connections time out) while everyone else stays reachable.
 * Called on both sides, the cut is symmetric.
 */
export async function setPeersCut(names: LabNames, host: string, peerAddresses: readonly string[], cut: boolean): Promise<void> {
  const ns = netnsName(names, host);
  for (const address of peerAddresses) {
    const args = cut ? ['neigh', 'replace', address, 'lladdr', NOWHERE_MAC, 'dev', 'eth0', 'nud', 'permanent'] : ['neigh', 'del', address, 'dev', 'eth0'];
    await runLocal('ip', ['-n', ns, ...args], { what: `${cut ? 'partitioning' : 'healing'} ${host} from ${address}`, allowFailure: !cut });
  }
}

/** The IPv4 addresses a host holds on eth0 now: its own, and any VIP keepalived gave it. */
export async function hostAddresses(names: LabNames, host: string): Promise<string[]> {
  const links = await ipJson<{ addr_info?: { family: string; local: string }[] }>(['-n', netnsName(names, host), 'addr', 'show', 'dev', 'eth0']).catch(() => []);
  return links.flatMap((l) => l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local);
}

/** Addresses a host is cut off from by a partition (see setPeersCut). */
export async function cutPeers(names: LabNames, host: string): Promise<string[]> {
  const { exitCode, stdout } = await runLocal('ip', ['-n', netnsName(names, host), '-j', 'neigh', 'show', 'dev', 'eth0'], { allowFailure: true });
  if (exitCode !== 0) return [];
  const entries = JSON.parse(stdout || '[]') as { dst: string; lladdr?: string }[];
  return entries.filter((e) => e.lladdr === NOWHERE_MAC).map((e) => e.dst).sort();
}
