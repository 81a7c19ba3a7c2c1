import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { Secret } from '../../src/secret.js';
import { catalogFact, parseCatalog, planRolesAndDatabases, type CatalogFacts } from '../../src/tasks/postgres/roles.js';
import { scramMatches, scramVerifier } from '../../src/tasks/postgres/scram.js';

const { inventory } = await loadInventory('inventories/three-hosts.yml');
const cluster = inventory.clusters['main']!;
const password = new Secret('app-password-1');
const passwords = new Map([['app', password]]);
const empty: CatalogFacts = { roles: new Map(), databases: new Map(), extensions: new Map() };

describe('SCRAM verifiers', () => {
  it('matches the password it was made from, with its own salt, and nothing else', () => {
    const v = scramVerifier('s3cret');
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(scramMatches(v, 's3cret')).toBe(true);
    expect(scramMatches(v, 's3cret ')).toBe(false);
    expect(scramMatches('md5abcdef', 's3cret')).toBe(false);
    expect(scramVerifier('s3cret')).not.toBe(v); // a fresh salt each time
  });
});

describe('roles and databases', () => {
  it('creates the role with a SCRAM verifier in SQL on stdin, never the password', () => {
    const items = planRolesAndDatabases('pg1', 'main', cluster, passwords, empty);
    const create = items.find((i) => i.kind === 'sql' && i.title === 'create role app');
    expect(create?.kind).toBe('sql');
    if (create?.kind !== 'sql') return;
    expect(create.target).toEqual({ kind: 'local', port: 5432, database: 'postgres' });
    expect(create.sql).toMatch(/^CREATE ROLE "app" LOGIN PASSWORD 'SCRAM-SHA-256\$4096:/);
    expect(create.sql).not.toContain('app-password-1');
    expect(items.some((i) => i.kind === 'sql' && i.sql === 'CREATE DATABASE "app" OWNER "app";\n')).toBe(true);
  });

  it('leaves a role whose verifier matches and whose attributes match alone: noop', () => {
    const facts: CatalogFacts = {
      roles: new Map([['app', { name: 'app', verifier: scramVerifier('app-password-1'), attributes: new Set(['LOGIN']) }]]),
      databases: new Map([['app', { name: 'app', owner: 'app' }]]),
      extensions: new Map(),
    };
    const items = planRolesAndDatabases('pg1', 'main', cluster, passwords, facts);
    expect(items).toEqual([{ kind: 'noop', host: 'pg1', reason: '1 users and 1 databases as declared' }]);
  });

  it('updates only the password when it changed, and the owner when it differs', () => {
    const facts: CatalogFacts = {
      roles: new Map([['app', { name: 'app', verifier: scramVerifier('old'), attributes: new Set(['LOGIN']) }]]),
      databases: new Map([['app', { name: 'app', owner: 'postgres' }]]),
      extensions: new Map(),
    };
    const titles = planRolesAndDatabases('pg1', 'main', cluster, passwords, facts).map((i) => (i.kind === 'noop' ? 'noop' : i.title));
    expect(titles).toEqual(['update role app (password)', 'change owner of database app to app']);
  });

  it('parses the catalog query output', () => {
    const out = 'role\tapp\tSCRAM-SHA-256$4096:x$y:z\tt\tf\tf\tt\tf\tf\tf\ndb\tapp\tapp\t\t\t\t\t\t\t\n';
    const c = parseCatalog(out.split('\n').filter(Boolean).map((l) => l.split('\t')));
    expect([...c.roles.get('app')!.attributes].sort()).toEqual(['INHERIT', 'LOGIN']);
    expect(c.databases.get('app')).toEqual({ name: 'app', owner: 'app' });
    // A server that does not answer is no catalog at all, never an empty one.
    expect(catalogFact(5432).parse({ host: 'pg1', command: 'psql', exitCode: 2, stdout: '', stderr: 'no server', durationMs: 1 })).toBeUndefined();
  });
});
