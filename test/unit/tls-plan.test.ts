import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { buildModel } from '../../src/model/model.js';
import { withTestAccess } from '../support/tls-access.js';
import { etcdClient, patroniApi } from '../../src/model/endpoints.js';
import { certificateExtensions } from '../../src/pki/sign.js';
import { parseSans, sanText, type CertificateInfo } from '../../src/pki/x509.js';
import { planEtcdAuth } from '../../src/tasks/etcd/auth.js';
import { etcdContext } from '../../src/tasks/etcd/context.js';
import { haproxyContext } from '../../src/tasks/haproxy/context.js';
import { hbaEntries } from '../../src/tasks/patroni/model.js';
import { certificatesOn, etcdTls, postgresSans, tlsHosts, tlsNeeded } from '../../src/tasks/tls/model.js';
import { reissueReason } from '../../src/tasks/tls/plan.js';
import { tlsComponent } from '../../src/tasks/tls/component.js';
import { Secret } from '../../src/secret.js';
import YAML from 'yaml';
import { renderTemplate } from '../../src/render/templates.js';
import { patroniContext } from '../../src/tasks/patroni/context.js';

const inventoryText = (tls: boolean) => `hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
  pg3: { address: 192.0.2.13 }
  lb1: { address: lb1.example.net }
etcd:
  dc1: { hosts: [pg1, pg2, pg3] }
clusters:
  main:
    hosts: [pg1, pg2, pg3]
    tls: ${tls}
    haproxy: { hosts: [lb1] }
    vip: { address: 192.0.2.100, interface: eth0, router_id: 51 }
`;

const load = (tls: boolean) => parseInventory(inventoryText(tls), 'inv.yml').inventory;

describe('TLS is the default', () => {
  it('on unless the cluster says tls: false, with no warning', () => {
    const loaded = parseInventory(inventoryText(true).replace('    tls: true\n', ''), 'inv.yml');
    expect(loaded.inventory.clusters['main']!.tls).toBe(true);
    expect(tlsNeeded(loaded.inventory)).toBe(true);
    expect(etcdTls(loaded.inventory, 'dc1')).toBe(true);
    expect(loaded.warnings.filter((w) => /tls/.test(w.message))).toEqual([]);
  });

  it('tls: false: no certificates, no CA, plain etcd and host rules, and a one-line warning naming the cluster', () => {
    const loaded = parseInventory(inventoryText(false), 'inv.yml');
    const { inventory } = loaded;
    expect(inventory.clusters['main']!.tls).toBe(false);
    expect(tlsNeeded(inventory)).toBe(false);
    expect(etcdTls(inventory, 'dc1')).toBe(false);
    expect(certificatesOn(inventory, 'pg1')).toEqual([]);
    expect(etcdContext(inventory, 'dc1', 'pg1').listenClientUrls).toBe('http://192.0.2.11:2379,http://127.0.0.1:2379');
    expect(etcdContext(inventory, 'dc1', 'pg1').tls).toBeUndefined();
    expect(hbaEntries(inventory, 'main').filter((l) => l.startsWith('hostssl'))).toEqual([]);
    expect(loaded.warnings.map((w) => w.message).filter((m) => /tls/.test(m))).toEqual([
      "clusters.main.tls: is false: cluster main runs PostgreSQL and Patroni's REST API without TLS and etcd dc1 without TLS or authentication: remove tls: false to use TLS (the default) (inv.yml:11)",
    ]);
  });

  it('tls: false beside a TLS cluster on the same etcd: the warning does not claim etcd is open', () => {
    const text = inventoryText(false).replace('  lb1: { address: lb1.example.net }\n', '  lb1: { address: lb1.example.net }\n  pg4: { address: 192.0.2.14 }\n') + '  other: { hosts: [pg4] }\n';
    const loaded = parseInventory(text, 'inv.yml');
    expect(etcdTls(loaded.inventory, 'dc1')).toBe(true);
    expect(loaded.warnings.map((w) => w.message).filter((m) => /tls/.test(m))).toEqual([
      "clusters.main.tls: is false: cluster main runs PostgreSQL and Patroni's REST API without TLS: remove tls: false to use TLS (the default) (inv.yml:12)",
    ]);
  });
});

