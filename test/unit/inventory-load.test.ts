import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/inventory/issues.js';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';

const VALID = `hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
  pg3: { address: 192.0.2.13 }
etcd:
  dc1: { hosts: [pg1, pg2, pg3] }
clusters:
  main:
    hosts: [pg1, pg2, pg3]
`;

function parseError(text: string, path = 'inv.yml'): InventoryError {
  try {
    parseInventory(text, path);
  } catch (err) {
    if (err instanceof InventoryError) return err;
    throw err;
  }
  throw new Error('parsed without error');
}

describe('loadInventory', () => {
  it('names a missing file as the operator gave it, on one line', async () => {
    const err = await loadInventory('inventories/nope.yml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryError);
    expect((err as InventoryError).code).toBe('INVENTORY_INVALID');
    expect((err as InventoryError).message).toBe('inventory file not found: inventories/nope.yml');
  });

  it('names a directory given as the inventory', async () => {
    const err = (await loadInventory('inventories').catch((e: unknown) => e)) as InventoryError;
    expect(err.message).toBe('the inventory path is a directory, not a YAML file: inventories');
  });

  it('returns the path as given and the default secrets file', async () => {
    const loaded = await loadInventory('inventories/dedicated-etcd.yml');
    expect(loaded.path).toBe('inventories/dedicated-etcd.yml');
    expect(loaded.inventory.secrets_file).toBe('.hapg/dedicated-etcd.secrets.yml');
    expect(loaded.warnings).toEqual([]);
  });
});

describe('parseInventory errors', () => {
  it('quotes the path, the problem and the line', () => {
    const err = parseError(VALID.replace('hosts: [pg1, pg2, pg3]\n', 'hosts: [pg1, pg2, pg9]\n'), 'inventories/prod.yml');
    expect(err.message).toBe(
      'clusters.main.hosts[2]: unknown host "pg9": define it under hosts (defined: pg1, pg2 and pg3) (inventories/prod.yml:9)',
    );
    expect(err.issues[0]).toMatchObject({ path: ['clusters', 'main', 'hosts', 2], line: 9 });
  });

  it('reports the first problem in file order and keeps all of them', () => {
    const text = VALID.replace('pg3: { address: 192.0.2.13 }', 'pg3: { address: 192.0.2.13, colour: red }').replace(
      'hosts: [pg1, pg2, pg3]\n',
      'hosts: [pg1, pg2, pg3]\n    postgres: { port: 0 }\n',
    );
    const err = parseError(`ssh: { port: "22" }\n${text}`);
    expect(err.issues.map((i) => i.line)).toEqual([1, 5, 11]);
    expect(err.message).toBe('ssh.port: must be a port number from 1 to 65535, got a string (inv.yml:1)');
    expect(err.issues[1]?.message).toContain('hosts.pg3.colour: unknown key "colour"');
    expect(err.issues[2]?.message).toContain('clusters.main.postgres.port: must be a port number from 1 to 65535, got 0');
  });

  it('reports every cross-check error, not only the first', () => {
    const text = VALID.replace('hosts: [pg1, pg2, pg3]\n', 'hosts: [pg1, pg2, pg9]\n    leader: pg7\n');
    const err = parseError(text);
    expect(err.issues.map((i) => i.path.join('.'))).toEqual(['clusters.main.hosts.2', 'clusters.main.leader']);
  });

  it('points a missing key at its parent line', () => {
    const err = parseError(VALID.replace('  pg2: { address: 192.0.2.12 }', '  pg2:\n    datacenter: dc1'));
    expect(err.message).toBe('hosts.pg2: missing required key "address" (inv.yml:3)');
  });

  it('turns a YAML syntax error into one line with its line number', () => {
    const err = parseError('hosts:\n  pg1: { address: 192.0.2.11\netcd: {}\n');
    expect(err.message).toMatch(/^YAML syntax error: .+ \(inv\.yml:\d+\)$/);
    expect(err.message).not.toContain('\n');
  });

  it('rejects duplicate keys', () => {
    const err = parseError(VALID.replace('etcd:\n', 'etcd:\n  dc1: { hosts: [pg1] }\n'));
    expect(err.message).toBe('etcd: duplicate key "dc1" (first on line 6): keep only one (inv.yml:7)');
  });

  it('accepts YAML anchors and merge keys', () => {
    const text = `x-host: &host { datacenter: dc1 }
hosts:
  pg1: { <<: *host, address: 192.0.2.11 }
etcd:
  dc1: { hosts: [pg1] }
clusters:
  main: { hosts: [pg1] }
`;
    const err = parseError(text);
    // x-host is not an inventory key: anchors must live inside known keys.
    expect(err.message).toBe('x-host: unknown key "x-host" (allowed: ssh, hosts, packages, etcd, clusters, secrets_file, tls) (inv.yml:1)');
    const merged = parseInventory(text.replace('x-host: &host { datacenter: dc1 }\nhosts:\n  pg1: { <<: *host,', 'hosts:\n  pg0: &host { address: 192.0.2.10, datacenter: dc1 }\n  pg1: { <<: *host,'), 'inv.yml');
    expect(merged.inventory.hosts['pg1']).toMatchObject({ address: '192.0.2.11', datacenter: 'dc1' });
  });

  it('can place any path on a line after loading', () => {
    const loaded = parseInventory(VALID, 'inv.yml');
    expect(loaded.locate(['clusters', 'main', 'hosts', 1])).toBe(9);
    expect(loaded.locate(['clusters', 'main', 'postgres', 'port'])).toBe(8);
    expect(loaded.locate(['clusters', 'main', 'postgres', 'port'], { exact: true })).toBeUndefined();
  });
});
