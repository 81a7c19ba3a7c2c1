import { describe, expect, it } from 'vitest';
import {
  checkClock,
  checkDisks,
  checkOs,
  checkPorts,
  checkPostgresVersion,
  checkPrivilege,
  checkSystemd,
  formatBytes,
  worstVerdict,
} from '../../src/tasks/preflight/checks.js';
import type { HostRoles } from '../../src/tasks/preflight/host-roles.js';

const GiB = 1024 ** 3;
const roles: HostRoles = {
  host: 'pg1',
  roles: ['etcd:dc1', 'postgres:main'],
  ports: [
    { port: 2379, role: 'etcd dc1 client', owners: ['etcd'] },
    { port: 5432, role: 'postgres main', owners: ['postgres', 'patroni'] },
  ],
  dataPaths: [{ path: '/var/lib/postgresql/15/main', role: 'postgres main data' }],
  postgres: [{ cluster: 'main', version: 15 }],
  customMirror: false,
};
const disk = (free: number) => new Map([['/var/lib/postgresql/15/main', { path: '/var/lib', mount: '/', availableBytes: free, totalBytes: 100 * GiB }]]);

describe('preflight checks', () => {
  it.each([
    [{ id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' }, 'ok'],
    [{ id: 'debian', versionId: '13', codename: 'trixie', prettyName: 'Debian GNU/Linux 13 (trixie)' }, 'ok'],
    [{ id: 'debian', versionId: '11', codename: 'bullseye', prettyName: 'Debian GNU/Linux 11 (bullseye)' }, 'fail'],
    [{ id: 'ubuntu', versionId: '22.04', codename: 'jammy', prettyName: 'Ubuntu 22.04.4 LTS' }, 'fail'],
  ])('os %o → %s', (os, verdict) => {
    const r = checkOs(os);
    expect(r.verdict).toBe(verdict);
    if (verdict === 'fail') expect(r.detail).toContain(os.prettyName);
  });

  it('the PostgreSQL major is one the host\'s release ships, unless a mirror of the inventory provides it', () => {
    const bookworm = { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' };
    const trixie = { ...bookworm, versionId: '13', codename: 'trixie', prettyName: 'Debian GNU/Linux 13 (trixie)' };
    expect(checkPostgresVersion(roles, bookworm)).toMatchObject({ verdict: 'ok', summary: '15' });
    expect(checkPostgresVersion(roles, trixie)).toEqual({
      name: 'postgres',
      verdict: 'fail',
      summary: '15 unavailable',
      detail: "postgresql-15 is not in Debian 13's archive (Debian 12 ships 15, Debian 13 ships 17): set clusters.main.postgres.version to 17, or run the cluster on hosts of the release that ships 15",
    });
    expect(checkPostgresVersion({ ...roles, customMirror: true }, trixie).verdict).toBe('ok');
    expect(checkPostgresVersion({ ...roles, postgres: [] }, trixie)).toMatchObject({ verdict: 'ok', summary: '-' });
  });

  it.each([
    [{ systemd: true, state: 'running' }, 'ok'],
    [{ systemd: true, state: 'degraded' }, 'warn'],
    [{ systemd: false, state: 'offline' }, 'fail'],
  ])('systemd %o → %s', (init, verdict) => expect(checkSystemd(init).verdict).toBe(verdict));

  it.each([
    [50 * GiB, 'ok'],
    [5 * GiB, 'warn'],
    [1 * GiB, 'fail'],
  ])('disk with %d bytes free → %s', (free, verdict) => {
    const r = checkDisks(roles, disk(free));
    expect(r.verdict).toBe(verdict);
    if (verdict === 'fail') expect(r.detail).toMatch(/postgres main data/);
  });

  it('disk without a measurement warns instead of passing', () => {
    expect(checkDisks(roles, new Map()).verdict).toBe('warn');
  });

  it.each([
    [0.01, 'ok'],
    [0.5, 'warn'],
    [2.5, 'fail'],
  ])('clock spread %d s → %s', (spread, verdict) => expect(checkClock(0, spread).verdict).toBe(verdict));

  it('ports held by our own services pass (re-run on a live cluster)', () => {
    const r = checkPorts(roles, [
      { address: '0.0.0.0', port: 2379, process: 'etcd' },
      { address: '0.0.0.0', port: 5432, process: 'postgres' },
    ]);
    expect(r).toMatchObject({ verdict: 'ok', summary: 'free (2 ours)' });
  });

  it('a port held by a foreign process fails and names it', () => {
    const r = checkPorts(roles, [{ address: '0.0.0.0', port: 5432, process: 'nginx' }]);
    expect(r.verdict).toBe('fail');
    expect(r.detail).toBe('port 5432 (postgres main) is held by nginx');
  });

  it('privilege: root, sudo, and neither', () => {
    expect(checkPrivilege({ user: 'root', canBecomeRoot: true }).verdict).toBe('ok');
    expect(checkPrivilege({ user: 'deploy', canBecomeRoot: true }).summary).toBe('deploy+sudo');
    expect(checkPrivilege({ user: 'deploy', canBecomeRoot: false }).verdict).toBe('fail');
  });

  it('worst verdict and byte formatting', () => {
    expect(worstVerdict([checkPrivilege({ user: 'root', canBecomeRoot: true }), checkClock(0, 0.5)])).toBe('warn');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(80 * GiB)).toBe('80.0 GiB');
  });
});
