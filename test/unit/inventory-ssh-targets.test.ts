import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { sshTargets } from '../../src/inventory/ssh-targets.js';

const TEXT = `ssh:
  user: deploy
  port: 22
  identity_files: [~/.ssh/id_ed25519, keys/lab_key]
  agent: true
  known_hosts: known_hosts
  connect_timeout: 5
  bastion: { address: jump.example.net, user: jump }
hosts:
  pg1: { address: 192.0.2.11 }
  pg2:
    address: 192.0.2.12
    ssh: { user: root, port: 2222, identity_files: [/etc/hapg/root_key], agent: false, connect_timeout: 20 }
  pg3:
    address: 192.0.2.13
    ssh: { sudo: false, bastion: { address: 203.0.113.10, port: 2200 } }
etcd:
  dc1: { hosts: [pg1, pg2, pg3] }
clusters:
  main: { hosts: [pg1, pg2, pg3] }
`;

describe('sshTargets', () => {
  const { inventory } = parseInventory(TEXT, 'inventories/site/prod.yml');
  const targets = sshTargets(inventory, 'inventories/site/prod.yml', { env: { SSH_AUTH_SOCK: '/run/agent.sock' }, home: '/home/op' });
  const dir = `${process.cwd()}/inventories/site`;

  it('builds one target per host, in inventory order', () => {
    expect(targets.map((t) => t.host)).toEqual(['pg1', 'pg2', 'pg3']);
  });

  it('applies the top-level settings: ~ expanded, relative paths from the inventory directory, timeout in ms', () => {
    expect(targets[0]).toEqual({
      host: 'pg1',
      address: '192.0.2.11',
      port: 22,
      user: 'deploy',
      identityFiles: ['/home/op/.ssh/id_ed25519', `${dir}/keys/lab_key`],
      agent: '/run/agent.sock',
      knownHosts: `${dir}/known_hosts`,
      connectTimeoutMs: 5000,
      sudo: true,
      bastion: {
        host: 'bastion jump.example.net',
        address: 'jump.example.net',
        port: 22,
        user: 'jump',
        identityFiles: ['/home/op/.ssh/id_ed25519', `${dir}/keys/lab_key`],
        agent: '/run/agent.sock',
        knownHosts: `${dir}/known_hosts`,
        connectTimeoutMs: 5000,
      },
    });
  });

  it('lets a host override each setting; root needs no sudo', () => {
    expect(targets[1]).toMatchObject({
      user: 'root',
      port: 2222,
      identityFiles: ['/etc/hapg/root_key'],
      agent: undefined,
      connectTimeoutMs: 20000,
      sudo: false,
    });
  });

  it('takes an explicit sudo and a per-host bastion', () => {
    expect(targets[2]?.sudo).toBe(false);
    expect(targets[2]?.bastion).toMatchObject({ address: '203.0.113.10', port: 2200, user: 'deploy' });
  });

  it('leaves the agent out when SSH_AUTH_SOCK is not set', () => {
    const noAgent = sshTargets(inventory, 'inventories/site/prod.yml', { env: {}, home: '/home/op' });
    expect(noAgent[0]?.agent).toBeUndefined();
  });

  it('has no bastion when none is configured', () => {
    const { inventory: plain } = parseInventory(TEXT.replace(/  bastion: .*\n/, '').replace(', bastion: { address: 203.0.113.10, port: 2200 }', ''), 'p.yml');
    expect(sshTargets(plain, 'p.yml').every((t) => t.bastion === undefined)).toBe(true);
  });
});
