import { createHash } from 'node:crypto';
import { HapgError } from '../errors.js';
import { DEFAULT_LAB } from './paths.js';

/** The default lab's subnet; other labs get another 10.213.x.0/24 (see candidateSubnets). */
export const DEFAULT_SUBNET = '10.213.77.0/24';
/** Hosts take .11–.58, below the VIPs (.100 on). */
export const MAX_HOSTS = 48;
/** Hosts get .11, .12, …; the bridge is .1; cluster VIPs start at .100. */
const FIRST_HOST_OCTET = 11;
const BRIDGE_OCTET = 1;
const VIP_OCTET = 100;

/** A lab /24: the first three octets. */
export interface LabSubnet {
  cidr: string;
  prefix: string;
}

export interface LabHost {
  name: string;
  address: string;
  datacenter: string;
}

/** Everything derived from `--hosts`, `--datacenters` and `--subnet`. */
export interface LabLayout {
  subnet: LabSubnet;
  bridgeAddress: string;
  hosts: LabHost[];
  datacenters: number;
  /** VIP of cluster `main` (dc1); `standby` (dc2) gets the next address. */
  vips: string[];
}

/** Accepts only a private /24 given by its network address (e.g. 10.213.77.0/24). */
export function parseSubnet(cidr: string): LabSubnet {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(cidr.trim());
  const octets = m ? [m[1], m[2], m[3]].map(Number) : [];
  const [a, b, c] = octets as [number, number, number];
  if (!m || octets.some((o) => o > 255)) {
    throw new HapgError('USAGE', `--subnet "${cidr}": expected a /24 network address like ${DEFAULT_SUBNET}`);
  }
  const isPrivate = a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  if (!isPrivate) {
    throw new HapgError('USAGE', `--subnet "${cidr}" is not a private range (10/8, 172.16/12, 192.168/16)`, {
      hint: 'the lab never routes to public addresses',
    });
  }
  return { cidr: `${a}.${b}.${c}.0/24`, prefix: `${a}.${b}.${c}` };
}

/** Checks --hosts and --datacenters (before a lab command spends time on anything else). */
export function assertHostCounts(opts: { hosts: number; datacenters: number }): void {
  const { hosts: count, datacenters } = opts;
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) {
    throw new HapgError('USAGE', `--hosts ${count}: expected a whole number from 1 to ${MAX_HOSTS}`);
  }
  if (datacenters !== 1 && datacenters !== 2) {
    throw new HapgError('USAGE', `--datacenters ${datacenters}: expected 1 or 2`);
  }
  if (datacenters === 2 && count < 2) {
    throw new HapgError('USAGE', '--datacenters 2 needs at least 2 hosts');
  }
}

/** Splits N hosts over datacenters: dc1 gets the first ceil(N/2) when there are two. */
export function planLayout(opts: { hosts: number; datacenters: number; subnet: string }): LabLayout {
  const { hosts: count, datacenters } = opts;
  assertHostCounts(opts);
  const subnet = parseSubnet(opts.subnet);
  const inDc1 = datacenters === 2 ? Math.ceil(count / 2) : count;
  const hosts = Array.from({ length: count }, (_, i) => ({
    name: `pg${i + 1}`,
    address: `${subnet.prefix}.${FIRST_HOST_OCTET + i}`,
    datacenter: i < inDc1 ? 'dc1' : 'dc2',
  }));
  const vips = Array.from({ length: datacenters }, (_, i) => `${subnet.prefix}.${VIP_OCTET + i}`);
  return { subnet, bridgeAddress: `${subnet.prefix}.${BRIDGE_OCTET}`, hosts, datacenters, vips };
}

/** Third octets a named lab's 10.213.x.0/24 may take (77 is the default lab's). */
const NAMED_LAB_OCTETS = { first: 78, count: 170 };

/**
 * The subnets lab NAME tries, in order, when --subnet is not given: the default lab has
 * 10.213.77.0/24 only; any other name starts at a 10.213.x.0/24 derived from its hash (so
 * the same name gets the same subnet on every machine where it is free) and walks on from
 * there; the caller takes the first one that is free.
 */
export function candidateSubnets(lab: string): string[] {
  if (lab === DEFAULT_LAB) return [DEFAULT_SUBNET];
  const start = createHash('sha256').update(lab).digest().readUInt32BE(0) % NAMED_LAB_OCTETS.count;
  return Array.from({ length: NAMED_LAB_OCTETS.count }, (_, i) => `10.213.${NAMED_LAB_OCTETS.first + ((start + i) % NAMED_LAB_OCTETS.count)}.0/24`);
}

/** IPv4 to a 32-bit number (for overlap checks). */
export function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** True when two IPv4 networks share any address. */
export function networksOverlap(a: { address: string; prefixLength: number }, b: { address: string; prefixLength: number }): boolean {
  const len = Math.min(a.prefixLength, b.prefixLength);
  if (len === 0) return true;
  const mask = len === 32 ? 0xffffffff : (~(0xffffffff >>> len)) >>> 0;
  return ((ipv4ToNumber(a.address) & mask) >>> 0) === ((ipv4ToNumber(b.address) & mask) >>> 0);
}
