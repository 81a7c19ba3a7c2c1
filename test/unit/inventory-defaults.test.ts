import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { InventorySchema } from '../../src/inventory/schema.js';

const MINIMAL = `hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
  pg3: { address: 192.0.2.13 }
etcd:
  dc1: { hosts: [pg1, pg2, pg3] }
clusters:
  main:
    hosts: [pg2, pg1, pg3]
    haproxy: {}
    vip: { address: 192.0.2.100, interface: eth0, router_id: 51 }
`;

describe('inventory defaults', () => {
  const { inventory } = parseInventory(MINIMAL, 'inventories/minimal.yml');
  const main = inventory.clusters['main'];

  it('fills the ssh settings', () => {
    expect(inventory.ssh).toEqual({
      user: 'root',
      port: 22,
      identity_files: ['~/.ssh/id_ed25519'],
      agent: false,
      known_hosts: '~/.ssh/known_hosts',
      connect_timeout: 10,
    });
  });

  it('fills hosts: datacenter and Patroni tags', () => {
    expect(inventory.hosts['pg1']).toEqual({
      address: '192.0.2.11',
      datacenter: 'dc1',
      tags: { nofailover: false, noloadbalance: false, clonefrom: false },
    });
  });

  it('fills etcd ports and data directory', () => {
    expect(inventory.etcd['dc1']).toEqual({ hosts: ['pg1', 'pg2', 'pg3'], client_port: 2379, peer_port: 2380, data_dir: '/var/lib/etcd/dc1', secrets: { root: { generate: true } } });
  });

  it('fills the cluster: etcd, leader, PostgreSQL, Patroni, HAProxy, VIP and secrets', () => {
    expect(main?.etcd).toBe('dc1');
    expect(main?.leader).toBe('pg2');
    expect(main?.postgres).toEqual({
      version: 17,
      port: 5432,
      data_dir: '/var/lib/postgresql/17/main',
      parameters: {},
      hba: [],
      users: {},
      databases: {},
    });
    expect(main?.patroni).toEqual({
      rest_api_port: 8008,
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      synchronous_mode: false,
      synchronous_mode_strict: false,
      failsafe_mode: false,
      use_pg_rewind: true,
      use_slots: true,
      permanent_slots: {},
      watchdog: { mode: 'off', device: '/dev/watchdog' },
      callbacks: {},
    });
    expect(main?.haproxy).toEqual({ hosts: ['pg2', 'pg1', 'pg3'], read_write_port: 5000, read_only_port: 5001, stats_port: 7000, stats_listen: 'loopback' });
    expect(main?.vip).toEqual({ address: '192.0.2.100', interface: 'eth0', router_id: 51, prefix: 32 });
    expect(main?.secrets).toEqual({
      superuser: { generate: true },
      replication: { generate: true },
      rewind: { generate: true },
      rest_api: { generate: true },
      check: { generate: true },
      vrrp: { generate: true },
      etcd: { generate: true },
    });
    expect(main?.tls).toBe(true);
    expect(inventory.tls).toEqual({ validity_days: 365, renew_days: 30, warning_days: 30 });
    expect(main?.standby).toBeUndefined();
  });

  it('derives data_dir from the version and the cluster name', () => {
    const loaded = parseInventory(MINIMAL.replace('    haproxy: {}\n', '    postgres: { version: 16 }\n'), 'x.yml');
    expect(loaded.inventory.clusters['main']?.postgres.data_dir).toBe('/var/lib/postgresql/16/main');
  });

  it('uses prefix 128 for an IPv6 VIP', () => {
    const text = MINIMAL.replace('address: 192.0.2.100', 'address: "2001:db8::100"');
    expect(parseInventory(text, 'x.yml').inventory.clusters['main']?.vip?.prefix).toBe(128);
  });

  it('fills user options and passwords', () => {
    const text = MINIMAL.replace('    haproxy: {}\n', '    postgres:\n      users: { app: {} }\n      databases: { app: { owner: app } }\n');
    const pg = parseInventory(text, 'x.yml').inventory.clusters['main']?.postgres;
    expect(pg?.users['app']).toEqual({ password: { generate: true }, options: ['LOGIN'] });
    expect(pg?.databases['app']).toEqual({ owner: 'app', extensions: [] });
  });

  it('places the secrets file next to the inventory, named after it', () => {
    expect(inventory.secrets_file).toBe('.hapg/minimal.secrets.yml');
    const explicit = parseInventory(`${MINIMAL}secrets_file: private/s.yml\n`, 'inventories/minimal.yml');
    expect(explicit.inventory.secrets_file).toBe('private/s.yml');
  });

  it('picks the etcd cluster of the cluster\'s datacenter and derives the standby slot', async () => {
    const { inventory: two } = parseInventory(
      `hosts:
  a1: { address: 192.0.2.1, datacenter: dc1 }
  b1: { address: 198.51.100.1, datacenter: dc2 }
etcd:
  east: { hosts: [a1] }
  west: { hosts: [b1] }
clusters:
  main: { hosts: [a1], haproxy: {} }
  dr-site: { hosts: [b1], standby: { cluster: main } }
`,
      'x.yml',
    );
    expect(two.clusters['main']?.etcd).toBe('east');
    expect(two.clusters['dr-site']?.etcd).toBe('west');
    expect(two.clusters['dr-site']?.standby).toEqual({ cluster: 'main', source: 'haproxy', slot: 'standby_dr_site' });
  });

  it('is the same through InventorySchema.parse (no file needed)', () => {
    const parsed = InventorySchema.parse({
      hosts: { pg1: { address: 'db1.example.com' } },
      etcd: { e: { hosts: ['pg1'] } },
      clusters: { main: { hosts: ['pg1'] } },
    });
    expect(parsed.clusters['main']?.etcd).toBe('e');
    expect(parsed.clusters['main']?.leader).toBe('pg1');
    expect(parsed.secrets_file).toBeUndefined();
  });
});
