import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';

const examples = readdirSync('inventories')
  .filter((f) => f.endsWith('.yml') && !f.startsWith('lab'))
  .sort();

describe('example inventories', () => {
  it('are present', () => {
    expect(examples).toEqual(expect.arrayContaining(['three-hosts.yml', 'dedicated-etcd.yml', 'two-datacenters.yml']));
  });

  it.each(examples)('inventories/%s loads without error', async (file) => {
    const loaded = await loadInventory(`inventories/${file}`);
    expect(Object.keys(loaded.inventory.clusters).length).toBeGreaterThan(0);
    for (const w of loaded.warnings) expect(w.message).not.toContain('\n');
  });
});