describe('a live cluster without TLS meets an inventory that wants TLS', () => {
  it('an etcd cluster no Patroni cluster uses yet serves TLS too (the default), so a cluster added later finds it secured', () => {
    const text = `hosts:
  pg1: { address: 192.0.2.11 }
  pg4: { address: 192.0.2.14 }
etcd:
  dc1: { hosts: [pg1] }
  dc2: { hosts: [pg4] }
clusters:
  main: { hosts: [pg1], etcd: dc1 }
`;
    const inventory = parseInventory(text, 'inv.yml').inventory;
    expect(Object.keys(inventory.etcd)).toEqual(['dc1', 'dc2']);
    expect(etcdTls(inventory, 'dc2')).toBe(true);
    expect(certificatesOn(inventory, 'pg4').map((c) => c.service)).toEqual(['etcd']);
  });

  it('the conversion gate runs with the TLS gates, before any change', () => {
    const model = buildModel(load(true));
    expect(tlsComponent.stages.gates!(model).map((g) => g.id)).toEqual(['gate:tls', 'gate:tls-conversion']);
  });
});

describe('TLS on a cluster', () => {
  it('tls: true: etcd https with verified peers, hostssl rules, HAProxy verifies the REST API', () => {
    const inventory = load(true);
    const ctx = etcdContext(inventory, 'dc1', 'pg2');
    expect(ctx.listenClientUrls).toBe('https://192.0.2.12:2379,https://127.0.0.1:2379');
    expect(ctx.initialCluster).toBe('pg1=https://192.0.2.11:2380,pg2=https://192.0.2.12:2380,pg3=https://192.0.2.13:2380');
    expect(ctx.tls).toEqual({ certFile: '/etc/hapg/tls/etcd.crt', keyFile: '/etc/hapg/tls/etcd.key', caFile: '/etc/hapg/tls/ca.crt' });
    const hba = hbaEntries(inventory, 'main');
    expect(hba.filter((l) => /^host /.test(l))).toEqual(['host all postgres,replicator,rewind_user,hapg_check 0.0.0.0/0 reject', 'host all postgres,replicator,rewind_user,hapg_check ::/0 reject']);
    expect(hba).toContain('hostssl replication replicator 192.0.2.12/32 scram-sha-256');
    const model = buildModel(inventory);
    expect(haproxyContext(model, 'lb1').clusters[0]!.checkTls).toBe(' check-ssl verify required ca-file /etc/hapg/tls/ca.crt');
    expect(tlsHosts(inventory)).toEqual(['pg1', 'pg2', 'pg3', 'lb1']);
  });
});

describe('certificate names', () => {
  it("PostgreSQL's certificate names the member, loopback, the VIP and the HAProxy hosts (TCP passes through)", () => {
    expect(postgresSans(load(true), 'main', 'pg1').map(sanText)).toEqual([
      'DNS:pg1',
      'IP:192.0.2.11',
      'DNS:localhost',
      'IP:127.0.0.1',
      'IP:192.0.2.100',
      'DNS:lb1',
      'DNS:lb1.example.net',
    ]);
  });

  it("etcd's certificate names the member and loopback; an HAProxy-only host gets none", () => {
    const inventory = load(true);
    expect(certificatesOn(inventory, 'pg3').map((c) => [c.service, c.owner, c.sans.map(sanText).join(',')])).toEqual([
      ['etcd', 'etcd', 'DNS:pg3,IP:192.0.2.13,DNS:localhost,IP:127.0.0.1'],
      ['postgres', 'postgres', expect.stringMatching(/^DNS:pg3,IP:192\.0\.2\.13,/)],
    ]);
    expect(certificatesOn(inventory, 'lb1')).toEqual([]);
  });

  it('extensions come from hapg, not from the request: no CA, the usage asked, the SANs', () => {
    const ext = certificateExtensions({ sans: [{ kind: 'DNS', value: 'pg1' }, { kind: 'IP', value: '192.0.2.11' }], usage: 'server-and-client' });
    expect(ext).toContain('basicConstraints = critical, CA:FALSE');
    expect(ext).toContain('extendedKeyUsage = serverAuth, clientAuth');
    expect(ext).toContain('subjectAltName = DNS:pg1, IP:192.0.2.11');
    expect(certificateExtensions({ sans: [], usage: 'client' })).not.toContain('subjectAltName');
  });

  it("parses node's subjectAltName text", () => {
    expect(parseSans('DNS:pg1, IP Address:192.0.2.11, IP Address:2001:DB8::1')).toEqual([
      { kind: 'DNS', value: 'pg1' },
      { kind: 'IP', value: '192.0.2.11' },
      { kind: 'IP', value: '2001:db8::1' },
    ]);
  });
});

