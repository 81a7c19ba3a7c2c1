import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/inventory/issues.js';
import { parseInventory } from '../../src/inventory/load.js';

// method trust from the network lets anyone who reaches the address in without a password:
// it needs an explicit allow_trust: true on the entry.
function hbaProblems(entry: string): string[] {
  const text = `hosts:
  pg1: { address: 192.0.2.11 }
etcd:
  dc1: { hosts: [pg1] }
clusters:
  main:
    hosts: [pg1]
    postgres:
      hba:
        - ${entry}
`;
  try {
    parseInventory(text, 'inv.yml');
    return [];
  } catch (err) {
    if (err instanceof InventoryError) return err.issues.map((i) => i.message);
    throw err;
  }
}

describe('pg_hba trust', () => {
  it.each([
    ['local trust (the Unix socket, guarded by file permissions)', '{ type: local, database: all, user: all, method: trust }'],
    ['trust from the network with allow_trust: true', '{ type: host, database: all, user: all, address: 10.0.0.0/8, method: trust, allow_trust: true }'],
    ['scram-sha-256 from the network', '{ type: hostssl, database: app, user: app, address: 10.0.0.0/8, method: scram-sha-256 }'],
  ])('accepts %s', (_what, entry) => {
    expect(hbaProblems(entry)).toEqual([]);
  });

  it.each(['host', 'hostssl', 'hostnossl', 'hostgssenc', 'hostnogssenc'])('rejects trust from the network for type %s without allow_trust', (type) => {
    expect(hbaProblems(`{ type: ${type}, database: app, user: app, address: samenet, method: trust }`)).toEqual([
      'clusters.main.postgres.hba[0].method: trust lets anyone who reaches PostgreSQL from samenet log in as app without a password: use scram-sha-256, or add allow_trust: true to this entry to accept that (inv.yml:10)',
    ]);
  });

  it('rejects allow_trust: false on a trust entry', () => {
    expect(hbaProblems('{ type: host, database: all, user: all, address: all, method: trust, allow_trust: false }')).toHaveLength(1);
  });

  it.each([
    ['{ type: host, database: all, user: all, address: all, method: scram-sha-256, allow_trust: true }', 'host scram-sha-256'],
    ['{ type: local, database: all, user: all, method: trust, allow_trust: true }', 'local trust'],
  ])('rejects allow_trust where it means nothing: %s', (entry, described) => {
    expect(hbaProblems(entry)).toEqual([
      `clusters.main.postgres.hba[0].allow_trust: only applies to method trust on a non-local entry (this one is ${described}): remove it (inv.yml:10)`,
    ]);
  });
});
