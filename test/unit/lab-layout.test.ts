import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { candidateSubnets, DEFAULT_SUBNET, MAX_HOSTS, networksOverlap, parseSubnet, planLayout } from '../../src/lab/layout.js';
import { hostOfLabObject, isLabBridgeName, labNames, labPaths, netnsName, parseLabName, resolveLabName, vethName } from '../../src/lab/paths.js';
import { parseRelease } from '../../src/lab/releases.js';

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

  it(`fits ${MAX_HOSTS} hosts in .11–.58, below the VIPs`, () => {
    expect(MAX_HOSTS).toBe(48);
    const layout = planLayout({ hosts: MAX_HOSTS, datacenters: 2, subnet: DEFAULT_SUBNET });
    expect(layout.hosts.at(0)).toEqual({ name: 'pg1', address: '10.213.77.11', datacenter: 'dc1' });
    expect(layout.hosts.at(-1)).toEqual({ name: 'pg48', address: '10.213.77.58', datacenter: 'dc2' });
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
    [{ hosts: MAX_HOSTS + 1, datacenters: 1 }, new RegExp(`--hosts ${MAX_HOSTS + 1}: expected a whole number from 1 to ${MAX_HOSTS}`)],
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
    expect(paths.names.lab).toBe('default');
    expect(paths.cacheDir).toBe('/var/cache/hapg/lab');
    expect(paths.stateDir).toBe('/var/lib/hapg/lab');
    expect(paths.labKey).toBe('/var/cache/hapg/lab/id_ed25519');
    expect(paths.knownHosts).toBe('/var/lib/hapg/lab/known_hosts');
    expect(paths.lockDir).toBe('/run/hapg-lab.lock');
  });

  it('honours HAPG_LAB_CACHE and HAPG_LAB_STATE', () => {
    const paths = labPaths({ HAPG_LAB_CACHE: '/srv/cache', HAPG_LAB_STATE: '/srv/state' });
    expect(paths.labKey).toBe('/srv/cache/id_ed25519');
    expect(paths.rootfsDir).toBe('/srv/cache/rootfs');
    expect(paths.stateFile).toBe('/srv/state/state.json');
  });

  it('gives lab NAME its own state, known_hosts and lock, and shares the caches', () => {
    const byEnv = labPaths({ HAPG_LAB: 'wtlab' });
    const byArg = labPaths({}, 'wtlab');
    expect(byEnv).toEqual(byArg);
    expect(byArg.stateDir).toBe('/var/lib/hapg/lab-wtlab');
    expect(byArg.knownHosts).toBe('/var/lib/hapg/lab-wtlab/known_hosts');
    expect(byArg.hostsDir).toBe('/var/lib/hapg/lab-wtlab/hosts');
    expect(byArg.lockDir).toBe('/run/hapg-lab-wtlab.lock');
    expect(labPaths({ HAPG_LAB_STATE: '/srv/state' }, 'wtlab').stateDir).toBe('/srv/state-wtlab');
    const shared = labPaths({});
    for (const key of ['cacheDir', 'labKey', 'hostKeysDir', 'rootfsDir', 'proxyDir', 'cachesLockDir'] as const) expect(byArg[key]).toBe(shared[key]);
    // A lab named like the caches lock cannot take it.
    expect(labPaths({}, 'caches').lockDir).not.toBe(shared.cachesLockDir);
  });
});

describe('lab names', () => {
  it('keeps the names hapg has always used for the default lab', () => {
    const names = labNames('default');
    expect(names).toMatchObject({ bridge: 'hapg-br0', netnsPrefix: 'hapg-lab-', vethPrefix: 'hapg-', cgroupGroup: 'hapg-lab', machinePrefix: '' });
    expect(netnsName(names, 'pg1')).toBe('hapg-lab-pg1');
    expect(vethName(names, 'pg1')).toBe('hapg-pg1');
  });

  it.each(['wtlab', 'ci-2', 'a', 'a-very-long-lab-name-24ch'.slice(0, 24)])(`fits lab %s in IFNAMSIZ with ${MAX_HOSTS} hosts`, (lab) => {
    const names = labNames(lab);
    for (const ifname of [names.bridge, vethName(names, `pg${MAX_HOSTS}`)]) {
      expect(ifname.length).toBeLessThanOrEqual(15);
      expect(ifname).toMatch(/^[a-z0-9-]+$/);
    }
    expect(isLabBridgeName(names.bridge)).toBe(true);
    expect(names.cgroupGroup).toBe(`hapg-lab-${lab}`);
    expect(names.machinePrefix).toBe(`${lab}-`);
  });

  it("never counts another lab's namespaces and veths as its own", () => {
    const labs = ['default', 'wtlab', 'wtlab2', 'ci-2'].map(labNames);
    for (const a of labs) {
      for (const b of labs) {
        if (a === b) continue;
        for (const host of ['pg1', 'pg12', 'pg40']) {
          expect(hostOfLabObject(a.netnsPrefix, netnsName(b, host)), `${a.lab} vs ${b.lab} netns`).toBeUndefined();
          expect(hostOfLabObject(a.vethPrefix, vethName(b, host)), `${a.lab} vs ${b.lab} veth`).toBeUndefined();
        }
        expect(a.bridge).not.toBe(b.bridge);
        expect(a.cgroupGroup).not.toBe(b.cgroupGroup);
      }
      expect(hostOfLabObject(a.netnsPrefix, netnsName(a, 'pg7'))).toBe('pg7');
      expect(hostOfLabObject(a.vethPrefix, vethName(a, 'pg7'))).toBe('pg7');
    }
    expect(isLabBridgeName('hapg-br0')).toBe(true);
    expect(isLabBridgeName('eth0')).toBe(false);
  });

  it('takes the lab from --lab, else HAPG_LAB, else default; refuses names unfit for paths', () => {
    expect(resolveLabName(undefined, {})).toBe('default');
    expect(resolveLabName(undefined, { HAPG_LAB: 'ci-2' })).toBe('ci-2');
    expect(resolveLabName('wtlab', { HAPG_LAB: 'ci-2' })).toBe('wtlab');
    for (const bad of ['', 'Lab', '../x', 'a_b', '-a', 'a-', '2lab', 'x'.repeat(25), 'a.b']) {
      expect(() => parseLabName(bad), bad).toThrow(HapgError);
    }
  });
});

describe('candidateSubnets', () => {
  it('gives the default lab 10.213.77.0/24 only', () => {
    expect(candidateSubnets('default')).toEqual([DEFAULT_SUBNET]);
  });

  it('gives another lab a 10.213.x.0/24 derived from its name, then the others in turn, never the default', () => {
    const wt = candidateSubnets('wtlab');
    expect(wt).toEqual(candidateSubnets('wtlab'));
    expect(new Set(wt).size).toBe(wt.length);
    expect(wt).not.toContain(DEFAULT_SUBNET);
    for (const cidr of wt) expect(parseSubnet(cidr).prefix).toMatch(/^10\.213\.\d+$/);
    expect(candidateSubnets('ci-2')[0]).not.toBe(wt[0]);
  });
});

describe('parseRelease', () => {
  it('accepts bookworm and trixie only', () => {
    expect(parseRelease('bookworm')).toBe('bookworm');
    expect(parseRelease('trixie')).toBe('trixie');
    expect(() => parseRelease('bullseye')).toThrow(/expected bookworm or trixie/);
  });
});
