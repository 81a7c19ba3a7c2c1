import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { InventoryError } from '../../src/inventory/issues.js';
import { DataDirectory, DevicePath, PostgresDataDirectory } from '../../src/inventory/primitives.js';

function problem(schema: typeof DataDirectory, value: string): string | undefined {
  const result = schema.safeParse(value);
  return result.success ? undefined : result.error.issues[0]?.message;
}

describe('DataDirectory', () => {
  it.each([
    '/var/lib/postgresql/15/main',
    '/var/lib/etcd/dc1',
    '/srv/postgresql/15/main',
    '/srv/wal/15/main',
    '/data/pg',
    '/pgdata/main',
    '/mnt/ssd/pg',
    '/usr/local/pgsql/data',
    '/var/lib/pgsql/main',
    '/opt/pg/data',
  ])('accepts %s', (path) => {
    expect(problem(PostgresDataDirectory, path)).toBeUndefined();
    expect(problem(DataDirectory, path)).toBeUndefined();
  });

  it.each([
    ['/', 'is the root directory'],
    ['/pgdata', 'is directly in "/"'],
    ['/var/lib/pgsql', 'is directly in /var/lib, a system directory'],
    ['/srv/pg', 'is directly in /srv, a system directory'],
    ['/opt/pg', 'is directly in /opt, a system directory'],
    ['/var/lib', 'is a system directory'],
    ['/var/log', 'is a system directory'],
    ['/usr/local', 'is a system directory'],
    ['/var/lib/postgresql', "the postgres user's home"],
    ['/var/lib/etcd', "the etcd package's directory"],
    ['/etc/postgresql/data', 'is in /etc'],
    ['/usr/lib/postgresql/data', 'is in /usr'],
    ['/tmp/pg/data', 'is in /tmp'],
    ['/var/tmp/pg/data', 'is in /var/tmp'],
    ['/run/pg/data', 'is in /run'],
    ['/proc/1/root', 'is in /proc'],
    ['/dev/shm/pg', 'is in /dev'],
    ['/home/alice/pg', 'is in /home'],
    ['/root/pg/data', 'is in /root'],
    ['/boot/pg/data', 'is in /boot'],
    ['relative/data', 'must be an absolute path'],
    ['/srv/pg/../../etc', 'has a "." or ".." part'],
    ['/srv/./pg/main', 'has a "." or ".." part'],
    ['/srv//pg/main', 'must be written /srv/pg/main'],
    ['/srv/pg/main/', 'must be written /srv/pg/main'],
    ['/srv/pg/main\n', 'a newline'],
    ['/srv/pg/ma\tin', 'a tab'],
    ['/srv/pg/ma in', 'a space'],
    ['/srv/pg/"main"', '"\\""'],
    ["/srv/pg/'main'", `"'"`],
    ['/srv/pg/$HOME', '"$"'],
    ['/srv/pg/`id`', '"`"'],
    ['/srv/pg/ma\\in', '"\\\\"'],
    ['/srv/pg/#main', '"#"'],
    ['/srv/pg/%i', '"%"'],
    ['/srv/pg/main;reboot', '";"'],
  ])('rejects %j', (path, named) => {
    for (const schema of [PostgresDataDirectory, DataDirectory]) {
      const message = problem(schema, path);
      expect(message).toContain(named);
      expect(message).not.toContain('\n');
    }
  });

  it('says why the parent matters: postgres owns the parent of data_dir', () => {
    expect(problem(PostgresDataDirectory, '/var/lib/pgsql')).toContain('owned by postgres with mode 0750, which would take /var/lib from the system');
    expect(problem(DataDirectory, '/var/lib/pgwal')).toContain('data needs a parent directory of its own');
  });
});

describe('DevicePath', () => {
  it.each(['/dev/watchdog', '/dev/watchdog0'])('accepts %s', (path) => {
    expect(problem(DevicePath, path)).toBeUndefined();
  });
  it.each([
    ['/etc/shadow', 'is not a device under /dev'],
    ['/dev/../etc/shadow', 'has a "." or ".." part'],
    ['/dev/watchdog\n', 'a newline'],
  ])('rejects %j', (path, named) => {
    expect(problem(DevicePath, path)).toContain(named);
  });
});

describe('data directories on one host', () => {
  const inventory = (etcdDir: string, dataDir: string, walDir?: string) => `hosts:
  pg1: { address: 192.0.2.11 }
  e1: { address: 192.0.2.21 }
etcd:
  dc1: { hosts: [pg1, e1], data_dir: ${etcdDir} }
clusters:
  main:
    hosts: [pg1]
    postgres: { data_dir: ${dataDir}${walDir ? `, wal_dir: ${walDir}` : ''} }
`;
  const messages = (text: string) => {
    try {
      parseInventory(text, 'inv.yml');
      return [];
    } catch (err) {
      if (err instanceof InventoryError) return err.issues.map((i) => i.message);
      throw err;
    }
  };

  it('accepts separate trees', () => {
    expect(messages(inventory('/srv/etcd/dc1', '/srv/postgresql/main', '/srv/wal/main'))).toEqual([]);
    expect(messages(inventory('/srv/pg/main-etcd', '/srv/pg/main'))).toEqual([]);
  });

  it.each([
    ['etcd inside PostgreSQL data', inventory('/srv/pg/main/etcd', '/srv/pg/main'), 'etcd.dc1.data_dir: /srv/pg/main/etcd is inside /srv/pg/main, the data_dir of cluster main, on pg1'],
    ['PostgreSQL data inside etcd', inventory('/srv/etcd/dc1', '/srv/etcd/dc1/pg'), 'clusters.main.postgres.data_dir: /srv/etcd/dc1/pg is inside /srv/etcd/dc1, the data_dir of etcd cluster dc1, on pg1'],
    ['the same directory', inventory('/srv/pg/main', '/srv/pg/main'), 'clusters.main.postgres.data_dir: /srv/pg/main is also the data_dir of etcd cluster dc1 on pg1'],
    ['etcd inside the WAL directory', inventory('/srv/wal/main/etcd', '/srv/pg/main', '/srv/wal/main'), 'etcd.dc1.data_dir: /srv/wal/main/etcd is inside /srv/wal/main, the wal_dir of cluster main, on pg1'],
    ['data inside its own WAL directory', inventory('/srv/etcd/dc1', '/srv/wal/main/data', '/srv/wal/main'), 'clusters.main.postgres.data_dir: /srv/wal/main/data is inside /srv/wal/main, the wal_dir of cluster main, on pg1'],
  ])('rejects %s', (_what, text, expected) => {
    const found = messages(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(expected);
  });

  it('does not compare directories of different hosts', () => {
    const text = `hosts:
  pg1: { address: 192.0.2.11 }
  e1: { address: 192.0.2.21 }
etcd:
  dc1: { hosts: [e1], data_dir: /srv/pg/main/etcd }
clusters:
  main:
    hosts: [pg1]
    postgres: { data_dir: /srv/pg/main }
`;
    expect(messages(text)).toEqual([]);
  });
});
