import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { buildModel } from '../../src/model/model.js';
import { renderTemplate } from '../../src/render/templates.js';
import { Secret } from '../../src/secret.js';
import { etcdContext, etcdPeerUrl } from '../../src/tasks/etcd/context.js';
import { planMembership } from '../../src/tasks/etcd/members.js';
import { haproxyContext } from '../../src/tasks/haproxy/context.js';
import { patroniContext } from '../../src/tasks/patroni/context.js';
import { hbaEntries } from '../../src/tasks/patroni/model.js';
import { planPatroniMember } from '../../src/tasks/patroni/plan.js';
import { clustersToPause, conversionOf, etcdConversionStart, etcdVersionRefusal, livePeerScheme, passesOf, restApiPlainFact, restApiTlsFact, servesBothSchemes } from '../../src/tasks/tls/conversion.js';
import { clusterMode, etcdMode, patroniEtcdSecure } from '../../src/tasks/tls/model.js';
import { withTestAccess } from '../support/tls-access.js';

const http = (n: number) => [`http://192.0.2.1${n}:2380`];
const https = (n: number) => [`https://192.0.2.1${n}:2380`];

const inventory = parseInventory(
  `hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
  pg3: { address: 192.0.2.13 }
etcd:
  dc1: { hosts: [pg1, pg2, pg3] }
clusters:
  main:
    hosts: [pg1, pg2, pg3]
    haproxy: { hosts: [pg1, pg2, pg3] }
`,
  'inv.yml',
).inventory;

const target = { etcd: { dc1: 'prepare' as const }, clusters: ['main'], start: 'prepare' as const };
const at = (pass: 'prepare' | 'peers' | 'clients'): Inventory => ({ ...inventory, tlsConversion: conversionOf(target, pass) });

