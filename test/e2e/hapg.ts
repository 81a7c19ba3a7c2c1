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
