import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { DEFAULT_SUBNET, MAX_HOSTS, networksOverlap, parseSubnet, planLayout } from '../../src/lab/layout.js';
import { labPaths } from '../../src/lab/paths.js';

describe('planLayout', () => {
  it('puts the bridge at .1, hosts from .11 and the VIP at .100', () => {
    const layout = planLayout({ hosts: 3, datacenters: 1, subnet: DEFAULT_SUBNET });
    expect(layout.bridgeAddress).toBe('10.213.77.1');
    expect(layout.hosts).toEqual([
      { name: 'pg1', address: '10.213.77.11', datacenter: 'dc1' },
      { name: 'pg2', address: '10.213.77.12', datacenter: 'dc1' },
      { name: 'pg3', address: '10.213.77.13', datacenter: 'dc1' },
    ]);
    expect(layout.vips).toEqual(['10.213.77.100']);
  });

  it(`fits ${MAX_HOSTS} hosts in .11–.50, below the VIPs`, () => {
    expect(MAX_HOSTS).toBe(40);
    const layout = planLayout({ hosts: MAX_HOSTS, datacenters: 2, subnet: DEFAULT_SUBNET });
    expect(layout.hosts.at(0)).toEqual({ name: 'pg1', address: '10.213.77.11', datacenter: 'dc1' });
    expect(layout.hosts.at(-1)).toEqual({ name: 'pg40', address: '10.213.77.50', datacenter: 'dc2' });
    expect(layout.vips).toEqual(['10.213.77.100', '10.213.77.101']);
  });

  it.each([
    [2, ['dc1', 'dc2']],
    [3, ['dc1', 'dc1', 'dc2']],
    [5, ['dc1', 'dc1', 'dc1', 'dc2', 'dc2']],
    [6, ['dc1', 'dc1', 'dc1', 'dc2', 'dc2', 'dc2']],
  ])('splits %i hosts over two datacenters, dc1 first', (hosts, expected) => {
    const layout = planLayout({ hosts, datacenters: 2, subnet: '192.168.40.0/24' });
    expect(layout.hosts.map((h) => h.datacenter)).toEqual(expected);
    expect(layout.vips).toEqual(['192.168.40.100', '192.168.40.101']);
  });

  it.each([
    [{ hosts: 0, datacenters: 1 }, /--hosts 0/],
    [{ hosts: 41, datacenters: 1 }, /--hosts 41/],
    [{ hosts: 2.5, datacenters: 1 }, /--hosts 2.5/],
    [{ hosts: 3, datacenters: 3 }, /--datacenters 3/],
    [{ hosts: 1, datacenters: 2 }, /at least 2 hosts/],
  ])('rejects %o as a usage error', (opts, message) => {
    expect(() => planLayout({ ...opts, subnet: DEFAULT_SUBNET })).toThrow(message);
    try {
      planLayout({ ...opts, subnet: DEFAULT_SUBNET });
    } catch (err) {
      expect((err as HapgError).code).toBe('USAGE');
    }
  });
});

describe('parseSubnet', () => {
  it('accepts private /24 networks', () => {
    expect(parseSubnet('10.213.77.0/24')).toEqual({ cidr: '10.213.77.0/24', prefix: '10.213.77' });
    expect(parseSubnet('172.20.1.0/24').prefix).toBe('172.20.1');
    expect(parseSubnet(' 192.168.9.0/24 ').prefix).toBe('192.168.9');
  });

  it.each(['10.0.0.0/16', '10.213.77.5/24', '10.300.1.0/24', 'lab', '8.8.8.0/24', '172.32.0.0/24', '192.0.2.0/24'])('rejects %s', (cidr) => {
    expect(() => parseSubnet(cidr)).toThrow(HapgError);
  });
});

describe('networksOverlap', () => {
  it.each([
    ['10.213.77.0', 24, '10.213.77.9', 32, true],
    ['10.213.77.0', 24, '10.0.0.0', 8, true],
    ['10.213.77.0', 24, '10.213.78.0', 24, false],
    ['10.213.77.0', 24, '0.0.0.0', 0, true],
    ['192.168.1.0', 24, '192.168.0.0', 23, true],
    ['192.168.2.0', 24, '192.168.0.0', 23, false],
  ])('%s/%i vs %s/%i → %s', (a, la, b, lb, expected) => {
    expect(networksOverlap({ address: a, prefixLength: la }, { address: b, prefixLength: lb })).toBe(expected);
  });
});

describe('labPaths', () => {
  it('defaults to /var/cache/hapg/lab and /var/lib/hapg/lab', () => {
    const paths = labPaths({});
    expect(paths.cacheDir).toBe('/var/cache/hapg/lab');
    expect(paths.stateDir).toBe('/var/lib/hapg/lab');
    expect(paths.labKey).toBe('/var/cache/hapg/lab/id_ed25519');
    expect(paths.knownHosts).toBe('/var/lib/hapg/lab/known_hosts');
  });

  it('honours HAPG_LAB_CACHE and HAPG_LAB_STATE', () => {
    const paths = labPaths({ HAPG_LAB_CACHE: '/srv/cache', HAPG_LAB_STATE: '/srv/state' });
    expect(paths.labKey).toBe('/srv/cache/id_ed25519');
    expect(paths.rootfsDir).toBe('/srv/cache/rootfs');
    expect(paths.stateFile).toBe('/srv/state/state.json');
  });
});