describe('when a certificate is issued anew', () => {
  const inventory = load(true);
  const want = certificatesOn(inventory, 'pg1')[0]!;
  const now = new Date('2027-01-01T00:00:00Z');
  const signer = { fingerprint256: 'CA' } as CertificateInfo;
  // A stand-in for a parsed certificate: issuedBy() asks x509 whether the signer issued it.
  const cert = (days: number, sans = want.sans, issued = true): CertificateInfo =>
    ({
      sans,
      notAfter: new Date(now.getTime() + days * 86_400_000),
      publicKey: 'PUB',
      x509: { checkIssued: () => issued, verify: () => issued, issuer: 'O=other' } as unknown as X509Certificate,
    }) as CertificateInfo;
  signer.x509 = {} as X509Certificate;

  it.each([
    ['none yet', undefined, 'none yet'],
    ['valid', { cert: cert(200), keyPublic: 'PUB' }, undefined],
    ['inside the renewal window', { cert: cert(10), keyPublic: 'PUB' }, 'it expires in 10 days (renewal window 30 days)'],
    ['expired', { cert: cert(-2), keyPublic: 'PUB' }, /^it expired on /],
    ['names changed', { cert: cert(200, want.sans.slice(0, 2)), keyPublic: 'PUB' }, 'its names changed (+DNS:localhost, +IP:127.0.0.1)'],
    ['another key', { cert: cert(200), keyPublic: 'OTHER' }, 'it does not match its key'],
    ['key missing', { cert: cert(200), keyPublic: undefined }, 'its key is missing'],
    ['another CA', { cert: cert(200, want.sans, false), keyPublic: 'PUB' }, /^not issued by the current CA/],
  ])('%s', (_name, held, expected) => {
    const reason = reissueReason(want, held as Parameters<typeof reissueReason>[1], signer, 30, now);
    if (expected instanceof RegExp) expect(reason).toMatch(expected);
    else expect(reason).toBe(expected);
  });
});