describe('where a conversion to TLS stands, read from the hosts', () => {
  it.each([
    ['every member on http', [http(1), http(2), http(3)], 'http'],
    ['every member on https', [https(1), https(2), https(3)], 'https'],
    ['one member moved', [https(1), http(2), http(3)], 'mixed'],
    ['no member listed', [], undefined],
  ] as const)('peer scheme: %s', (_, urls, scheme) => {
    expect(livePeerScheme(urls)).toBe(scheme);
  });

  const conv = [{ name: 'conv', tls: true }];
  const plain = [{ name: 'conv', tls: false }];
  it.each([
    ['plaintext etcd, inventory wants TLS: from the start', 'http', false, 'prepare'],
    ['peers half moved (cut short): from the peers pass', 'mixed', false, 'peers'],
    ['peers moved, clients still served over both schemes: from the clients pass', 'https', true, 'clients'],
    ['TLS etcd, done', 'https', false, undefined],
    ['nothing runs yet', undefined, false, undefined],
  ] as const)('%s', (_, running, dual, start) => {
    expect(etcdConversionStart('dc1', running, dual, true, conv)).toBe(start);
  });

  it('plaintext that stays plaintext is left alone; TLS turned off on a running etcd is refused in one line', () => {
    expect(etcdConversionStart('dc1', 'http', false, false, plain)).toBeUndefined();
    expect(() => etcdConversionStart('dc1', 'https', false, false, plain)).toThrow(/^etcd cluster dc1 runs with TLS \(or is being converted to it\), but no cluster on it asks for TLS any more: hapg does not turn TLS off on a running cluster; nothing was changed$/);
    expect(() => etcdConversionStart('dc1', 'http', true, false, plain)).toThrow(/does not turn TLS off/);
  });

  it('converts etcd 3.5 and later; refuses etcd 3.4 (no http and https on one port) in one line', () => {
    expect(etcdVersionRefusal('dc1', '3.5.16', ['conv'])).toBeUndefined();
    expect(etcdVersionRefusal('dc1', '3.10.0', ['conv'])).toBeUndefined();
    expect(etcdVersionRefusal('dc1', '3.4.23', ['conv'])?.message).toBe(
      'etcd cluster dc1 runs etcd 3.4.23 without TLS, and the inventory asks for TLS: converting it live needs etcd 3.5 or later (it serves clients over http and https on one port during the move; etcd 3.4 does not); nothing was changed',
    );
    expect(etcdVersionRefusal('dc1', undefined, ['conv'])?.message).toMatch(/runs etcd \(version unknown\)/);
  });

  it('reads an environment file serving clients over both schemes', () => {
    expect(servesBothSchemes('ETCD_LISTEN_CLIENT_URLS="http://a:2379,https://a:2379"\n')).toBe(true);
    expect(servesBothSchemes('ETCD_LISTEN_CLIENT_URLS="https://a:2379,https://127.0.0.1:2379"\n')).toBe(false);
    expect(servesBothSchemes('ETCD_LISTEN_CLIENT_URLS="http://a:2379"\n')).toBe(false);
  });

  it('runs the passes from where it stands; an etcd cluster that got further is never taken back', () => {
    expect(passesOf(target)).toEqual(['prepare', 'peers', 'clients', 'final']);
    expect(passesOf({ ...target, start: 'clients' })).toEqual(['clients', 'final']);
    const mixed = { etcd: { dc1: 'peers' as const, dc2: 'prepare' as const }, clusters: [], start: 'prepare' as const };
    expect(conversionOf(mixed, 'prepare').etcd).toEqual({ dc1: 'dual-peers-tls', dc2: 'dual' });
    expect(conversionOf(mixed, 'peers').etcd).toEqual({ dc1: 'dual-peers-tls', dc2: 'dual-peers-tls' });
    expect(conversionOf(mixed, 'clients').etcd).toEqual({ dc1: 'dual-clients-tls', dc2: 'dual-clients-tls' });
  });

  it('pauses the clusters it converts and every cluster on an etcd cluster it converts', () => {
    expect(clustersToPause(buildModel(inventory), target)).toEqual(['main']);
    expect(clustersToPause(buildModel(inventory), { etcd: {}, clusters: [], start: 'prepare' })).toEqual([]);
  });

  it('probes the REST API in plain HTTP only, and reads an answer as plaintext only when it is Patroni state', () => {
    const fact = restApiPlainFact(8008, '192.0.2.11');
    expect(fact.http).toEqual({ method: 'GET', address: '192.0.2.11', port: 8008, path: '/patroni', timeoutMs: 5000 });
    expect(fact.parse({ status: 200, body: '{"state": "running", "role": "primary"}', headers: {} } as never)).toBe(true);
    expect(fact.parse(undefined)).toBe(false);
    expect(fact.parse({ status: 400, body: 'Bad Request', headers: {} } as never)).toBe(false);
    // Asked first, over TLS only: a TLS REST API never sees a plain request.
    const tls = restApiTlsFact(8008, '192.0.2.11', 'CA PEM');
    expect(tls.http).toEqual({ method: 'GET', address: '192.0.2.11', port: 8008, path: '/patroni', timeoutMs: 5000, tls: { ca: 'CA PEM' } });
    expect(tls.parse({ status: 200, body: '{"state": "running"}', headers: {} } as never)).toBe(true);
    expect(tls.parse(undefined)).toBe(false);
  });
});

