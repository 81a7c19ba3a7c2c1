// One-command deploy on three bare lab hosts with every role, then the day-2 behaviour the
// product promises: a no-op re-run, plan, switchover, failover with HAProxy and the VIP
// following, and a re-run that heals the stopped member.
import { copyFile, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { addressOfHost, dataDirOf, etcdctlTls, etcdRootPassword, literal, vipAddress, healthyStateOf, pgMajor, eventually, hapg, hapgInBackground, jsonEvents, jsonResult, onHost, sequenceOfRun, writeInventory } from './hapg.js';

const lab = inject('lab');
const HOSTS = ['pg1', 'pg2', 'pg3'];
const PG1 = addressOfHost(lab, 'pg1');
let inventory: string;
let vip: string;
/** The sequence `plan --json` predicted on the bare hosts. */
let planned: string[];

interface StatusJson {
  healthy: boolean;
  clusters: { name: string; members: { name: string; role: string; state: string; timeline?: number; release?: string; postgresVersion?: string; patroniVersion?: string }[]; vipHolders: string[]; problems: string[]; haproxy: { host: string; servers?: { proxy: string; server: string; status: string }[] }[] }[];
  etcd: { name: string; members: { host: string; healthy: boolean }[] }[];
}

async function status(): Promise<{ exitCode: number | undefined; report: StatusJson }> {
  const r = await hapg(['status', '-i', inventory, '--json']);
  return { exitCode: r.exitCode, report: jsonResult<StatusJson>(r.stdout) };
}

const leaderOf = (report: StatusJson) => report.clusters[0]!.members.filter((m) => m.role === 'leader').map((m) => m.name);

/** psql on pg1 against an endpoint: the password, then the SQL, on stdin. Returns trimmed stdout. */
async function psql(endpoint: string, user: string, password: string, sql: string): Promise<string> {
  const [host, port] = endpoint.split(':');
  const r = await onHost(lab, 'pg1', `IFS= read -r PGPASSWORD; export PGPASSWORD; psql -X -q -A -t -v ON_ERROR_STOP=1 "host=${host} port=${port} user=${user} dbname=app connect_timeout=5"`, {
    stdin: `${password}\n${sql};\n`,
  });
  if (r.exitCode !== 0) throw new Error(`psql ${endpoint}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The secrets file hapg keeps beside an inventory. */
const secretsFileOf = (inv: string) => path.join(path.dirname(inv), '.hapg', 'inventory.secrets.yml');

/** The generated password of the application user. */
async function appPassword(): Promise<string> {
  return (YAML.parse(await readFile(secretsFileOf(inventory), 'utf8')) as Record<string, string>)['clusters.main.users.app']!;
}

/** Main PIDs and start times of every service hapg manages, and the postmaster's PID. */
async function processFingerprint(): Promise<string[]> {
  return Promise.all(
    HOSTS.map(async (h) => {
      const r = await onHost(lab, h, `systemctl show -p MainPID,ActiveEnterTimestampMonotonic etcd patroni haproxy keepalived; head -1 ${dataDirOf(lab, 'main')}/postmaster.pid`);
      return `${h}: ${r.stdout.replace(/\n/g, ' ')}`;
    }),
  );
}

beforeAll(async () => {
  const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8'));
  vip = base.clusters.main.vip.address;
  inventory = await writeInventory(lab, {
    hosts: HOSTS,
    etcd: { dc1: { hosts: HOSTS } },
    clusters: {
      main: {
        hosts: HOSTS,
        postgres: {
          parameters: { max_connections: 100, shared_buffers: '128MB' },
          hba: base.clusters.main.postgres.hba,
          users: { app: { options: ['LOGIN'] } },
          databases: { app: { owner: 'app' } },
        },
        haproxy: {},
        vip: base.clusters.main.vip,
      },
    },
  });
});

describe('deploy on three bare hosts, every role', () => {
  it('refuses to start when a host is unreachable, naming it, and changes nothing', async () => {
    const text = (await readFile(inventory, 'utf8')).replace(/^hosts:\n/m, `hosts:\n  pg9:\n    address: ${vipAddress(lab, 250)}\n    datacenter: dc1\n    ssh: { connect_timeout: 2 }\n`);
    const broken = path.join(path.dirname(inventory), 'with-unreachable.yml');
    await writeFile(broken, text);
    const r = await hapg(['deploy', '-i', broken]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^hapg: pg9 \\(${literal(vipAddress(lab, 250))}:22\\): `));
    expect((await onHost(lab, 'pg1', 'dpkg-query -W patroni 2>/dev/null || echo none')).stdout.trim()).toBe('none');
  });

  it('plans the whole deploy on bare hosts, secrets masked, and changes nothing', async () => {
    const r = await hapg(['plan', '-i', inventory]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^  \\+ \\[pg1\\] install etcd-client etcd-server haproxy keepalived patroni postgresql-${pgMajor(lab)} python3-etcd$`, 'm'));
    expect(r.stdout).toMatch(/^  > initialise cluster main on pg1, wait until it runs as leader, then start pg2, pg3 as replicas and wait until they stream$/m);
    expect(r.stdout).toMatch(/^      \+\+\+ \/etc\/patroni\/patroni\.yml\twanted$/m);
    expect(r.stdout).toMatch(/^      \+      password: "\*\*\*"$/m);
    expect(r.stdout).not.toMatch(/generated on first deploy/);
    planned = sequenceOfRun((await hapg(['plan', '-i', inventory, '--json'])).stdout);
    expect(planned).toEqual(['start etcd pg1,pg2,pg3', 'start patroni pg1', 'start patroni pg2,pg3', 'start haproxy pg1,pg2,pg3', 'start keepalived pg1,pg2,pg3']);
    expect((await onHost(lab, 'pg1', 'dpkg-query -W patroni 2>/dev/null || echo none; ls /etc/patroni 2>&1')).stdout).toMatch(/^none\n.*No such file/);
  });

  it('takes bare hosts to a verified healthy cluster', async () => {
    const before = await onHost(lab, 'pg1', 'dpkg-query -W patroni 2>/dev/null || echo none');
    expect(before.stdout.trim()).toBe('none'); // really bare
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    const result = jsonResult<{ clusters: { name: string; leader: string; vipHolder: string; replicationMs: number }[] }>(r.stdout);
    expect(result.clusters).toEqual([{ name: 'main', leader: 'pg1', vipHolder: expect.stringMatching(/^pg\d$/), replicationMs: expect.any(Number) }]);
    // plan and deploy walk one stage graph: deploy ran exactly the sequence plan predicted.
    expect(sequenceOfRun(r.stdout)).toEqual(planned);
  });

  it('reports a healthy cluster: one leader, all running on one timeline, etcd 3/3, VIP on one host', async () => {
    const { exitCode, report } = await status();
    expect(report.clusters[0]!.problems).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.healthy).toBe(true);
    expect(leaderOf(report)).toEqual(['pg1']);
    expect(report.clusters[0]!.members.map((m) => m.state)).toEqual(report.clusters[0]!.members.map((m) => healthyStateOf(lab, m.role)));
    expect(report.clusters[0]!.members.map((m) => m.role).sort()).toEqual(['leader', 'replica', 'replica']);
    expect(report.etcd[0]!.members.every((m) => m.healthy)).toBe(true);
    expect(report.clusters[0]!.vipHolders).toHaveLength(1);
    // What each member runs: the lab's release and the PostgreSQL major it ships.
    for (const m of report.clusters[0]!.members) {
      expect(m.release).toBe(`Debian ${lab.release === 'bookworm' ? 12 : 13}`);
      expect(m.postgresVersion).toMatch(new RegExp(`^${pgMajor(lab)}\\.\\d+$`));
      expect(m.patroniVersion).toMatch(lab.release === 'bookworm' ? /^3\.0\./ : /^4\./);
    }
  });

  it('keeps secrets in a 0600 file and patroni.yml 0600 owned by postgres, never in output', async () => {
    const secretsFile = secretsFileOf(inventory);
    expect((await stat(secretsFile)).mode & 0o777).toBe(0o600);
    const r = await onHost(lab, 'pg2', 'stat -c "%a %U %G" /etc/patroni/patroni.yml');
    expect(r.stdout.trim()).toBe('600 postgres postgres');
    const secrets = Object.values(YAML.parse(await readFile(secretsFile, 'utf8')) as Record<string, string>);
    const plan = await hapg(['plan', '-i', inventory]);
    const statusOut = await hapg(['status', '-i', inventory, '--json']);
    for (const s of secrets) {
      expect(plan.stdout + plan.stderr).not.toContain(s);
      expect(statusOut.stdout).not.toContain(s);
    }
  });

  it("refuses Patroni REST API writes without the inventory's credentials", async () => {
    const r = await onHost(lab, 'pg3', `curl -s -o /dev/null -w "%{http_code}" --cacert /etc/hapg/tls/ca.crt -XPOST https://${PG1}:8008/restart -d "{}"`);
    expect(r.stdout).toBe('401');
    const read = await onHost(lab, 'pg3', `curl -s -o /dev/null -w "%{http_code}" --cacert /etc/hapg/tls/ca.crt https://${PG1}:8008/patroni`);
    expect(read.stdout).toBe('200');
  });

  it('the application user writes through the VIP and reads the row back from a replica', async () => {
    const password = await appPassword();
    await psql(`${vip}:5000`, 'app', password, 'create table if not exists t (id int primary key, note text)');
    await psql(`${vip}:5000`, 'app', password, 'insert into t values (1, $$via vip$$) on conflict (id) do nothing');
    const read = await eventually('the row on a replica', async () => {
      const out = await psql(`${vip}:5001`, 'app', password, 'select note || $$ $$ || pg_is_in_recovery() from t where id = 1');
      return out === 'via vip true' ? out : undefined;
    });
    expect(read).toBe('via vip true');
  });

  it('exposes nothing beyond the service addresses: HAProxy on the host address and the VIP, stats and REST API not on every interface', async () => {
    const listening = (await onHost(lab, 'pg1', 'ss -Htln')).stdout;
    expect(listening).toMatch(new RegExp(` ${literal(PG1)}:5000 `));
    expect(listening).toMatch(new RegExp(` ${vip.replace(/\./g, '\\.')}:5000 `));
    expect(listening).not.toMatch(/ (\*|0\.0\.0\.0|\[::\]):(5000|5001|7000|8008) /);
    // The stats page is unauthenticated: loopback only; the REST API on the member's own address.
    expect((await onHost(lab, 'pg2', `curl -s -o /dev/null -w "%{http_code}" --max-time 3 http://${PG1}:7000/ || true`)).stdout).toBe('000');
    expect((await onHost(lab, 'pg1', 'curl -s -o /dev/null -w "%{http_code}" --max-time 3 --cacert /etc/hapg/tls/ca.crt https://127.0.0.1:8008/patroni || true')).stdout).toBe('000');
    expect((await onHost(lab, 'pg1', `curl -s -o /dev/null -w "%{http_code}" --max-time 3 --cacert /etc/hapg/tls/ca.crt https://${PG1}:8008/patroni`)).stdout).toBe('200');
  });

  it('admits the superuser only through the local socket, and authenticates VRRP adverts', async () => {
    const secrets = YAML.parse(await readFile(secretsFileOf(inventory), 'utf8')) as Record<string, string>;
    const r = await onHost(lab, 'pg2', `IFS= read -r PGPASSWORD; export PGPASSWORD; psql -XAt "host=${PG1} port=5432 user=postgres dbname=postgres connect_timeout=5" -c "select 1" 2>&1`, {
      stdin: `${secrets['clusters.main.superuser']}\n`,
    });
    expect(r.stdout).toMatch(new RegExp(`pg_hba\\.conf rejects connection for host "${literal(addressOfHost(lab, 'pg2'))}", user "postgres"`));
    const conf = await onHost(lab, 'pg2', 'stat -c "%a" /etc/keepalived/keepalived.conf; grep -c "auth_pass $(cat)" /etc/keepalived/keepalived.conf', { stdin: secrets['clusters.main.vrrp']!.slice(0, 8) });
    expect(conf.stdout.trim().split('\n')).toEqual(['600', '1']);
  });

  it('one operator at a time: a second deploy fails at once naming the first; a killed holder frees the lock', async () => {
    const root = await etcdRootPassword(inventory, 'dc1');
    const lockValue = async () => (await onHost(lab, 'pg1', etcdctlTls('get --print-value-only /hapg/lock'), { stdin: root })).stdout.trim();
    // A second checkout (its own local lock) on the same clusters: only etcd's lock stands between them.
    const other = path.join(await mkdtemp(path.join(tmpdir(), 'hapg-e2e-operator2-')), 'inventory.yml');
    await writeFile(other, await readFile(inventory, 'utf8'));
    await mkdir(path.join(path.dirname(other), '.hapg'), { mode: 0o700 });
    await copyFile(secretsFileOf(inventory), secretsFileOf(other));
    // The same CA too (TLS, the default): a checkout without it would be refused for trusting another CA.
    for (const f of ['ca.crt', 'ca.key', 'client.crt', 'client.key']) await copyFile(path.join(path.dirname(inventory), '.hapg', `inventory.${f}`), path.join(path.dirname(other), '.hapg', `inventory.${f}`));
    // A deploy frozen as soon as it says it holds the lock (a no-op deploy ends within seconds):
    // its lease is no longer renewed, but lives on for its TTL.
    const frozenHolder = async () => {
      const run = hapgInBackground(['deploy', '-i', inventory, '--json']);
      let out = '';
      await new Promise<void>((resolve, reject) => {
        run.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('run lock taken in etcd cluster dc1')) {
            run.kill('SIGSTOP');
            resolve();
          }
        });
        void run.then(() => reject(new Error(`the deploy ended without taking the lock: ${out.slice(-300)}`)));
      });
      return { run };
    };
    const { run: first } = await frozenHolder();
    expect(await lockValue()).toContain('"command":"deploy"');
    try {
      const second = await hapg(['deploy', '-i', other]);
      expect(second.exitCode).toBe(1);
      expect(second.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^hapg: another hapg run holds etcd cluster dc1: \\S+@\\S+ \\(pid ${first.pid}\\) running \`hapg deploy\` since \\S+ \\(wait for it to finish; if it died, its lock expires 15 s after its last renewal, or re-run with --break-lock\\)$`));
    } finally {
      first.kill('SIGKILL');
      await first;
    }
    // The dead holder's lease expires by itself; then a plain re-run proceeds (its stale local lock names a dead pid).
    await eventually('the dead holder\'s lease to expire', async () => ((await lockValue()) === '' ? true : undefined), 40_000);
    const after = await hapg(['deploy', '-i', inventory, '--json']);
    expect(after.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(after.exitCode).toBe(0);
    expect(await lockValue()).toBe('');

    // --break-lock takes the lock from a holder that is alive (frozen here), naming it.
    const { run: frozen } = await frozenHolder();
    try {
      const broken = await hapg(['deploy', '-i', other, '--break-lock']);
      expect(broken.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
      expect(broken.exitCode).toBe(0);
      expect(broken.stderr).toMatch(new RegExp(`--break-lock: taking etcd cluster dc1's run lock from \\S+@\\S+ \\(pid ${frozen.pid}\\)`));
    } finally {
      frozen.kill('SIGKILL');
      await frozen;
    }
  });

  it('refuses to deploy or plan from a checkout without the secrets file, printing no live password', async () => {
    const secrets = Object.values(YAML.parse(await readFile(secretsFileOf(inventory), 'utf8')) as Record<string, string>);
    const elsewhere = path.join(await mkdtemp(path.join(tmpdir(), 'hapg-e2e-checkout-')), 'inventory.yml');
    await writeFile(elsewhere, await readFile(inventory, 'utf8'));
    // The checkout has the cluster's CA (TLS, the default), only the secrets file is missing.
    await mkdir(path.join(path.dirname(elsewhere), '.hapg'), { mode: 0o700 });
    for (const f of ['ca.crt', 'ca.key', 'client.crt', 'client.key']) await copyFile(path.join(path.dirname(inventory), '.hapg', `inventory.${f}`), path.join(path.dirname(elsewhere), '.hapg', `inventory.${f}`));
    const before = await processFingerprint();
    for (const command of ['plan', 'deploy']) {
      const r = await hapg([command, '-i', elsewhere]);
      expect(r.exitCode).toBe(1);
      // With TLS (the default) etcd authenticates hapg: the fresh root password is refused first, naming the way out.
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^hapg: etcd cluster dc1 refused the login of its root user \(HTTP 400: .*authentication failed.*\) \(the password in the secrets file is not etcd's: restore the secrets file that deployed etcd cluster dc1\)$/);
      expect(existsSync(secretsFileOf(elsewhere))).toBe(false);
      for (const value of secrets) expect(r.stdout + r.stderr).not.toContain(value);
    }
    expect(await processFingerprint()).toEqual(before);
  });

  it('a second deploy changes nothing and restarts nothing; plan says nothing to do', async () => {
    const before = await processFingerprint();
    const started = Date.now();
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    const elapsed = Date.now() - started;
    expect(r.exitCode).toBe(0);
    expect(jsonResult<{ changes: number }>(r.stdout).changes).toBe(0);
    expect(jsonEvents(r.stdout).filter((e) => e.kind === 'change')).toEqual([]);
    expect(await processFingerprint()).toEqual(before);
    // A bound that catches real work (a reinstall, a restart wait), not a busy machine: 14.9 s
    // were seen with three e2e files and other labs beside it. bench/deploy measures the no-op.
    expect(elapsed).toBeLessThan(30_000);
    const text = await hapg(['deploy', '-i', inventory]);
    expect(text.stdout).toMatch(/^cluster main: leader pg1, VIP on pg\d, write\/read check passed\nnothing to do: everything already as declared/);
    const plan = await hapg(['plan', '-i', inventory]);
    expect(plan.exitCode).toBe(0);
    expect(plan.stdout).toMatch(/nothing to do: everything is as the inventory declares/);
  });

  it('applies a changed reload-only parameter through the dynamic configuration, restarting nothing', async () => {
    const text = await readFile(inventory, 'utf8');
    const doc = YAML.parse(text);
    doc.clusters.main.postgres.parameters.work_mem = '8MB';
    await writeFile(inventory, YAML.stringify(doc));
    const plan = await hapg(['plan', '-i', inventory]);
    expect(plan.stdout).toMatch(/^  \+ \[pg1\] PATCH \/config: work_mem \(unset\) → 8MB$/m);
    const before = await processFingerprint();
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(r.exitCode).toBe(0);
    // patroni.yml carries bootstrap.dcs (for a future re-bootstrap), so it is rewritten; a
    // running Patroni never reads that block again, so it is not reloaded. The live value comes
    // from the PATCH.
    const changes = jsonEvents(r.stdout).filter((e) => e.kind === 'change').map((e) => `${e.host} ${e.title}`);
    expect(changes.sort()).toEqual(['pg1 PATCH /config: work_mem (unset) → 8MB', ...HOSTS.map((h) => `${h} write /etc/patroni/patroni.yml`)].sort());
    for (const host of HOSTS) {
      await eventually(`work_mem on ${host}`, async () => {
        const show = await onHost(lab, host, "runuser -u postgres -- psql -XAtc 'show work_mem'");
        return show.stdout.trim() === '8MB' ? true : new Error(show.stdout.trim());
      }, 30_000);
    }
    expect(await processFingerprint()).toEqual(before);
    const again = await hapg(['deploy', '-i', inventory, '--json']);
    expect(jsonResult<{ changes: number }>(again.stdout).changes).toBe(0);
  });

  it('switches over to a replica; HAProxy and a write follow', async () => {
    const r = await hapg(['switchover', '-i', inventory, '--cluster', 'main', '--to', 'pg2']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/leader moved from pg1 to pg2/);
    // The old leader reports its new timeline at its next Patroni loop; until then status says so.
    const report = await eventually<StatusJson>('a healthy status after the switchover', async () => {
      const { report } = await status();
      return report.healthy ? report : new Error(report.clusters[0]!.problems.join('; '));
    }, 30_000);
    expect(leaderOf(report)).toEqual(['pg2']);
  });

  it('fails over when Patroni stops on the leader; HAProxy and the VIP follow; deploy heals the member', async () => {
    await onHost(lab, 'pg2', 'systemctl stop patroni');
    const report = await eventually('a new leader', async () => {
      const { report } = await status();
      const leaders = leaderOf(report);
      return leaders.length === 1 && leaders[0] !== 'pg2' ? report : undefined;
    }, 90_000);
    const newLeader = leaderOf(report)[0]!;
    // Degraded, and says why.
    const degraded = await status();
    expect(degraded.exitCode).toBe(1);
    expect(degraded.report.clusters[0]!.problems.join('; ')).toMatch(/pg2/);
    // Every HAProxy routes writes to the new leader only; the VIP is held by exactly one host.
    await eventually('HAProxy routing writes to the new leader', async () => {
      const { report } = await status();
      const c = report.clusters[0]!;
      const rwUp = c.haproxy.map((h) => h.servers?.filter((s) => s.proxy === 'main_read_write' && s.status === 'UP').map((s) => s.server).join(','));
      return rwUp.every((s) => s === newLeader) && c.vipHolders.length === 1 ? true : undefined;
    });
    const password = await appPassword();
    await psql(`${vip}:5000`, 'app', password, 'insert into t values (2, $$after failover$$)');

    const heal = await hapg(['deploy', '-i', inventory, '--json']);
    expect(heal.exitCode).toBe(0);
    const changes = jsonEvents(heal.stdout).filter((e) => e.kind === 'change');
    expect(changes.map((e) => `${e.host} ${e.title}`)).toEqual(['pg2 start patroni']);
    const healed = await status();
    expect(healed.report.clusters[0]!.problems).toEqual([]);
    expect(healed.exitCode).toBe(0);
    expect(leaderOf(healed.report)).toEqual([newLeader]);
    expect(await psql(`${vip}:5000`, 'app', password, 'select count(*) from t')).toBe('2');
  });

  it('applies a restart-only parameter by restarting replicas one at a time, then switching over', async () => {
    const doc = YAML.parse(await readFile(inventory, 'utf8'));
    doc.clusters.main.postgres.parameters.max_connections = 150;
    await writeFile(inventory, YAML.stringify(doc));
    const leaderBefore = leaderOf((await status()).report)[0]!;
    const r = await hapg(['deploy', '-i', inventory, '--json']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('hapg:'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    const restarts = jsonEvents(r.stdout).filter((e) => e.kind === 'change' && e.title === 'restart PostgreSQL (pending restart)').map((e) => e.host);
    // The replicas one at a time; then the leader hands over, and its demotion restarts it with
    // the new settings (a separate restart only if Patroni still flags it pending: then last).
    expect(restarts.filter((h) => h !== leaderBefore).sort()).toEqual(HOSTS.filter((h) => h !== leaderBefore));
    if (restarts.includes(leaderBefore)) expect(restarts.at(-1)).toBe(leaderBefore);
    for (const host of HOSTS) {
      expect((await onHost(lab, host, "runuser -u postgres -- psql -XAtc 'show max_connections'")).stdout.trim()).toBe('150');
    }
    const after = await eventually<StatusJson>('a healthy status after the rolling restart', async () => {
      const { report } = await status();
      return report.healthy ? report : new Error(report.clusters[0]!.problems.join('; '));
    }, 30_000);
    expect(leaderOf(after)).not.toEqual([leaderBefore]);
    expect(after.clusters[0]!.members.some((m) => (m as { pendingRestart?: boolean }).pendingRestart)).toBe(false);
  });
});