describe('endpoints of TLS clusters', () => {
  it('a command that loaded no TLS material cannot call them: one line naming the service, never a plain-HTTP request', () => {
    const bare = buildModel(load(true));
    expect(() => etcdClient(bare, 'dc1').health()).toThrow(/^etcd cluster dc1 speaks TLS, and this command loaded no TLS material to reach it/);
    expect(() => patroniApi(bare, 'main').state('pg1')).toThrow(/^Patroni's REST API of cluster main speaks TLS, and this command loaded no TLS material/);
    const loaded = withTestAccess(buildModel(load(true)));
    expect(etcdClient(loaded, 'dc1').health().http.tls?.ca).toBe('TEST CA');
    expect(patroniApi(loaded, 'main').state('pg1').http.tls?.ca).toBe('TEST CA');
    expect(etcdClient(buildModel(load(false)), 'dc1').health().http.tls).toBeUndefined();
  });
});

describe('etcd authentication plan', () => {
  const inventory = load(true);
  const model = withTestAccess(buildModel(inventory));
  const secrets = new Map([
    ['etcd.dc1.root', new Secret('root-password-0123456789')],
    ['clusters.main.etcd', new Secret('patroni-password-0123456789')],
  ]);

  it('adds root and the cluster user with a role on its own prefix, enables authentication last; no password in titles or printed bodies', () => {
    const items = planEtcdAuth(model, 'dc1', 'pg1', { enabled: false, users: [], roles: [] }, secrets);
    expect(items.map((i) => (i.kind === 'noop' ? i.reason : i.title))).toEqual([
      'etcd dc1: add user root',
      'etcd dc1: grant role root to user root',
      'etcd dc1: add role patroni-main',
      'etcd dc1: role patroni-main reads and writes /service/main/* only',
      'etcd dc1: add user patroni-main',
      'etcd dc1: grant role patroni-main to user patroni-main',
      'etcd dc1: enable authentication',
    ]);
    const printed = JSON.stringify(items);
    expect(printed).not.toContain('password-0123456789');
    const grant = items[3] as { body: { perm: { key: string; range_end: string } } };
    expect(Buffer.from(grant.body.perm.key, 'base64').toString()).toBe('/service/main/');
    expect(Buffer.from(grant.body.perm.range_end, 'base64').toString()).toBe('/service/main0');
  });

  it('gives a user to a cluster that opted out of TLS but shares the TLS etcd', () => {
    const mixed = withTestAccess(
      buildModel(
        parseInventory(inventoryText(true).replace('  lb1: { address: lb1.example.net }', '  lb1: { address: lb1.example.net }\n  pg4: { address: 192.0.2.14 }') + '  side:\n    hosts: [pg4]\n    tls: false\n', 'inv.yml').inventory,
      ),
    );
    const both = new Map([...secrets, ['clusters.side.etcd', new Secret('side-password-0123456789')]]);
    const titles = planEtcdAuth(mixed, 'dc1', 'pg1', { enabled: true, users: ['root', 'patroni-main'], roles: ['root', 'patroni-main'] }, both).map((i) => (i.kind === 'noop' ? i.reason : i.title));
    expect(titles).toEqual([
      'etcd dc1: add role patroni-side',
      'etcd dc1: role patroni-side reads and writes /service/side/* only',
      'etcd dc1: add user patroni-side',
      'etcd dc1: grant role patroni-side to user patroni-side',
    ]);
  });

  it('nothing to do once authentication is on and the users exist', () => {
    const items = planEtcdAuth(model, 'dc1', 'pg1', { enabled: true, users: ['root', 'patroni-main'], roles: ['root', 'patroni-main'] }, secrets);
    expect(items).toEqual([{ kind: 'noop', host: 'pg1', reason: 'etcd dc1: authentication on, users and roles as wanted' }]);
  });
});

describe('standby clusters and TLS', () => {
  const pair = (mainTls: string, drTls: string, source = 'haproxy') => `hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
  pg3: { address: 192.0.2.13 }
  pg4: { address: 192.0.2.14 }
etcd:
  dc1: { hosts: [pg1] }
  dc2: { hosts: [pg3] }
clusters:
  main: { hosts: [pg1, pg2], etcd: dc1, haproxy: {}, vip: { address: 192.0.2.100, interface: eth0, router_id: 51 }${mainTls} }
  dr: { hosts: [pg3, pg4], etcd: dc2, standby: { cluster: main, source: ${source} }${drTls} }
`;
  const secrets = new Map(
    ['main', 'dr'].flatMap((c) => ['superuser', 'replication', 'rewind', 'rest_api', 'etcd'].map((s) => [`clusters.${c}.${s}`, new Secret(`${c}-${s}`)] as const)),
  );

  it('a mixed pair (one side tls, the other not) is refused in one line naming both', () => {
    expect(() => parseInventory(pair(', tls: false', ', tls: true'), 'inv.yml')).toThrow(/clusters\.dr\.tls: standby cluster dr has tls: true but its source cluster main has tls: false: set the same tls on both/);
    expect(() => parseInventory(pair(', tls: true', ', tls: false'), 'inv.yml')).toThrow(/standby cluster dr has tls: false but its source cluster main has tls: true/);
    expect(parseInventory(pair(', tls: false', ', tls: false'), 'inv.yml').inventory.clusters['dr']!.tls).toBe(false);
  });

  for (const source of ['haproxy', 'vip', 'members']) {
    it(`source ${source}: the standby verifies the source by name (verify-full, the shared CA), every address it may connect to is in the source's certificates`, () => {
      const inventory = parseInventory(pair(', tls: true', ', tls: true', source), 'inv.yml').inventory;
      const model = buildModel(inventory);
      const doc = YAML.parse(renderTemplate('patroni/patroni.yml', patroniContext(model, 'dr', 'pg3', secrets).context));
      // Patroni builds the standby leader's primary_conninfo (and its base backup) from standby_cluster's host and authentication.replication.
      expect(doc.postgresql.authentication.replication).toEqual({ username: 'replicator', password: 'dr-replication', sslmode: 'verify-full', sslrootcert: '/etc/hapg/tls/ca.crt' });
      expect(doc.postgresql.parameters).toMatchObject({ ssl: 'on', ssl_cert_file: '/etc/hapg/tls/postgres.crt' });
      const hosts = String(doc.bootstrap.dcs.standby_cluster.host).split(',');
      for (const member of ['pg1', 'pg2']) {
        const names = postgresSans(inventory, 'main', member).map(sanText);
        for (const h of hosts) expect(names).toContain(`IP:${h}`);
      }
      // One CA per inventory: both clusters' hosts trust the same bundle.
      expect(certificatesOn(inventory, 'pg3').find((c) => c.service === 'postgres')).toBeDefined();
      // The source admits the standby's hosts (and HAProxy's, through which it may come) over TLS only.
      const hba = hbaEntries(inventory, 'main');
      for (const h of ['192.0.2.13', '192.0.2.14']) expect(hba).toContain(`hostssl replication replicator ${h}/32 scram-sha-256`);
      expect(hba.filter((l) => /^host replication/.test(l))).toEqual([]);
      // The standby's own replicas stream from its standby leader over verified TLS too.
      expect(hbaEntries(inventory, 'dr')).toContain('hostssl replication replicator 192.0.2.14/32 scram-sha-256');
    });
  }

  it('without TLS on both sides: plain host rules and no ssl settings', () => {
    const inventory = parseInventory(pair(', tls: false', ', tls: false'), 'inv.yml').inventory;
    const doc = YAML.parse(renderTemplate('patroni/patroni.yml', patroniContext(buildModel(inventory), 'dr', 'pg3', secrets).context));
    expect(doc.postgresql.authentication.replication).toEqual({ username: 'replicator', password: 'dr-replication' });
    expect(hbaEntries(inventory, 'main')).toContain('host replication replicator 192.0.2.13/32 scram-sha-256');
  });
});

describe('the CA on the operator machine', () => {
  it('an inventory CA without its key is refused before any host is touched; a key open to others is refused', async () => {
    const { mkdtemp, writeFile, chmod } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { createCa } = await import('../../src/pki/ca.js');
    const { prepareTls } = await import('../../src/pki/material.js');
    const dir = await mkdtemp(path.join(tmpdir(), 'hapg-unit-ca-'));
    const ca = await createCa('unit');
    await writeFile(path.join(dir, 'ca.crt'), ca.cert);
    await writeFile(path.join(dir, 'ca.key'), ca.key, { mode: 0o644 });
    await chmod(path.join(dir, 'ca.key'), 0o644);
    const withCa = (extra: string) => parseInventory(`${inventoryText(true)}tls:\n  ca: { file: ca.crt${extra} }\n`, path.join(dir, 'inv.yml'));
    await expect(prepareTls(withCa(''), { createMissing: true })).rejects.toThrow(/set tls\.ca\.key_file/);
    await expect(prepareTls(withCa(', key_file: ca.key'), { createMissing: true })).rejects.toThrow(/has mode 0644, open to group or others/);
    await chmod(path.join(dir, 'ca.key'), 0o600);
    const ready = await prepareTls(withCa(', key_file: ca.key'), { createMissing: false });
    expect(ready.material?.ca.source).toBe('inventory');
    expect(ready.material?.client.cert).toMatch(/BEGIN CERTIFICATE/);
    expect(String(ready.material?.client.key)).toBe('***');
  });
});
