// The hardening refuses harm, not ordinary inventories: the examples still load, and what the
// schema hands to the templates is the normalised apt URL, exactly what it checked.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';

const BIN = path.resolve('bin/hapg.js');

describe('valid inventories', () => {
  it.each(readdirSync('inventories').filter((f) => f.endsWith('.yml')))('inventories/%s loads', async (file) => {
    const loaded = await loadInventory(`inventories/${file}`);
    expect(Object.keys(loaded.inventory.clusters).length).toBeGreaterThan(0);
  });

  it('hands on the normalised apt URLs', () => {
    const loaded = parseInventory(
      `hosts:
  pg1: { address: 192.0.2.11 }
etcd:
  dc1: { hosts: [pg1] }
clusters:
  main:
    hosts: [pg1]
    postgres:
      data_dir: /srv/postgresql/15/main
      wal_dir: /srv/wal/15/main
      parameters: { log_line_prefix: "'%m' \\"%p\\" $user \\\\" }
      hba:
        - { type: host, database: all, user: all, address: 10.0.0.0/8, method: trust, allow_trust: true }
packages:
  apt_proxy: http://Cache.Example.NET:3142
  mirror: HTTP://[2001:DB8::1]/debian
`,
      'inv.yml',
    );
    expect(loaded.inventory.packages).toEqual({ apt_proxy: 'http://cache.example.net:3142/', mirror: 'http://[2001:db8::1]/debian' });
    expect(loaded.inventory.clusters['main']?.postgres.parameters['log_line_prefix']).toBe(`'%m' "%p" $user \\`);
  });

  it('hapg schema still exports the JSON Schema', async () => {
    const r = await execa(process.execPath, [BIN, 'schema']);
    const schema = JSON.parse(r.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['hosts', 'etcd', 'clusters', 'packages']));
  });
});
