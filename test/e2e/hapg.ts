// Helpers for e2e tests: run the real CLI against the lab, write inventories for a subset of
// lab hosts, and run commands on hosts with the system ssh client.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type Result } from 'execa';
import YAML from 'yaml';
import { postgresMajorOf } from '../../src/lab/releases.js';
import type { LabContext } from './lab-context.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/hapg.js');

/** Runs `hapg …` as a user would (the built CLI), never throwing on a non-zero exit. */
export async function hapg(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Result<{ reject: false }>> {
  return recorded(args, await execa('node', [BIN, ...args], { reject: false, timeout: opts.timeoutMs ?? 600_000, env: { NO_COLOR: '1', ...opts.env } }));
}

/** Starts `hapg …` in the background (to signal it); its output is recorded when it ends. */
export function hapgInBackground(args: string[]) {
  const child = execa('node', [BIN, ...args], { reject: false, env: { NO_COLOR: '1' } });
  void child.then((r) => recorded(args, r));
  return child;
}

let recordedRuns = 0;

/**
 * Keeps every run's stdout and stderr in $HAPG_E2E_OUTPUT (set by scripts/test.sh): after the
 * end-to-end tests, one scan checks that no secret of any inventory appears in any of them.
 */
async function recorded<T extends { stdout: unknown; stderr: unknown }>(args: string[], result: T): Promise<T> {
  const dir = process.env['HAPG_E2E_OUTPUT'];
  if (dir) {
    const name = `${process.pid}-${Date.now()}-${recordedRuns++}.log`;
    await writeFile(path.join(dir, name), `$ hapg ${args.join(' ')}\n--- stdout\n${String(result.stdout)}\n--- stderr\n${String(result.stderr)}\n`);
  }
  return result;
}

/** The result object of a `--json` run (the last line, kind "result"). */
export function jsonResult<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n').filter(Boolean);
  const last = lines.map((l) => JSON.parse(l) as { kind: string }).filter((e) => e.kind === 'result').at(-1);
  if (!last) throw new Error(`no result line in: ${stdout.slice(-500)}`);
  return last as T;
}

/** The order of reloads, restarts and switchovers a `plan --json` or `deploy --json` reports: kind and hosts of each. */
export function sequenceOfRun(stdout: string): string[] {
  return jsonResult<{ sequence: { kind: string; service?: string; hosts: string[] }[] }>(stdout).sequence.map((s) => `${s.kind}${s.service ? ` ${s.service}` : ''} ${s.hosts.join(',')}`);
}

/** Every event of a `--json` run. */
export function jsonEvents(stdout: string): { kind: string; host?: string; title?: string }[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * An inventory for some lab hosts: the lab's own ssh and package settings, with the given
 * hosts, etcd clusters and clusters. Written to a fresh directory (its secrets file beside it).
 */
export async function writeInventory(
  lab: LabContext,
  spec: { hosts: string[]; etcd: Record<string, unknown>; clusters: Record<string, unknown> },
  /** Rewrite this inventory (keeping its secrets file) instead of starting a new directory. */
  file?: string,
): Promise<string> {
  const base = YAML.parse(await readFile(lab.inventoryPath, 'utf8')) as Record<string, unknown> & { hosts: Record<string, unknown> };
  const hosts = Object.fromEntries(spec.hosts.map((h) => {
    const host = base.hosts[h];
    if (!host) throw new Error(`the lab has no host ${h}`);
    return [h, host];
  }));
  const target = file ?? path.join(await mkdtemp(path.join(tmpdir(), 'hapg-e2e-')), 'inventory.yml');
  // Each cluster runs the PostgreSQL major its hosts' release ships, unless the test says otherwise.
  const clusters = Object.fromEntries(Object.entries(spec.clusters).map(([name, c]) => {
    const cluster = c as { postgres?: { version?: number } };
    return [name, { ...cluster, postgres: { version: pgMajor(lab), ...cluster.postgres } }];
  }));
  await writeFile(target, YAML.stringify({ ssh: base['ssh'], hosts, packages: base['packages'], etcd: spec.etcd, clusters }));
  return target;
}

/** An address of the lab's subnet that no host uses (hosts start at .11): for VIPs and aliases. */
export function vipAddress(lab: LabContext, last: number): string {
  return `${lab.bridgeAddress.split('.').slice(0, 3).join('.')}.${last}`;
}

/** A lab host's address. */
export function addressOfHost(lab: LabContext, name: string): string {
  const host = lab.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`the lab has no host ${name}`);
  return host.address;
}

/** An address as a regular expression that matches only itself. */
export function literal(address: string): string {
  return address.replace(/\./g, '\\.');
}

/** The PostgreSQL major the lab's release ships (what its clusters run). */
export function pgMajor(lab: LabContext): number {
  return postgresMajorOf(lab.release);
}

/** A cluster's default data directory on the lab's hosts. */
export function dataDirOf(lab: LabContext, cluster: string): string {
  return `/var/lib/postgresql/${pgMajor(lab)}/${cluster}`;
}

/** The leader's role as the lab's Patroni names it in /patroni (3.0 on bookworm: master; 4 on trixie: primary). */
export function leaderRoleName(lab: LabContext): 'master' | 'primary' {
  return lab.release === 'bookworm' ? 'master' : 'primary';
}

/**
 * A healthy member's state as /cluster reports it: Patroni 4 says a replica (and a standby
 * leader) is streaming, 3.0 that it is running.
 */
