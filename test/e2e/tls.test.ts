// TLS everywhere and authenticated etcd (clusters.<name>.tls: true): a fresh three-member
// cluster with HAProxy and a VIP on pg26-pg28, then each hop is probed from the hosts: etcd
// refuses plain HTTP, clients without a certificate and reads without a login; Patroni's REST
// API answers HTTPS only; pg_hba refuses connections without TLS; every service's chain and
// address verify against the CA hapg made (openssl s_client -verify_return_error). Last, the
// CA is rotated (`certs rotate-ca`) under the write-load client on the same deployment.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { addressOfHost, dataDirOf, eventually, hapg, hapgInBackground, jsonResult, onHost, vipAddress, writeInventory } from './hapg.js';
import { missingRows, startWriteLoad, type PgTarget } from '../support/write-load.js';

const lab = inject('lab');
const HOSTS = ['pg26', 'pg27', 'pg28'];
const VIP = { address: vipAddress(lab, 126), interface: 'eth0', router_id: 76 };
const CA = '/etc/hapg/tls/ca.crt';
let inventory: string;
let deployed: Awaited<ReturnType<typeof hapg>>;
let planned: string;

const addr = (host: string) => addressOfHost(lab, host);

beforeAll(async () => {
  const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8')) as { clusters: { main: { postgres: { hba: unknown } } } };
  inventory = await writeInventory(lab, {
    hosts: HOSTS,
    etcd: { dc1: { hosts: HOSTS } },
    clusters: { sec: { hosts: HOSTS, tls: true, postgres: { hba: base.clusters.main.postgres.hba, users: { app: { options: ['LOGIN'] } }, databases: { app: { owner: 'app' } } }, haproxy: { hosts: HOSTS }, vip: VIP } },
  });
  planned = (await hapg(['plan', '-i', inventory])).stdout;
  deployed = await hapg(['deploy', '-i', inventory, '--json']);
}, 900_000);

