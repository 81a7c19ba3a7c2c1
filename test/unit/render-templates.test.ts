import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';
import { CLUSTER_SECRETS, clusterSecretKey } from '../../src/inventory/secrets.js';
import { buildModel } from '../../src/model/model.js';
import { etcdContext } from '../../src/tasks/etcd/context.js';
import { haproxyContext } from '../../src/tasks/haproxy/context.js';
import { keepalivedContext } from '../../src/tasks/keepalived/context.js';
import { namesToResolve, resolvedOnHost } from '../../src/tasks/keepalived/plan.js';
import { patroniContext } from '../../src/tasks/patroni/context.js';
import { renderTemplate } from '../../src/render/templates.js';
import { Secret } from '../../src/secret.js';

const loaded = await loadInventory('inventories/three-hosts.yml');
const inventory = loaded.inventory;
const model = buildModel(inventory);
const secrets = new Map(CLUSTER_SECRETS.map((s) => [clusterSecretKey('main', s), new Secret(`pw-${s}-"quoted"\\x`)]));

describe('patroni.yml', () => {
  const { context, secrets: used } = patroniContext(model, 'main', 'pg2', secrets);
  const text = renderTemplate('patroni/patroni.yml', context);
  const doc = parseYaml(text);

  it('parses back with the member, scope and etcd3 endpoints', () => {
    expect(doc.scope).toBe('main');
    expect(doc.name).toBe('pg2');
    expect(doc.namespace).toBe('/service/');
    expect(doc.etcd3.hosts).toEqual(['192.0.2.11:2379', '192.0.2.12:2379', '192.0.2.13:2379']);
    expect(doc.restapi.connect_address).toBe('192.0.2.12:8008');
    expect(doc.restapi.authentication.username).toBe('patroni');
    // Its own address only, never every interface.
    expect(doc.restapi.listen).toBe('192.0.2.12:8008');
  });

  it('carries passwords exactly (quotes and backslashes survive) and lists them for masking', () => {
    expect(doc.postgresql.authentication.superuser).toEqual({ username: 'postgres', password: 'pw-superuser-"quoted"\\x' });
    expect(doc.postgresql.authentication.replication.password).toBe('pw-replication-"quoted"\\x');
    expect(doc.restapi.authentication.password).toBe('pw-rest_api-"quoted"\\x');
    expect(used.map((s) => s.reveal()).sort()).toEqual(['superuser', 'replication', 'rewind', 'rest_api', 'etcd'].map((s) => `pw-${s}-"quoted"\\x`).sort());
  });

  it('seeds bootstrap.dcs from the inventory, inventory parameters over hapg base ones', () => {
    expect(doc.bootstrap.dcs).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576 });
    expect(doc.bootstrap.dcs.postgresql.use_pg_rewind).toBe(true);
    expect(doc.bootstrap.dcs.postgresql.parameters).toMatchObject({
      max_connections: 200,
      shared_buffers: '256MB',
      wal_level: 'replica',
      password_encryption: 'scram-sha-256',
    });
    expect(doc.bootstrap.initdb).toContain('data-checksums');
  });

  it("allows replication only locally (Patroni asks its replica's timeline) and from cluster members, with scram-sha-256", () => {
    const hba: string[] = doc.postgresql.pg_hba;
    // TLS is the default: replication is admitted over TLS only.
    const replication = hba.filter((l) => l.startsWith('hostssl replication'));
    expect(hba.filter((l) => l.startsWith('host replication'))).toEqual([]);
    expect(replication).toEqual([
      'hostssl replication replicator 127.0.0.1/32 scram-sha-256',
      'hostssl replication replicator ::1/128 scram-sha-256',
      'hostssl replication replicator 192.0.2.11/32 scram-sha-256',
      'hostssl replication replicator 192.0.2.12/32 scram-sha-256',
      'hostssl replication replicator 192.0.2.13/32 scram-sha-256',
    ]);
    expect(hba.at(-1)).toBe('host all all 192.0.2.0/24 scram-sha-256');
    expect(hba.some((l) => / (trust|md5|password)$/.test(l))).toBe(false);
    // The roles hapg and Patroni run on are rejected from anywhere else, before the inventory's own rules.
    const reject = hba.indexOf('host all postgres,replicator,rewind_user,hapg_check 0.0.0.0/0 reject');
    expect(reject).toBeGreaterThan(0);
    expect(hba[reject + 1]).toBe('host all postgres,replicator,rewind_user,hapg_check ::/0 reject');
    expect(hba.indexOf('host all all 192.0.2.0/24 scram-sha-256')).toBeGreaterThan(reject);
    expect(hba.some((l) => /^host\S* \S+ postgres /.test(l))).toBe(false);
  });

  it('runs PostgreSQL from the version bin dir on the member address', () => {
    expect(doc.postgresql.bin_dir).toBe('/usr/lib/postgresql/17/bin');
    expect(doc.postgresql.data_dir).toBe('/var/lib/postgresql/17/main');
    expect(doc.postgresql.listen).toBe('127.0.0.1,192.0.2.12:5432');
    expect(doc.tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false });
  });

  it('keeps a nofailover member from being the synchronous standby unless the inventory says otherwise', () => {
    const tagsOf = (tags: Record<string, boolean>) => {
      const inv = structuredClone(inventory);
      inv.hosts['pg2']!.tags = { ...inv.hosts['pg2']!.tags, ...tags };
      return parseYaml(renderTemplate('patroni/patroni.yml', patroniContext(buildModel(inv), 'main', 'pg2', secrets).context)).tags;
    };
    expect(tagsOf({ nofailover: true })).toMatchObject({ nofailover: true, nosync: true });
    expect(tagsOf({ nofailover: true, nosync: false })).toMatchObject({ nofailover: true, nosync: false });
    expect(tagsOf({ nosync: true })).toMatchObject({ nofailover: false, nosync: true });
  });

  it('renders the Patroni unit as the postgres user', () => {
    const unit = renderTemplate('patroni/patroni.service', { scope: 'main', name: 'pg2', configPath: '/etc/patroni/patroni.yml', etcdLocal: true });
    expect(unit).toMatch(/^User=postgres$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/patroni \/etc\/patroni\/patroni\.yml$/m);
    expect(unit).toMatch(/^KillMode=process$/m);
  });
});