export function healthyStateOf(lab: LabContext, role: string): string {
  return lab.release === 'bookworm' || role === 'leader' ? 'running' : 'streaming';
}

/** Runs a shell command on a lab host with the system ssh client (host keys strictly checked). */
export async function onHost(lab: LabContext, name: string, command: string, opts: { stdin?: string } = {}) {
  const host = lab.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`the lab has no host ${name}`);
  return execa(
    'ssh',
    ['-i', lab.identityFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${lab.knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
      `${lab.user}@${host.address}`, command],
    { reject: false, timeout: 120_000, ...(opts.stdin !== undefined ? { input: opts.stdin } : {}) },
  );
}

/**
 * Polls until fn returns a truthy value that is not an Error, or the time is up; then throws
 * with the last answer (return an Error to say why it is not there yet).
 */
export async function eventually<T>(what: string, fn: () => Promise<T | Error | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = await fn().catch((e: unknown) => e);
    if (last && !(last instanceof Error)) return last as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : String(last)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The CA an inventory's hosts trust (hapg keeps it beside the secrets file, `.hapg/<inventory>.ca.crt`). */
export async function caOf(inventory: string): Promise<string> {
  return readFile(path.join(path.dirname(inventory), '.hapg', `${path.basename(inventory).replace(/\.ya?ml$/, '')}.ca.crt`), 'utf8');
}

/**
 * GET a member's Patroni REST API as any client could: over HTTPS verified against `ca`
 * (a TLS cluster, the default), or plain HTTP without one. The parsed JSON body, any status.
 */
export async function patroniGet<T = Record<string, unknown>>(address: string, urlPath: string, ca: string | undefined, timeoutMs = 2000): Promise<T> {
  if (!ca) return (await fetch(`http://${address}:8008${urlPath}`, { signal: AbortSignal.timeout(timeoutMs) })).json() as Promise<T>;
  const { request } = await import('node:https');
  return new Promise<T>((resolve, reject) => {
    const req = request({ host: address, port: 8008, path: urlPath, method: 'GET', ca, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET https://${address}:8008${urlPath}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * An etcdctl command line for a host of a TLS etcd cluster: https on loopback, the host's
 * certificate, and root's password read from stdin (feed it with onHost's stdin).
 */
export function etcdctlTls(args: string): string {
  return `ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert /etc/hapg/tls/ca.crt --cert /etc/hapg/tls/etcd.crt --key /etc/hapg/tls/etcd.key --user root --password "$(cat)" ${args}`;
}

/** etcd cluster `etcd`'s root password from an inventory's secrets file. */
export async function etcdRootPassword(inventory: string, etcd: string): Promise<string> {
  const file = path.join(path.dirname(inventory), '.hapg', `${path.basename(inventory).replace(/\.ya?ml$/, '')}.secrets.yml`);
  const secrets = YAML.parse(await readFile(file, 'utf8')) as Record<string, string>;
  const password = secrets[`etcd.${etcd}.root`];
  if (!password) throw new Error(`no etcd.${etcd}.root in ${file}`);
  return password;
}

/** An HTTPS request verified against `ca`, presenting a client certificate when given; status and body. */
async function httpsRequest(url: URL, opts: { ca: string; cert?: string; key?: string; method?: string; body?: string; headers?: Record<string, string>; timeoutMs?: number }): Promise<{ status: number; body: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: opts.method ?? 'GET', ca: opts.ca, cert: opts.cert, key: opts.key, headers: opts.headers, timeout: opts.timeoutMs ?? 1500 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url.href}: timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * etcd's HTTP gateway of a TLS etcd cluster (the default), as hapg reaches it: the inventory's
 * CA, hapg's client certificate, and root's token login. `post(address, path, body)` → JSON.
 */
export async function etcdGateway(inventory: string, etcd: string) {
  const dir = path.join(path.dirname(inventory), '.hapg');
  const base = path.basename(inventory).replace(/\.ya?ml$/, '');
  const [ca, cert, key, password] = await Promise.all([
    readFile(path.join(dir, `${base}.ca.crt`), 'utf8'),
    readFile(path.join(dir, `${base}.client.crt`), 'utf8'),
    readFile(path.join(dir, `${base}.client.key`), 'utf8'),
    etcdRootPassword(inventory, etcd),
  ]);
  const tls = { ca, cert, key };
  const tokens = new Map<string, string>();
  const token = async (address: string) => {
    const known = tokens.get(address);
    if (known) return known;
    const r = await httpsRequest(new URL(`https://${address}:2379/v3/auth/authenticate`), { ...tls, method: 'POST', body: JSON.stringify({ name: 'root', password }) });
    const t = (JSON.parse(r.body) as { token?: string }).token;
    if (!t) throw new Error(`${address}: etcd login refused: HTTP ${r.status}`);
    tokens.set(address, t);
    return t;
  };
  return {
    async post<T>(address: string, urlPath: string, body: unknown): Promise<T> {
      const r = await httpsRequest(new URL(`https://${address}:2379${urlPath}`), { ...tls, method: 'POST', body: JSON.stringify(body), headers: { authorization: await token(address) } });
      if (r.status !== 200) {
        tokens.delete(address);
        throw new Error(`${address} ${urlPath}: HTTP ${r.status}`);
      }
      return JSON.parse(r.body) as T;
    },
    async healthy(address: string): Promise<boolean> {
      const r = await httpsRequest(new URL(`https://${address}:2379/health`), tls).catch(() => undefined);
      return r !== undefined && (JSON.parse(r.body) as { health?: string }).health === 'true';
    },
  };
}