describe('TLS and etcd authentication (tls: true)', () => {
  it('plans certificate steps without key material, then deploys and verifies a write through the VIP', () => {
    expect(planned).toMatch(/create a CA \(ECDSA P-256\)/);
    expect(planned).toContain(`issue /etc/hapg/tls/postgres.crt (none yet): DNS:pg26, IP:${addr('pg26')}, DNS:localhost, IP:127.0.0.1, IP:${VIP.address}`);
    expect(planned).toContain('etcd dc1: enable authentication');
    expect(planned).not.toMatch(/PRIVATE KEY/);
    expect(deployed.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(deployed.stdout).not.toMatch(/PRIVATE KEY/);
    expect(deployed.exitCode).toBe(0);
    expect(jsonResult<{ clusters: { vipHolder: string }[] }>(deployed.stdout).clusters[0]!.vipHolder).toMatch(/^pg2[678]$/);
  });

  it('keeps the CA key on the operator machine only, mode 0600', async () => {
    const dir = path.join(path.dirname(inventory), '.hapg');
    expect((await stat(path.join(dir, 'inventory.ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'inventory.client.key'))).mode & 0o777).toBe(0o600);
    const onHosts = await onHost(lab, 'pg26', `grep -l 'PRIVATE KEY' /etc/hapg/tls/* | sort; stat -c '%n %U %a' /etc/hapg/tls/*.key`);
    expect(onHosts.stdout.trim().split('\n')).toEqual([
      '/etc/hapg/tls/etcd.key',
      '/etc/hapg/tls/postgres.key',
      '/etc/hapg/tls/etcd.key etcd 600',
      '/etc/hapg/tls/postgres.key postgres 600',
    ]);
  });

  it('etcd: plain HTTP, a client without certificate and a read without login are refused', async () => {
    const a = addr('pg26');
    const plain = await onHost(lab, 'pg27', `curl -s -m 5 http://${a}:2379/v3/kv/range -d '{"key":"Lw=="}' ; echo " exit=$?"`);
    expect(plain.stdout).not.toMatch(/"header"/);
    const noCert = await onHost(lab, 'pg27', `curl -s -m 5 --cacert ${CA} https://${a}:2379/v3/kv/range -d '{"key":"Lw=="}'; echo " exit=$?"`);
    expect(noCert.stdout).toMatch(/exit=(35|56)/);
    const noLogin = await onHost(lab, 'pg27', `curl -s -m 5 --cacert ${CA} --cert /etc/hapg/tls/etcd.crt --key /etc/hapg/tls/etcd.key https://${a}:2379/v3/kv/range -d '{"key":"Lw=="}'; echo " exit=$?"`);
    expect(noLogin.stdout).toMatch(/user name is empty/);
  });

  it("etcd: Patroni's user reaches only its own cluster's keys", async () => {
    const secrets = YAML.parse(await readFile(path.join(path.dirname(inventory), '.hapg', 'inventory.secrets.yml'), 'utf8')) as Record<string, unknown>;
    const password = findSecret(secrets, ['clusters', 'sec', 'etcd']);
    expect(password).toMatch(/.{16,}/);
    const curl = `curl -s -m 5 --cacert ${CA} --cert /etc/hapg/tls/etcd.crt --key /etc/hapg/tls/etcd.key`;
    const script = [
      `t=$(${curl} https://127.0.0.1:2379/v3/auth/authenticate -d "{\\"name\\":\\"patroni-sec\\",\\"password\\":\\"$(cat)\\"}" | sed -n 's/.*"token":"\\([^"]*\\)".*/\\1/p')`,
      `echo "own=$(${curl} -H "Authorization: $t" https://127.0.0.1:2379/v3/kv/range -d '{"key":"L3NlcnZpY2Uvc2VjL2xlYWRlcg=="}')"`,
      `echo "other=$(${curl} -H "Authorization: $t" https://127.0.0.1:2379/v3/kv/range -d '{"key":"L2hhcGcvbG9jaw=="}')"`,
    ].join('\n');
    const r = await onHost(lab, 'pg26', script, { stdin: password });
    expect(r.stdout).toMatch(/^own=\{"header".*"kvs"/m);
    expect(r.stdout).toMatch(/^other=.*permission denied/m);
  });

  it("Patroni's REST API answers HTTPS only, and patronictl works on a member", async () => {
    const a = addr('pg26');
    const plain = await onHost(lab, 'pg27', `curl -s -m 5 -o /dev/null -w '%{http_code}' http://${a}:8008/patroni; echo " exit=$?"`);
    expect(plain.stdout).not.toMatch(/^200/);
    const secure = await onHost(lab, 'pg27', `curl -s -m 5 --cacert ${CA} https://${a}:8008/patroni`);
    expect(JSON.parse(secure.stdout).state).toMatch(/running|streaming/);
    const ctl = await onHost(lab, 'pg26', 'patronictl -c /etc/patroni/patroni.yml list -f json');
    expect((JSON.parse(ctl.stdout) as { Member: string }[]).map((m) => m.Member).sort()).toEqual(HOSTS);
  });

  it('PostgreSQL: pg_hba refuses a connection without TLS; with verify-full it reaches authentication', async () => {
    const a = addr('pg26');
    const conn = (mode: string) => `PGPASSWORD=not-the-password psql -X -At "host=${a} port=5432 user=hapg_check dbname=postgres connect_timeout=5 sslmode=${mode} sslrootcert=${CA}" -c 'select 1' 2>&1; echo " exit=$?"`;
    const disabled = await onHost(lab, 'pg27', conn('disable'));
    expect(disabled.stdout).toMatch(/pg_hba\.conf (rejects connection|entry)/);
    expect(disabled.stdout).toMatch(/no encryption/);
    const verified = await onHost(lab, 'pg27', conn('verify-full'));
    expect(verified.stdout).toMatch(/password authentication failed for user "hapg_check"/);
  });

  it.each([
    ['etcd', 2379, '-cert /etc/hapg/tls/etcd.crt -key /etc/hapg/tls/etcd.key'],
    ['etcd peer', 2380, '-cert /etc/hapg/tls/etcd.crt -key /etc/hapg/tls/etcd.key'],
    ['REST API', 8008, ''],
    ['PostgreSQL', 5432, '-starttls postgres'],
  ])('%s on pg28: the chain and the address verify (s_client -verify_return_error)', async (_name, port, extra) => {
    const a = addr('pg28');
    const r = await onHost(lab, 'pg27', `openssl s_client -connect ${a}:${port} -CAfile ${CA} -verify_return_error -verify_ip ${a} ${extra} </dev/null 2>&1; echo "exit=$?"`);
    expect(r.stdout).toMatch(/Verify return code: 0 \(ok\)/);
    expect(r.stdout).toMatch(/exit=0/);
  });

  it('the VIP address is in the PostgreSQL certificate (clients through HAProxy verify-full)', async () => {
    const r = await onHost(lab, 'pg27', `openssl s_client -connect ${VIP.address}:5000 -starttls postgres -CAfile ${CA} -verify_return_error -verify_ip ${VIP.address} </dev/null 2>&1; echo "exit=$?"`);
    expect(r.stdout).toMatch(/Verify return code: 0 \(ok\)/);
  });

  it('a second deploy changes nothing and status is healthy', async () => {
    const again = await hapg(['deploy', '-i', inventory, '--json']);
    expect(again.exitCode).toBe(0);
    expect(jsonResult<{ changes: number }>(again.stdout).changes).toBe(0);
    const status = await hapg(['status', '-i', inventory, '--json']);
    const report = jsonResult<{ healthy: boolean; certificates: { host: string; service: string; daysLeft: number }[]; certificateProblems: string[] }>(status.stdout);
    expect(report.healthy).toBe(true);
    expect(status.exitCode).toBe(0);
    // Every certificate hapg keeps is listed with the days it has left, none inside the renewal window.
    expect(report.certificates.map((c) => `${c.host} ${c.service}`).sort()).toEqual(expect.arrayContaining(HOSTS.flatMap((h) => [`${h} etcd`, `${h} postgres`]).sort()));
    for (const c of report.certificates) expect(c.daysLeft).toBeGreaterThan(30);
    expect(report.certificateProblems).toEqual([]);
  });

  it("renews a certificate inside the renewal window by reload: status names it first, PostgreSQL serves the new one, the postmaster keeps its PID", async () => {
    // pg27's PostgreSQL certificate replaced by one of 5 days from the same CA, for the same key and names.
    const host = 'pg27';
    const dir = await mkdtemp(path.join(tmpdir(), 'hapg-renew-'));
    const names = (await onHost(lab, host, 'openssl x509 -in /etc/hapg/tls/postgres.crt -noout -ext subjectAltName | tail -1')).stdout.trim().replace(/IP Address:/g, 'IP:').replace(/\s+/g, '');
    const csr = await onHost(lab, host, `openssl req -new -key /etc/hapg/tls/postgres.key -subj /CN=${host} -addext subjectAltName=${names}`);
    expect(csr.stdout).toMatch(/BEGIN CERTIFICATE REQUEST/);
    await writeFile(path.join(dir, 'req.pem'), csr.stdout);
    const hapgDir = path.join(path.dirname(inventory), '.hapg');
    await execa('openssl', ['x509', '-req', '-in', path.join(dir, 'req.pem'), '-CA', path.join(hapgDir, 'inventory.ca.crt'), '-CAkey', path.join(hapgDir, 'inventory.ca.key'), '-days', '5', '-copy_extensions', 'copy', '-out', path.join(dir, 'short.pem')]);
    await onHost(lab, host, 'cat > /etc/hapg/tls/postgres.crt', { stdin: await readFile(path.join(dir, 'short.pem'), 'utf8') });
    await rm(dir, { recursive: true, force: true });
    const pid = (await onHost(lab, host, `head -1 ${dataDirOf(lab, 'sec')}/postmaster.pid`)).stdout.trim();

    const status = await hapg(['status', '-i', inventory, '--json']);
    const report = jsonResult<{ certificates: { host: string; service: string; daysLeft: number }[]; certificateProblems: string[] }>(status.stdout);
    expect(report.certificates.find((c) => c.host === host && c.service === 'postgres')?.daysLeft).toBeLessThanOrEqual(5);
    expect(report.certificateProblems.join(' ')).toMatch(new RegExp(host));
    const plan = await hapg(['plan', '-i', inventory]);
    expect(plan.stdout).toMatch(/\[pg27\] issue \/etc\/hapg\/tls\/postgres\.crt \(it expires in [45] days \(renewal window 30 days\)\)/);
    const deployed = await hapg(['deploy', '-i', inventory, '--json']);
    expect(deployed.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(deployed.exitCode).toBe(0);
    const changes = deployed.stdout.split('\n').filter((l) => l.includes('"kind":"change"')).map((l) => JSON.parse(l) as { host: string; title: string });
    expect(changes.filter((c) => c.host === host).map((c) => c.title)).toEqual(expect.arrayContaining(['reload patroni']));
    expect(changes.some((c) => /restart/.test(c.title))).toBe(false);

    const days = async () => {
      const served = await onHost(lab, 'pg26', `openssl s_client -connect ${addr(host)}:5432 -starttls postgres -CAfile ${CA} -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -enddate`);
      const notAfter = /notAfter=(.+)/.exec(served.stdout)?.[1];
      return notAfter ? (Date.parse(notAfter) - Date.now()) / 86_400_000 : new Error(`no certificate served: ${served.stdout}${served.stderr}`);
    };
    expect(await eventually('PostgreSQL on pg27 to serve the renewed certificate', async () => {
      const left = await days();
      return left instanceof Error || left > 300 ? left : new Error(`still ${left.toFixed(1)} days`);
    }, 30_000)).toBeGreaterThan(300);
    expect((await onHost(lab, host, `head -1 ${dataDirOf(lab, 'sec')}/postmaster.pid`)).stdout.trim()).toBe(pid);
  });
});

describe('CA rotation under write load (certs rotate-ca)', () => {
  const hapgDir = () => path.join(path.dirname(inventory), '.hapg');
  const postmasterPids = async () => Promise.all(HOSTS.map(async (h) => (await onHost(lab, h, `sudo head -1 ${dataDirOf(lab, 'sec')}/postmaster.pid`)).stdout.trim()));

  it('--dry-run lists the three phases and changes nothing', async () => {
    const before = await readFile(path.join(hapgDir(), 'inventory.ca.crt'), 'utf8');
    const dry = await hapg(['certs', 'rotate-ca', '-i', inventory, '--dry-run']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/phase 1: write old\+new CA bundle/);
    expect(dry.stdout).toMatch(/phase 2: reissue/);
    expect(dry.stdout).toMatch(/phase 3: write the bundle with the new CA only/);
    expect(await readFile(path.join(hapgDir(), 'inventory.ca.crt'), 'utf8')).toBe(before);
    expect(await stat(path.join(hapgDir(), 'inventory.ca.next.crt')).catch(() => undefined)).toBeUndefined();
  });

  it('rotates (killed half-way, then finished by a re-run) with no acknowledged write lost, no postmaster restart, every certificate from the new CA and the old CA out of every bundle', async () => {
    const oldCa = await readFile(path.join(hapgDir(), 'inventory.ca.crt'), 'utf8');
    const pids = await postmasterPids();
    const secrets = YAML.parse(await readFile(path.join(hapgDir(), 'inventory.secrets.yml'), 'utf8')) as Record<string, unknown>;
    const app: PgTarget = { host: VIP.address, port: 5000, user: 'app', password: findSecret(secrets, ['clusters', 'sec', 'users', 'app']), database: 'app' };
    const load = await startWriteLoad(app, { table: 'load_rotate_ca' });
    await eventually('the write load writing', async () => load.ackedCount() > 20, 30_000);
    // Killed half-way through phase 2 (right after its first certificate was reissued).
    const started = Date.now();
    const first = hapgInBackground(['certs', 'rotate-ca', '-i', inventory, '--json']);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      first.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/"title":"issue \/etc\/hapg\/tls\//.test(out)) {
          first.kill('SIGKILL');
          resolve();
        }
      });
      void first.then(() => reject(new Error(`rotate-ca ended before phase 2: ${out.slice(-500)}`)));
    });
    await first;
    expect(await stat(path.join(hapgDir(), 'inventory.ca.previous.crt')).then(() => true, () => false)).toBe(true);
    // Meanwhile deploy keeps both CAs trusted: its plan writes no bundle.
    const meanwhile = await hapg(['plan', '-i', inventory]);
    expect(meanwhile.exitCode, meanwhile.stderr).toBe(0);
    expect(meanwhile.stdout).not.toContain(`write ${CA}`);
    for (const h of HOSTS) expect((await onHost(lab, h, `grep -c 'BEGIN CERTIFICATE' ${CA}`)).stdout.trim(), h).toBe('2');
    // The same command again finishes it (--break-lock: the killed run's lock would live on for its TTL).
    const rotated = await hapg(['certs', 'rotate-ca', '-i', inventory, '--json', '--break-lock'], { timeoutMs: 900_000 });
    const rotationMs = Date.now() - started;
    const report = await load.stop();
    expect(rotated.exitCode, rotated.stderr.slice(-2000)).toBe(0);
    expect(out + rotated.stdout + rotated.stderr).not.toMatch(/PRIVATE KEY/);
    expect(jsonResult<{ phases: string[] }>(rotated.stdout).phases.map((p) => p.replace(/:.*/, ''))).toEqual([
      'phase 2 (certificates reissued by the new CA)', 'phase 3 (old CA dropped from every bundle)',
    ]);
    expect(await missingRows(app, 'load_rotate_ca', report.acked)).toEqual([]);
    expect(report.acked.length).toBeGreaterThan(20);
    process.stderr.write(`tls e2e CA rotation (killed in phase 2, resumed): ${(rotationMs / 1000).toFixed(1)} s, ${report.acked.length} rows acknowledged, 0 lost, ${report.failedAttempts} failed attempts, longest write gap ${report.longestGapMs} ms\n`);
    // Reloads only: PostgreSQL kept running through all three phases.
    expect(await postmasterPids()).toEqual(pids);

    const newCa = await readFile(path.join(hapgDir(), 'inventory.ca.crt'), 'utf8');
    expect(newCa).not.toBe(oldCa);
    expect((await stat(path.join(hapgDir(), 'inventory.ca.key'))).mode & 0o777).toBe(0o600);
    for (const left of ['inventory.ca.next.crt', 'inventory.ca.next.key', 'inventory.ca.previous.crt', 'inventory.ca.retiring.crt']) {
      expect(await stat(path.join(hapgDir(), left)).catch(() => undefined), left).toBeUndefined();
    }
    const oldBody = oldCa.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    for (const h of HOSTS) {
      // The bundle is the new CA alone; each certificate verifies against it (and so was issued by it).
      const bundle = await onHost(lab, h, `cat ${CA}`);
      expect(bundle.stdout.trim(), h).toBe(newCa.trim());
      expect(bundle.stdout.replace(/\n/g, '')).not.toContain(oldBody);
      const verify = await onHost(lab, h, `sudo openssl verify -CAfile ${CA} /etc/hapg/tls/etcd.crt /etc/hapg/tls/postgres.crt`);
      expect(verify.stdout.trim(), h).toBe('/etc/hapg/tls/etcd.crt: OK\n/etc/hapg/tls/postgres.crt: OK');
      // Every hop still verifies: etcd (client port), Patroni's REST API, PostgreSQL.
      const a = addr(h);
      for (const [port, extra] of [[2379, ''], [8008, ''], [5432, '-starttls postgres']] as const) {
        const r = await onHost(lab, 'pg27', `openssl s_client -connect ${a}:${port} ${extra} -CAfile ${CA} -verify_return_error -verify_ip ${a} </dev/null 2>&1; echo "exit=$?"`);
        expect(r.stdout, `${h}:${port}`).toMatch(/Verify return code: 0 \(ok\)/);
      }
    }
    const status = await hapg(['status', '-i', inventory, '--json']);
    expect(status.exitCode, status.stderr).toBe(0);
    // Healthy: every member running or streaming, etcd healthy, certificates outside the renewal window.
    expect(jsonResult<{ healthy: boolean }>(status.stdout).healthy).toBe(true);
  }, 900_000);
});

function findSecret(tree: unknown, keys: string[]): string {
  let node = tree as Record<string, unknown> | undefined;
  for (const k of keys) node = node?.[k] as Record<string, unknown> | undefined;
  if (typeof node === 'string') return node;
  // Flat files: `clusters.sec.etcd: …`.
  const flat = (tree as Record<string, unknown>)[keys.join('.')];
  if (typeof flat !== 'string') throw new Error(`no secret ${keys.join('.')} in the secrets file`);
  return flat;
}