describe('etcd environment', () => {
  it('lists every member in the initial cluster and listens on loopback too', () => {
    const text = renderTemplate('etcd/etcd.env', etcdContext(inventory, 'dc1', 'pg1'));
    const env = Object.fromEntries(
      text.split('\n').filter((l) => /^ETCD_/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), JSON.parse(l.slice(l.indexOf('=') + 1))]),
    );
    expect(env.ETCD_NAME).toBe('pg1');
    // TLS is the default: peers and clients over https.
    expect(env.ETCD_INITIAL_CLUSTER).toBe('pg1=https://192.0.2.11:2380,pg2=https://192.0.2.12:2380,pg3=https://192.0.2.13:2380');
    expect(env.ETCD_LISTEN_CLIENT_URLS).toBe('https://192.0.2.11:2379,https://127.0.0.1:2379');
    expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe('new');
    expect(env.ETCD_DATA_DIR).toBe('/var/lib/etcd/dc1');
  });
});

describe('haproxy.cfg', () => {
  const text = renderTemplate('haproxy/haproxy.cfg', haproxyContext(model, 'pg1'));
  const sections = parseHaproxy(text);

  it('routes the read-write port to the leader by /primary', () => {
    const rw = sections.get('listen main_read_write')!;
    // The host's own address and the VIP, never every interface.
    expect(rw.filter((l) => l.startsWith('bind '))).toEqual(['bind 192.0.2.11:5000', 'bind 192.0.2.100:5000']);
    expect(rw).toContain('option httpchk OPTIONS /primary');
    expect(rw.filter((l) => l.startsWith('server '))).toEqual([
      'server pg1 192.0.2.11:5432 check port 8008 check-ssl verify required ca-file /etc/hapg/tls/ca.crt',
      'server pg2 192.0.2.12:5432 check port 8008 check-ssl verify required ca-file /etc/hapg/tls/ca.crt',
      'server pg3 192.0.2.13:5432 check port 8008 check-ssl verify required ca-file /etc/hapg/tls/ca.crt',
    ]);
  });

  it('routes the read-only port to replicas within the failover lag', () => {
    const ro = sections.get('listen main_read_only')!;
    expect(ro).toContain('bind 192.0.2.11:5001');
    expect(ro).toContain('bind 192.0.2.100:5001');
    expect(ro).toContain('option httpchk OPTIONS /replica?lag=1048576');
    expect(ro).toContain('balance roundrobin');
  });

  it('has a stats listener and cuts sessions of a demoted leader', () => {
    // Unauthenticated, so on loopback unless the inventory says the host's address; hapg reads it through SSH.
    expect(sections.get('listen main_stats')).toContain('bind 127.0.0.1:7000');
    expect(sections.get('listen main_read_write')!.some((l) => l.includes('on-marked-down shutdown-sessions'))).toBe(true);
  });
});

