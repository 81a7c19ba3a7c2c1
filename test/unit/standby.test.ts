import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';
import { CLUSTER_SECRETS, clusterSecretKey } from '../../src/inventory/secrets.js';
import { PatroniApi } from '../../src/model/endpoints.js';
import { buildModel } from '../../src/model/model.js';
import { clustersInOrder } from '../../src/model/topology.js';
import { patroniContext } from '../../src/tasks/patroni/context.js';
import { hbaEntries, standbyClusterConfig } from '../../src/tasks/patroni/model.js';
import { renderTemplate } from '../../src/render/templates.js';
import { Secret } from '../../src/secret.js';
import { prefixRangeEnd } from '../../src/tasks/etcd/facts.js';
import { dynamicConfigChanges, planDynamicConfig } from '../../src/tasks/patroni/dynamic-config.js';
import { clockSpread } from '../../src/tasks/preflight/run.js';
import { standbyProblems, strayslotMessages, type StandbyLink } from '../../src/tasks/status/gather.js';

const { inventory, path } = await loadInventory('inventories/two-datacenters.yml');
const model = buildModel(inventory);
const desiredDynamicConfig = (_inv: unknown, name: string) => model.cluster(name).dynamicConfig;
// A standby shares its source's roles: its keys hold main's secrets (as resolveSecrets does).
const secrets = new Map(
  ['main', 'dr'].flatMap((c) => CLUSTER_SECRETS.map((s) => [clusterSecretKey(c, s), new Secret(`${c === 'dr' && s !== 'rest_api' ? 'main' : c}-${s}`)] as const)),
);

describe('standby cluster rendering', () => {
  const doc = parseYaml(renderTemplate('patroni/patroni.yml', patroniContext(model, 'dr', 'dr1', secrets).context));

  it("bootstraps dr with bootstrap.dcs.standby_cluster: main's HAProxy hosts, its slot, base backup only", () => {
    expect(doc.bootstrap.dcs.standby_cluster).toEqual({
      host: '192.0.2.11,192.0.2.12,192.0.2.13',
      port: 5000,
      primary_slot_name: 'standby_dr',
      create_replica_methods: ['basebackup'],
    });
    expect(doc.postgresql.authentication.replication).toEqual({ username: 'replicator', password: 'main-replication', sslmode: 'verify-full', sslrootcert: '/etc/hapg/tls/ca.crt' });
  });

  it('keeps the standby slot on main (bootstrap and dynamic configuration) and no standby_cluster there', () => {
    const main = parseYaml(renderTemplate('patroni/patroni.yml', patroniContext(model, 'main', 'pg1', secrets).context));
    expect(main.bootstrap.dcs.slots).toEqual({ standby_dr: { type: 'physical' } });
    expect(main.bootstrap.dcs.standby_cluster).toBeUndefined();
    expect(desiredDynamicConfig(inventory, 'main').slots).toEqual({ standby_dr: { type: 'physical' } });
  });

  it("lets dr's hosts replicate from main, and nobody else beyond main's members", () => {
    const replication = hbaEntries(inventory, 'main').filter((e) => e.startsWith('hostssl replication'));
    expect(replication).toEqual(
      ['127.0.0.1/32', '::1/128', ...['192.0.2.11', '192.0.2.12', '192.0.2.13', '198.51.100.11', '198.51.100.12', '198.51.100.13'].map((a) => `${a}/32`)].map((a) => `hostssl replication replicator ${a} scram-sha-256`),
    );
  });

  it('reaches the source by VIP, HAProxy or member list; delays as PostgreSQL reads them', async () => {
    const text = await readFile(path, 'utf8');
    const variant = (lines: string[]) => parseInventory(text.replace(/^      source: haproxy .*$/m, lines.map((l) => `      ${l}`).join('\n')), path).inventory;
    expect(standbyClusterConfig(variant(['source: vip']), 'dr')).toMatchObject({ host: '192.0.2.100', port: 5000 });
    expect(standbyClusterConfig(variant(['source: members', 'recovery_min_apply_delay: 300000', "restore_command: 'cp /wal/%f %p'"]), 'dr')).toEqual({
      host: '192.0.2.11,192.0.2.12,192.0.2.13',
      port: 5432,
      primary_slot_name: 'standby_dr',
      create_replica_methods: ['basebackup'],
      recovery_min_apply_delay: '300000ms',
      restore_command: 'cp /wal/%f %p',
    });
  });

  it('deploys sources before their standby clusters', () => {
    expect(clustersInOrder({ ...inventory, clusters: { dr: inventory.clusters['dr']!, main: inventory.clusters['main']! } })).toEqual(['main', 'dr']);
  });
});

