import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFileStates } from '../../src/facts/files.js';
import { parseDpkgQuery } from '../../src/facts/packages.js';
import { parseSystemctlShow } from '../../src/facts/services.js';
import { parseDf, parseKeyValue, parseSs } from '../../src/facts/system.js';
import { parseMemberList } from '../../src/tasks/etcd/facts.js';
import { parseClusterView, parsePatroniState } from '../../src/tasks/patroni/rest.js';
import { parseHaproxyCsv } from '../../src/tasks/haproxy/stats.js';

/** Outputs captured from a deployed lab host (Debian 12, Patroni 3.0.2, etcd 3.4, HAProxy 2.6). */
const fixture = (name: string) => readFileSync(new URL(`../fixtures/facts/${name}`, import.meta.url), 'utf8');

describe('system fact parsers', () => {
  it('parses os-release', () => {
    const kv = parseKeyValue(fixture('os-release.txt'));
    expect(kv.get('ID')).toBe('debian');
    expect(kv.get('VERSION_ID')).toBe('12');
    expect(kv.get('PRETTY_NAME')).toBe('Debian GNU/Linux 12 (bookworm)');
  });

  it('parses df for the nearest existing ancestor', () => {
    const d = parseDf(fixture('df.txt'));
    expect(d).toMatchObject({ path: '/var/lib', mount: '/' });
    expect(d.availableBytes).toBe(80571616 * 1024);
    expect(d.totalBytes).toBe(264212084 * 1024);
  });

  it('rejects df output it does not understand', () => {
    expect(() => parseDf('/x\ngarbage')).toThrow(/unexpected df output/);
  });

  it('parses ss listening sockets with process names, IPv4 and IPv6', () => {
    const sockets = parseSs(fixture('ss-tlnp.txt'));
    expect(sockets).toContainEqual({ address: '0.0.0.0', port: 22, process: 'sshd' });
    expect(sockets).toContainEqual({ address: '::', port: 22, process: 'sshd' });
    expect(sockets).toContainEqual({ address: '10.213.77.11', port: 2380, process: 'etcd' });
    expect(sockets).toContainEqual({ address: '0.0.0.0', port: 8008, process: 'patroni' });
    expect(sockets).toHaveLength(11);
  });

  it('parses systemctl show blocks, an unknown unit as not loaded', () => {
    const states = parseSystemctlShow(fixture('systemctl-show.txt'));
    expect(states.get('etcd')).toMatchObject({ loaded: true, active: 'active', enabled: 'enabled' });
    expect(states.get('patroni')).toMatchObject({ loaded: true, active: 'active' });
    expect(states.get('nosuch')).toMatchObject({ loaded: false, active: 'inactive' });
  });

  it('parses dpkg-query: unknown packages are absent', () => {
    expect([...parseDpkgQuery(fixture('dpkg-query.txt'))].sort()).toEqual(['etcd-server', 'patroni']);
  });

  it('parses file states, absent files as null', () => {
    const states = parseFileStates(`${'a'.repeat(64)} 600 postgres postgres /etc/patroni/patroni.yml\n- - - - /etc/haproxy/haproxy.cfg\n`);
    expect(states.get('/etc/patroni/patroni.yml')).toEqual({ sha256: 'a'.repeat(64), mode: 0o600, owner: 'postgres', group: 'postgres' });
    expect(states.get('/etc/haproxy/haproxy.cfg')).toBeNull();
  });
});

describe('service API parsers', () => {
  it('reads the leader from /patroni: role master → leader, its streaming replicas', () => {
    const s = parsePatroniState(fixture('patroni-leader.json'));
    expect(s).toMatchObject({ role: 'leader', state: 'running', timeline: 1, systemId: '7710846471947005033', version: '3.0.2', scope: 'main' });
    expect(s.replication.map((r) => [r.applicationName, r.state])).toEqual([
      ['pg2', 'streaming'],
      ['pg3', 'streaming'],
    ]);
  });

  it('reads a replica from /patroni: null timeline is unknown', () => {
    const s = parsePatroniState(fixture('patroni-replica.json'));
    expect(s).toMatchObject({ role: 'replica', state: 'running', timeline: undefined, pendingRestart: false });
    expect(s.walPosition).toBe(s.replayedPosition);
  });

  it('reads /cluster', () => {
    const v = parseClusterView(fixture('patroni-cluster.json'));
    expect(v.members.map((m) => [m.name, m.role, m.timeline, m.lag])).toEqual([
      ['pg1', 'leader', 1, undefined],
      ['pg2', 'replica', 1, 0],
      ['pg3', 'replica', 1, 0],
    ]);
  });

  it('reads HAProxy stats CSV servers, not frontends or backends', () => {
    const servers = parseHaproxyCsv(fixture('haproxy-stats.csv'));
    expect(servers.filter((s) => s.proxy === 'main_read_write')).toEqual([
      { proxy: 'main_read_write', server: 'pg1', status: 'UP', checkStatus: 'L7OK' },
      { proxy: 'main_read_write', server: 'pg2', status: 'DOWN', checkStatus: 'L7STS' },
      { proxy: 'main_read_write', server: 'pg3', status: 'DOWN', checkStatus: 'L7STS' },
    ]);
    expect(servers.some((s) => s.server === 'FRONTEND' || s.server === 'BACKEND')).toBe(false);
  });

  it('reads the etcd member list', () => {
    expect(parseMemberList(fixture('etcd-members.json')).map((m) => m.name).sort()).toEqual(['pg1', 'pg2', 'pg3']);
  });
});
