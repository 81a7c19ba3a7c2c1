import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseInventory } from '../../src/inventory/load.js';
import { GENERATED_HEADER, renderLabInventory, secretsFileFor } from '../../src/lab/inventory-writer.js';
import { planLayout } from '../../src/lab/layout.js';
import type { LabRelease } from '../../src/lab/releases.js';

function render(hosts: number, datacenters: number, inventoryPath = 'inventories/lab.yml', release: LabRelease = 'bookworm'): string {
  return renderLabInventory({
    lab: 'default',
    release,
    layout: planLayout({ hosts, datacenters, subnet: '10.213.77.0/24' }),
    identityFile: '/var/cache/hapg/lab/id_ed25519',
    knownHosts: '/var/lib/hapg/lab/known_hosts',
    proxyUrl: 'http://10.213.77.1:3142',
    inventoryPath,
  });
}

/**
 * Every key path of a YAML value; names chosen by the operator (hosts, etcd clusters,
 * clusters) become "*", and the form of a secret reference ({ env } / { generate }) is left out.
 */
function keyPaths(value: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  if (value && typeof value === 'object' && !Array.isArray(value) && !/^clusters\.\*\.secrets\.[^.]+$/.test(prefix)) {
    for (const [key, child] of Object.entries(value)) {
      const named = ['hosts', 'etcd', 'clusters'].includes(prefix) ? '*' : key;
      const p = prefix ? `${prefix}.${named}` : named;
      out.add(p);
      for (const sub of keyPaths(child, p)) out.add(sub);
    }
  }
  return out;
}

describe('renderLabInventory', () => {
  it('starts with the generated-by header', () => {
    expect(render(3, 1).startsWith(`#${GENERATED_HEADER}\n`)).toBe(true);
  });

  it('writes the lab for one datacenter: hosts, proxy, etcd dc1, cluster main with haproxy, VIP and generated secrets', () => {
    const doc = YAML.parse(render(3, 1));
    expect(doc.ssh).toEqual({
      user: 'root',
      port: 22,
      identity_files: ['/var/cache/hapg/lab/id_ed25519'],
      agent: false,
      known_hosts: '/var/lib/hapg/lab/known_hosts',
      connect_timeout: 10,
    });
    expect(doc.hosts).toEqual({
      pg1: { address: '10.213.77.11', datacenter: 'dc1' },
      pg2: { address: '10.213.77.12', datacenter: 'dc1' },
      pg3: { address: '10.213.77.13', datacenter: 'dc1' },
    });
    expect(doc.packages).toEqual({ apt_proxy: 'http://10.213.77.1:3142' });
    expect(doc.etcd).toEqual({ dc1: { hosts: ['pg1', 'pg2', 'pg3'], client_port: 2379, peer_port: 2380 } });
    expect(Object.keys(doc.clusters)).toEqual(['main']);
    const main = doc.clusters.main;
    expect(main.etcd).toBe('dc1');
    expect(main.hosts).toEqual(['pg1', 'pg2', 'pg3']);
    expect(main.haproxy.hosts).toEqual(['pg1', 'pg2', 'pg3']);
    expect(main.vip).toEqual({ address: '10.213.77.100', interface: 'eth0', router_id: 51 });
    expect(main.secrets).toEqual({
      superuser: { generate: true },
      replication: { generate: true },
      rewind: { generate: true },
      rest_api: { generate: true },
    });
    expect(main.patroni.watchdog).toEqual({ mode: 'off' });
    expect(doc.secrets_file).toBe('.hapg/lab.secrets.yml');
  });

  it('with two datacenters adds etcd dc2 and a standby cluster of main over the dc2 hosts', () => {
    const doc = YAML.parse(render(5, 2));
    expect(doc.etcd.dc1.hosts).toEqual(['pg1', 'pg2', 'pg3']);
    expect(doc.etcd.dc2.hosts).toEqual(['pg4', 'pg5']);
    expect(doc.clusters.main.hosts).toEqual(['pg1', 'pg2', 'pg3']);
    const standby = doc.clusters.standby;
    expect(standby.etcd).toBe('dc2');
    expect(standby.hosts).toEqual(['pg4', 'pg5']);
    expect(standby.haproxy.hosts).toEqual(['pg4', 'pg5']);
    expect(standby.standby).toEqual({ cluster: 'main' });
    expect(standby.vip).toEqual({ address: '10.213.77.101', interface: 'eth0', router_id: 52 });
    expect(Object.values(standby.secrets)).toEqual(Array(4).fill({ generate: true }));
  });

  it('uses only keys the hand-written example uses (plus standby)', async () => {
    const example = keyPaths(YAML.parse(await readFile('inventories/three-hosts.yml', 'utf8')));
    const lab = keyPaths(YAML.parse(render(5, 2)));
    const extra = [...lab].filter((p) => !example.has(p) && !/^clusters\.\*\.standby(\.|$)/.test(p));
    expect(extra).toEqual([]);
  });

  it.each([
    ['bookworm', 15],
    ['trixie', 17],
  ] as const)('deploys the PostgreSQL major %s ships (%i), written out, in every cluster', (release, major) => {
    const text = render(5, 2, 'inventories/lab.yml', release);
    const doc = YAML.parse(text);
    expect(doc.clusters.main.postgres.version).toBe(major);
    expect(doc.clusters.standby.postgres.version).toBe(major);
    expect(text.match(new RegExp(`^ {6}version: ${major}$`, 'gm'))).toHaveLength(2);
    expect(parseInventory(text, '/tmp/lab.yml').inventory.clusters['main']?.postgres.version).toBe(major);
  });

  it('names the lab and its release in the header', () => {
    const text = render(3, 1, 'inventories/lab.yml', 'trixie');
    expect(text.split('\n')[1]).toBe('# lab default: 3 Debian 13 (trixie) hosts on 10.213.77.0/24 (bridge 10.213.77.1), 1 datacenter:');
  });

  it('quotes words YAML 1.1 would read as booleans', () => {
    expect(render(3, 1)).toContain('watchdog: { mode: "off" }');
  });

  it.each([
    [3, 1],
    [1, 1],
    [5, 2],
    [2, 2],
  ])('passes the inventory schema (%i hosts, %i datacenters)', (hosts, datacenters) => {
    const loaded = parseInventory(render(hosts, datacenters), '/tmp/lab.yml');
    expect(Object.keys(loaded.inventory.hosts)).toHaveLength(hosts);
    // The schema hands on the normalised URL (new URL().href).
    expect(loaded.inventory.packages.apt_proxy).toBe('http://10.213.77.1:3142/');
  });
});

describe('secretsFileFor', () => {
  it('names the secrets file after the inventory, under .hapg/', () => {
    expect(secretsFileFor('/work/inventories/lab.yml')).toBe('.hapg/lab.secrets.yml');
    expect(secretsFileFor('lab-ci.yaml')).toBe('.hapg/lab-ci.secrets.yml');
  });
});