describe('keepalived.conf', () => {
  it('one VRRP instance with unicast peers, the VIP and the HAProxy check', () => {
    const text = renderTemplate('keepalived/keepalived.conf', keepalivedContext(model, 'pg2', secrets).context);
    expect(text).toMatch(/vrrp_instance hapg_main \{/);
    expect(text).toMatch(/virtual_router_id 51\n/);
    expect(text).toMatch(/unicast_src_ip 192\.0\.2\.12\n/);
    expect(text).toMatch(/unicast_peer \{\n\s+192\.0\.2\.11\n\s+192\.0\.2\.13\n\s+\}/);
    expect(text).toMatch(/192\.0\.2\.100\/32 dev eth0/);
    expect(text).toMatch(/priority 149\n/);
    expect(text).toMatch(/track_script \{\n\s+check_haproxy\n/);
    // VRRP adverts are authenticated: keepalived reads the first 8 characters of the generated password.
    expect(text).toMatch(/authentication \{\n\s+auth_type PASS\n\s+auth_pass pw-vrrp-\n/);
    expect(balanced(text)).toBe(true);
  });

  it('without HAProxy the VIP follows the Patroni leader: keepalived on the members, checked on /primary', async () => {
    const text = (await import('node:fs')).readFileSync('inventories/three-hosts.yml', 'utf8').replace(/^    haproxy:.*\n(?:      .*\n)*/m, '');
    const noProxy = buildModel(parseInventory(text, 'no-haproxy.yml').inventory);
    expect(noProxy.hostsOf('haproxy')).toEqual([]);
    expect(noProxy.hostsOf('keepalived', 'main')).toEqual(['pg1', 'pg2', 'pg3']);
    expect(noProxy.packagesOn('pg1')).toEqual(expect.arrayContaining(['keepalived', 'curl']));
    const conf = renderTemplate('keepalived/keepalived.conf', keepalivedContext(noProxy, 'pg1', secrets).context);
    expect(conf).not.toMatch(/check_haproxy/);
    expect(conf).toMatch(/vrrp_script check_main_leader \{\n\s+script "\/usr\/bin\/curl -sf -o \/dev\/null --max-time 2 --cacert \/etc\/hapg\/tls\/ca\.crt https:\/\/192\.0\.2\.11:8008\/primary"/);
    expect(conf).toMatch(/track_script \{\n\s+check_main_leader\n/);
    expect(balanced(conf)).toBe(true);
  });
  it('hosts given by DNS name: unicast_src_ip and peers are the addresses the host resolves them to', async () => {
    const text = (await import('node:fs'))
      .readFileSync('inventories/three-hosts.yml', 'utf8')
      .replace('pg1: { address: 192.0.2.11', 'pg1: { address: db1.example.internal')
      .replace('pg2: { address: 192.0.2.12', 'pg2: { address: db2.example.internal');
    const named = buildModel(parseInventory(text, 'dns-names.yml').inventory);
    expect(namesToResolve(named, 'pg2')).toEqual(['db1.example.internal', 'db2.example.internal']);
    // What `getent ahosts` printed on pg2, parsed by the fact.
    const resolved = resolvedOnHost(['db1.example.internal', 'db2.example.internal']).parse({ host: 'pg2', command: '', exitCode: 0, stdout: 'db1.example.internal 192.0.2.11\ndb2.example.internal 192.0.2.12\n', stderr: '', durationMs: 1 });
    const conf = renderTemplate('keepalived/keepalived.conf', keepalivedContext(named, 'pg2', secrets, resolved).context);
    expect(conf).toMatch(/unicast_src_ip 192\.0\.2\.12\n/);
    expect(conf).toMatch(/unicast_peer \{\n\s+192\.0\.2\.11\n\s+192\.0\.2\.13\n\s+\}/);
    expect(conf).not.toMatch(/example\.internal/);
  });
});

/** Splits haproxy.cfg into sections: header line → indented lines. */
function parseHaproxy(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    if (!/^\s/.test(raw)) out.set(raw.trim(), (current = []));
    else current?.push(raw.trim());
  }
  return out;
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const ch of text) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}
