import { isIP } from 'node:net';

/**
 * One spelling per address, to tell when two hosts have the same one: IPv6 lowercase and
 * compressed (2001:DB8:0:0::11 → 2001:db8::11), an IPv4-mapped IPv6 address as its IPv4
 * (::ffff:10.0.0.1 → 10.0.0.1), a DNS name lowercase without its trailing dot. Two DNS names
 * may still resolve to one machine: the preflight checks that on the hosts themselves.
 */
export function addressIdentity(address: string): string {
  const family = isIP(address);
  if (family === 4) return address;
  if (family === 6) {
    let host: string;
    try {
      host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
    } catch {
      return address.toLowerCase(); // a zone (fe80::1%eth0): the schema reports it
    }
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/u.exec(host);
    if (!mapped) return host;
    const high = Number.parseInt(mapped[1] as string, 16);
    const low = Number.parseInt(mapped[2] as string, 16);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return address.toLowerCase().replace(/\.$/u, '');
}
