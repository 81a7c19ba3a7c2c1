import { describe, expect, it } from 'vitest';
import { addressIdentity } from '../../src/inventory/address-identity.js';
import { InventoryError } from '../../src/inventory/issues.js';
import { parseInventory } from '../../src/inventory/load.js';

describe('addressIdentity', () => {
  it.each([
    ['192.0.2.11', '192.0.2.11'],
    ['2001:db8::11', '2001:db8::11'],
    ['2001:DB8:0:0::11', '2001:db8::11'],
    ['2001:0db8:0000:0000:0000:0000:0000:0011', '2001:db8::11'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::FFFF:0a00:0001', '10.0.0.1'],
    ['0:0:0:0:0:ffff:10.0.0.1', '10.0.0.1'],
    ['DB1.Example.NET', 'db1.example.net'],
    ['db1.example.net.', 'db1.example.net'],
  ])('%s → %s', (address, identity) => {
    expect(addressIdentity(address)).toBe(identity);
  });
});

describe('duplicate addresses, however they are spelled', () => {
  const firstOf = (pair: string) => pair.split(' = ')[0] as string;
  const secondOf = (pair: string) => pair.split(' = ')[1] as string;
  /** Problems of an inventory whose hosts pg1 and pg2 have the two addresses of `pair` ("a = b"). */
  const problems = (pair: string, vip?: string) => {
    const text = `hosts:
  pg1: { address: ${JSON.stringify(firstOf(pair))} }
  pg2: { address: ${JSON.stringify(secondOf(pair))} }
etcd:
  dc1: { hosts: [pg1] }
clusters:
  main:
    hosts: [pg1, pg2]
${vip ? `    vip: { address: ${JSON.stringify(vip)}, interface: eth0, router_id: 51 }\n` : ''}`;
    try {
      parseInventory(text, 'inv.yml');
      return [];
    } catch (err) {
      if (err instanceof InventoryError) return err.issues.map((i) => i.problem);
      throw err;
    }
  };

  it.each([
    '2001:db8::11 = 2001:db8:0:0::11',
    '10.0.0.1 = ::ffff:10.0.0.1',
    'db1.example.net = DB1.example.net',
    'db1.example.net = db1.example.net.',
  ])('%s', (pair) => {
    expect(problems(pair)).toEqual([
      `${secondOf(pair)} is already the address of host pg1 (written ${firstOf(pair)}): each host needs an address of its own`,
    ]);
  });

  it('says nothing more when the spelling is the same', () => {
    expect(problems('192.0.2.11 = 192.0.2.11')).toEqual(['192.0.2.11 is already the address of host pg1: each host needs an address of its own']);
  });

  it('a VIP that is a host address spelled differently', () => {
    expect(problems('2001:db8::11 = 2001:db8::12', '2001:DB8::11')).toEqual([
      "2001:DB8::11 is the address of host pg1 (written 2001:db8::11): the VIP must be an unused address in the hosts' subnet",
    ]);
  });
});