describe('standby dynamic configuration', () => {
  const live = () => JSON.parse(JSON.stringify(desiredDynamicConfig(inventory, 'dr'))) as Record<string, unknown>;

  it('adds a missing permanent slot on the source with PATCH /config', () => {
    const current = JSON.parse(JSON.stringify(desiredDynamicConfig(inventory, 'main'))) as Record<string, unknown>;
    delete current['slots'];
    const [step] = planDynamicConfig('pg1', new PatroniApi('main', 8008, { user: 'patroni', password: new Secret('x') }, () => '192.0.2.11'), desiredDynamicConfig(inventory, 'main'), current);
    expect(step).toMatchObject({ kind: 'http', method: 'PATCH', body: { slots: { standby_dr: { type: 'physical' } } } });
  });

  it("adjusts a standby's source in place, but never adds or removes standby_cluster", () => {
    const moved = live();
    (moved['standby_cluster'] as Record<string, unknown>)['port'] = 5432;
    expect(dynamicConfigChanges(moved, desiredDynamicConfig(inventory, 'dr'))).toEqual([{ key: 'standby_cluster.port', from: 5432, to: 5000 }]);
    const normal = live();
    delete normal['standby_cluster'];
    expect(dynamicConfigChanges(normal, desiredDynamicConfig(inventory, 'dr'))).toEqual([]);
    expect(dynamicConfigChanges(live(), desiredDynamicConfig(inventory, 'main')).map((c) => c.key)).not.toContain('standby_cluster');
  });
});

describe('standby status', () => {
  const link: StandbyLink = {
    source: 'main',
    standbyLeader: 'dr1',
    receiver: { status: 'streaming', senderHost: '192.0.2.11', slot: 'standby_dr' },
    sourceLeader: 'pg1',
    slot: { name: 'standby_dr', active: true, retainedBytes: 0, lagBytes: 0, lagSeconds: 0 },
  };

  it('is fine when streaming with an active slot', () => expect(standbyProblems(link)).toEqual([]));

  it('points out a slot no cluster of the inventory uses', () => {
    expect(strayslotMessages([{ name: 'standby_old', retainedBytes: 123 }], 'pg1')).toEqual([
      'slot standby_old on pg1 is inactive and not in the inventory; it holds back 123 bytes of WAL (if no standby uses it any more: patronictl edit-config, remove it from slots)',
    ]);
  });

  it('names a standby leader that does not stream, an inactive slot, a source without leader', () => {
    expect(standbyProblems({ ...link, receiver: undefined })).toEqual(['standby leader dr1 is not streaming from main (WAL receiver not running)']);
    expect(standbyProblems({ ...link, slot: { ...link.slot!, active: false, retainedBytes: 4096 } })).toEqual(['slot standby_dr on pg1 is inactive (it retains 4096 bytes of WAL)']);
    expect(standbyProblems({ ...link, sourceLeader: undefined, slot: undefined })).toEqual(['source cluster main has no running leader']);
  });

  it('names a link that still says streaming but has been silent longer than the receiver pings allow', () => {
    const receiver = { ...link.receiver!, pingAfterSeconds: 30 };
    expect(standbyProblems({ ...link, receiver: { ...receiver, silentSeconds: 34.9 } })).toEqual([]);
    expect(standbyProblems({ ...link, receiver: { ...receiver, silentSeconds: 41.2 } })).toEqual([
      'standby leader dr1 has heard nothing from main for 41.2 s (a live link carries a message every 30 s): the link looks cut',
    ]);
    // wal_receiver_timeout = 0: no pings, so silence on an idle source proves nothing.
    expect(standbyProblems({ ...link, receiver: { ...link.receiver!, silentSeconds: 600, pingAfterSeconds: undefined } })).toEqual([]);
  });
});

describe('helpers', () => {
  it('selects every key under an etcd prefix', () => {
    expect(prefixRangeEnd('/service/dr/').toString()).toBe('/service/dr0');
  });

  it('judges clock spread by what the readings prove, not by slow round trips', () => {
    expect(clockSpread([{ clockOffset: 0, clockUncertainty: 0.01 }, { clockOffset: 1.2, clockUncertainty: 1.25 }])).toBe(0);
    expect(clockSpread([{ clockOffset: 0, clockUncertainty: 0.01 }, { clockOffset: 3, clockUncertainty: 0.01 }])).toBeCloseTo(2.98);
  });
});

describe('standby inventory checks', () => {
  it('refuses a standby with a lower shared-memory parameter or another major version than its source', async () => {
    const text = await readFile(path, 'utf8');
    const lower = text.replace(/^(      version: 15 +# must match main's major version)$/m, '$1\n      parameters: { max_connections: 150 }');
    expect(() => parseInventory(lower, path)).toThrow(/clusters\.dr\.postgres\.parameters\.max_connections: is 150, lower than 200 on its source cluster main/);
    const other = text.replace(/^      version: 15( +# must match main's major version)$/m, '      version: 16$1');
    expect(() => parseInventory(other, path)).toThrow(/clusters\.dr\.postgres\.version: is 16, but its source cluster main runs 15/);
  });
});
