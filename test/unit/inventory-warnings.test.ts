import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';

const hosts = (names: string[], dc = 'dc1', net = '192.0.2') =>
  names.map((n, i) => `  ${n}: { address: ${net}.${i + 10}, datacenter: ${dc} }\n`).join('');

function warnings(text: string): string[] {
  return parseInventory(text, 'w.yml').warnings.map((w) => w.message);
}

describe('inventory warnings', () => {
  it('are returned, not thrown, one line each with path and line', () => {
    const ws = parseInventory(
      `hosts:\n${hosts(['pg1', 'pg2'])}etcd:\n  dc1: { hosts: [pg1, pg2] }\nclusters:\n  main: { hosts: [pg1, pg2] }\n`,
      'w.yml',
    ).warnings;
    expect(ws.length).toBe(2);
    for (const w of ws) {
      expect(w.message).not.toContain('\n');
      expect(w.message).toMatch(/^etcd\.dc1\.hosts: .* \(w\.yml:5\)$/);
      expect(w.line).toBe(5);
    }
  });

  it('warn about an even number of etcd members', () => {
    const text = `hosts:\n${hosts(['e1', 'e2', 'e3', 'e4', 'pg1'])}etcd:\n  dc1: { hosts: [e1, e2, e3, e4] }\nclusters:\n  main: { hosts: [pg1] }\n`;
    expect(warnings(text)).toEqual([
      'etcd.dc1.hosts: 4 members tolerate 1 failure, no more than 3 would: use an odd number of members (3 or 5) (w.yml:8)',
    ]);
  });

  it('warn that two etcd members tolerate no failure', () => {
    const text = `hosts:\n${hosts(['e1', 'e2', 'pg1'])}etcd:\n  dc1: { hosts: [e1, e2] }\nclusters:\n  main: { hosts: [pg1] }\n`;
    expect(warnings(text)).toEqual([
      'etcd.dc1.hosts: 2 members tolerate no failure, no more than 1 would: use an odd number of members (3 or 5) (w.yml:6)',
    ]);
  });

  it('warn about a single etcd member', () => {
    const text = `hosts:\n${hosts(['e1', 'pg1'])}etcd:\n  dc1: { hosts: [e1] }\nclusters:\n  main: { hosts: [pg1] }\n`;
    expect(warnings(text)[0]).toContain('a single etcd member is a single point of failure');
  });

  it('explain why etcd should not share hosts with PostgreSQL', () => {
    const text = `hosts:\n${hosts(['pg1', 'pg2', 'pg3'])}etcd:\n  dc1: { hosts: [pg1, pg2, pg3] }\nclusters:\n  main: { hosts: [pg1, pg2, pg3] }\n`;
    const [w] = warnings(text);
    expect(w).toContain('pg1, pg2 and pg3 also run PostgreSQL');
    expect(w).toContain('cannot renew the leader key within ttl');
    expect(w).toContain('needless failover');
  });

  it('say nothing about a dedicated etcd of three', () => {
    const text = `hosts:\n${hosts(['e1', 'e2', 'e3', 'pg1'])}etcd:\n  dc1: { hosts: [e1, e2, e3] }\nclusters:\n  main: { hosts: [pg1] }\n`;
    expect(warnings(text)).toEqual([]);
  });

  it('warn when a cluster keeps its leader key in another datacenter', () => {
    const text = `hosts:\n${hosts(['e1', 'e2', 'e3'])}${hosts(['pg1'], 'dc2', '198.51.100')}etcd:\n  dc1: { hosts: [e1, e2, e3] }\nclusters:\n  main: { hosts: [pg1] }\n`;
    expect(warnings(text)).toEqual([
      'clusters.main.etcd: etcd cluster dc1 is in another datacenter (dc1) than the cluster (dc2): a link failure between them demotes the leader; give each datacenter its own etcd and use a standby cluster (w.yml:9)',
    ]);
  });

  it('warn about one VRRP router id used by two VIPs in one datacenter', () => {
    const text = `hosts:\n${hosts(['e1', 'e2', 'e3', 'pg1', 'pg2'])}etcd:\n  dc1: { hosts: [e1, e2, e3] }
clusters:
  a: { hosts: [pg1], vip: { address: 192.0.2.200, interface: eth0, router_id: 7 } }
  b: { hosts: [pg2], vip: { address: 192.0.2.201, interface: eth0, router_id: 7 } }
`;
    const [w] = warnings(text);
    expect(w).toMatch(/^clusters\.b\.vip\.router_id: 7 is also the router_id of cluster a's VIP in the same datacenter/);
  });
});