describe('what each pass renders', () => {
  it('etcd: clients over both schemes on one port, then peers over https, then https only', () => {
    const prepare = etcdContext(at('prepare'), 'dc1', 'pg1');
    expect(etcdMode(at('prepare'), 'dc1')).toBe('dual');
    expect(prepare.listenClientUrls).toBe('http://192.0.2.11:2379,https://192.0.2.11:2379,http://127.0.0.1:2379,https://127.0.0.1:2379');
    expect(prepare.advertiseClientUrls).toBe('http://192.0.2.11:2379');
    expect(prepare.listenPeerUrls).toBe('http://192.0.2.11:2380');
    expect(prepare.tls).toBeDefined();
    const peers = etcdContext(at('peers'), 'dc1', 'pg1');
    expect([peers.listenPeerUrls, peers.advertisePeerUrls, etcdPeerUrl(at('peers'), 'dc1', 'pg1')]).toEqual(['https://192.0.2.11:2380', 'https://192.0.2.11:2380', 'https://192.0.2.11:2380']);
    expect(peers.listenClientUrls).toBe(prepare.listenClientUrls);
    expect(peers.advertiseClientUrls).toBe('http://192.0.2.11:2379');
    const clients = etcdContext(at('clients'), 'dc1', 'pg1');
    expect([clients.listenClientUrls, clients.advertiseClientUrls]).toEqual([prepare.listenClientUrls, 'https://192.0.2.11:2379']);
    const final = etcdContext(inventory, 'dc1', 'pg1');
    expect([final.listenClientUrls, final.advertiseClientUrls]).toEqual(['https://192.0.2.11:2379,https://127.0.0.1:2379', 'https://192.0.2.11:2379']);
    expect(renderTemplate('etcd/etcd.env', prepare)).toMatch(/^ETCD_CLIENT_CERT_AUTH="true"$/m);
  });

  it('PostgreSQL serves TLS and pg_hba admits both while the conversion prepares; TLS only from the clients pass', () => {
    expect(clusterMode(at('prepare'), 'main')).toBe('ssl-prepared');
    const both = hbaEntries(at('peers'), 'main');
    expect(both).toContain('hostssl replication replicator 192.0.2.12/32 scram-sha-256');
    expect(both).toContain('host replication replicator 192.0.2.12/32 scram-sha-256');
    const tls = hbaEntries(at('clients'), 'main');
    expect(tls).toContain('hostssl replication replicator 192.0.2.12/32 scram-sha-256');
    expect(tls).not.toContain('host replication replicator 192.0.2.12/32 scram-sha-256');
  });

  it("Patroni: REST API and etcd plain until the clients pass; HAProxy's checks follow the REST API", () => {
    const secrets = new Map(['superuser', 'replication', 'rewind', 'rest_api', 'etcd'].map((k) => [`clusters.main.${k}`, new Secret('pw')]));
    const context = (inv: Inventory) => patroniContext(withTestAccess(buildModel(inv)), 'main', 'pg1', secrets as never).context;
    const prepare = context(at('prepare'));
    expect(prepare.tls).toBeUndefined();
    expect(prepare.etcdTls).toBeUndefined();
    expect(prepare.postgres.localParameters.find((p) => p.name === 'ssl')?.value).toBe('"on"');
    expect(patroniEtcdSecure(at('peers'), 'main')).toBe(false);
    const clients = context(at('clients'));
    expect(clients.tls).toBeDefined();
    expect(clients.etcdTls).toBeDefined();
    expect(haproxyContext(buildModel(at('peers')), 'pg1').clusters[0]!.checkTls).toBe('');
    expect(haproxyContext(buildModel(at('clients')), 'pg1').clusters[0]!.checkTls).toMatch(/check-ssl verify required/);
  });

  it('Patroni restarts in the clients pass (it reads how it reaches etcd only at start), also when an earlier run wrote its file', () => {
    const model = withTestAccess(buildModel(at('clients')));
    const secrets = new Map(['superuser', 'replication', 'rewind', 'rest_api', 'etcd'].map((k) => [`clusters.main.${k}`, new Secret('pw')]));
    const running = { service: { active: 'active', enabled: 'enabled' } as never, state: { state: 'running' } as never, hasData: true };
    const changed = planPatroniMember(model, 'main', 'pg1', secrets as never, { ...running, files: new Map() });
    expect([changed.restart, changed.reload]).toEqual([true, false]);
    const written = (configNewer: boolean) => {
      const files = new Map(changed.files.map((f) => [f.path, { sha256: createHash('sha256').update(f.content).digest('hex'), mode: f.mode, owner: f.owner, group: f.group }] as const));
      return planPatroniMember(model, 'main', 'pg1', secrets as never, { ...running, files: files as never, configNewer });
    };
    expect(written(true).restart).toBe(true);
    expect(written(false).restart).toBe(false);
    const outside = planPatroniMember(withTestAccess(buildModel(inventory)), 'main', 'pg1', secrets as never, { ...running, files: new Map() });
    expect([outside.restart, outside.reload]).toEqual([false, true]);
  });

  it("an etcd member whose peer URL changes scheme only stays, its URL updated in place", () => {
    const live = [1, 2, 3].map((n) => ({ id: String(n), name: `pg${n}`, peerUrls: http(n), clientUrls: [], isLearner: false, healthy: true, detail: 'healthy' }));
    const wanted = [1, 2, 3].map((n) => ({ host: `pg${n}`, peerUrl: https(n)[0]!, hasData: true }));
    const plan = planMembership('dc1', wanted, live, { allowEven: false });
    expect([plan.replace, plan.add, plan.retire]).toEqual([[], [], []]);
    expect([...plan.rescheme]).toEqual([1, 2, 3].map((n) => [`pg${n}`, https(n)[0]]));
    expect(() => planMembership('dc1', [{ host: 'pg1', peerUrl: 'https://192.0.2.99:2380', hasData: true }, ...wanted.slice(1)], live, { allowEven: false })).toThrow(/does not move a running member to another address/);
  });
});
