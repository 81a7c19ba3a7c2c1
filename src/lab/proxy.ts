import { openSync, closeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { EventSink } from '../run/events.js';
import { HapgError } from '../errors.js';
import { runLocal, sleep } from './local.js';
import type { LabPaths } from './paths.js';
import { findProcesses, isAlive, processArgv, terminate } from './processes.js';

export const APT_PROXY_PORT = 3142;

/** Where the lab's apt-cacher-ng keeps its config, cache and logs (all under the cache dir). */
export function proxyPaths(paths: LabPaths): { conf: string; cache: string; logs: string; pidFile: string; socket: string; daemonLog: string } {
  return {
    conf: path.join(paths.proxyDir, 'conf'),
    cache: path.join(paths.proxyDir, 'cache'),
    logs: path.join(paths.proxyDir, 'log'),
    pidFile: path.join(paths.proxyDir, 'pid'),
    socket: path.join(paths.proxyDir, 'socket'),
    daemonLog: path.join(paths.proxyDir, 'daemon.log'),
  };
}

/**
 * The lab's own apt-cacher-ng configuration. Debian archive requests (any well-known mirror
 * name) are served from the machine's own mirror, read from its apt sources at run time.
 */
export function renderProxyConfig(opts: {
  cacheDir: string;
  logDir: string;
  pidFile: string;
  socket: string;
  bindAddresses: readonly string[];
  upstreamProxy?: string | undefined;
}): string {
  const lines = [
    '# Written by `hapg lab`: the lab\'s own apt-cacher-ng; the system instance and /etc are untouched.',
    `CacheDir: ${opts.cacheDir}`,
    `LogDir: ${opts.logDir}`,
    'SupportDir: /usr/lib/apt-cacher-ng',
    `Port: ${APT_PROXY_PORT}`,
    `BindAddress: ${opts.bindAddresses.join(' ')}`,
    `PidFile: ${opts.pidFile}`,
    `SocketPath: ${opts.socket}`,
    'ForeGround: 1',
    'VerboseLog: 1',
    'UnbufferLogs: 1',
    'ReportPage: acng-report.html',
    'Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian',
  ];
  if (opts.upstreamProxy) lines.push(`Proxy: ${opts.upstreamProxy}`);
  return `${lines.join('\n')}\n`;
}

/** The machine's own apt HTTP proxy, if it has one: the lab's proxy must go the same way. */
export async function machineAptProxy(): Promise<string | undefined> {
  const { stdout, exitCode } = await runLocal('apt-config', ['shell', 'P', 'Acquire::http::Proxy'], { allowFailure: true });
  if (exitCode !== 0) return undefined;
  const m = /^P='(.*)'$/m.exec(stdout.trim());
  const value = m?.[1];
  return value && value !== 'DIRECT' && value !== 'false' ? value : undefined;
}

/** A running instance of the lab's proxy (found by its config dir in argv). */
async function findLabProxy(paths: LabPaths): Promise<number | undefined> {
  const p = proxyPaths(paths);
  const fromFile = Number((await readFile(p.pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(fromFile) && fromFile > 0 && isLabProxyArgv(await processArgv(fromFile), p.conf)) return fromFile;
  const [found] = await findProcesses((argv) => isLabProxyArgv(argv, p.conf));
  return found?.pid;
}

function isLabProxyArgv(argv: string[] | undefined, confDir: string): boolean {
  if (!argv) return false;
  const i = argv.indexOf('-c');
  return path.basename(argv[0] ?? '') === 'apt-cacher-ng' && i >= 0 && argv[i + 1] === confDir;
}

/** True when an apt-cacher-ng answers HTTP at ADDRESS:3142. */
export function proxyAnswers(address: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: address, port: APT_PROXY_PORT, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** True when two configurations differ at most in their bind addresses. */
export function sameProxySettings(a: string, b: string): boolean {
  const settings = (text: string) => text.split('\n').filter((line) => !line.startsWith('BindAddress:')).join('\n');
  return settings(a) === settings(b);
}

/**
 * Makes sure the machine's one lab apt proxy runs and answers on every address in
 * BINDADDRESSES (loopback and the bridge of every lab that is up). A proxy that already
 * answers on all of them is left alone, so the hosts of other labs keep their downloads;
 * otherwise (a new lab's bridge, another mirror, not running) it is restarted with the full
 * list — apt on the other labs' hosts retries across the second it is down.
 */
export async function ensureAptProxy(
  paths: LabPaths,
  opts: { bindAddresses: readonly string[]; mirror: string },
  sink: EventSink,
): Promise<void> {
  const p = proxyPaths(paths);
  for (const dir of [p.conf, p.cache, p.logs]) await mkdir(dir, { recursive: true, mode: 0o755 });
  const config = renderProxyConfig({
    cacheDir: p.cache,
    logDir: p.logs,
    pidFile: p.pidFile,
    socket: p.socket,
    bindAddresses: opts.bindAddresses,
    upstreamProxy: await machineAptProxy(),
  });
  const configFile = path.join(p.conf, 'acng.conf');
  const currentConfig = await readFile(configFile, 'utf8').catch(() => undefined);
  const backendChanged = await writeIfChanged(path.join(p.conf, 'backends_debian'), `${opts.mirror}/\n`);
  const running = await findLabProxy(paths);
  let missing: string[] = [];
  if (running !== undefined && !backendChanged && currentConfig !== undefined && sameProxySettings(currentConfig, config)) {
    const answers = await Promise.all(opts.bindAddresses.map(async (a) => ((await proxyAnswers(a)) ? undefined : a)));
    missing = answers.filter((a): a is string => a !== undefined);
    if (missing.length === 0) {
      sink({ kind: 'noop', host: 'localhost', title: 'apt proxy', reason: `running, port ${APT_PROXY_PORT} on ${opts.bindAddresses.join(', ')}` });
      return;
    }
  }
  await writeIfChanged(configFile, config);
  if (running !== undefined) await terminate([running], { graceMs: 5000 });
  for (const address of opts.bindAddresses) {
    if (await proxyAnswers(address, 500)) {
      throw new HapgError('LAB', `port ${APT_PROXY_PORT} on ${address} is taken by another process`, {
        hint: 'stop the system apt-cacher-ng (`/etc/init.d/apt-cacher-ng stop` or `systemctl disable --now apt-cacher-ng`)',
      });
    }
  }
  await startProxy(paths, opts.bindAddresses);
  const on = `port ${APT_PROXY_PORT} on ${opts.bindAddresses.join(', ')}`;
  if (running === undefined) sink({ kind: 'change', host: 'localhost', title: 'apt proxy started', detail: on });
  else sink({ kind: 'change', host: 'localhost', title: 'apt proxy restarted', detail: `${on}; ${missing.length > 0 ? `new: ${missing.join(', ')}` : 'settings changed'}` });
}

async function startProxy(paths: LabPaths, bindAddresses: readonly string[]): Promise<void> {
  const p = proxyPaths(paths);
  const logFd = openSync(p.daemonLog, 'a');
  let pid: number | undefined;
  try {
    // Detached in its own session, output to a file: the proxy outlives this hapg process.
    const child = spawn('apt-cacher-ng', ['-c', p.conf, 'ForeGround=1'], { detached: true, stdio: ['ignore', logFd, logFd], cwd: '/' });
    child.on('error', () => undefined);
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(logFd);
  }
  if (pid === undefined) {
    throw new HapgError('LAB', 'cannot start apt-cacher-ng', { hint: 'run `hapg lab setup` or `apt-get install apt-cacher-ng`' });
  }
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answers = await Promise.all(bindAddresses.map((a) => proxyAnswers(a, 500)));
    if (answers.every(Boolean)) return;
    if (!(await isAlive(pid)) || Date.now() > deadline) {
      const tail = (await readFile(p.daemonLog, 'utf8').catch(() => '')).trim().split('\n').pop() ?? '';
      if (await isAlive(pid)) await terminate([pid], { graceMs: 2000 });
      throw new HapgError('LAB', `apt-cacher-ng did not start${tail ? `: ${tail}` : ''}`, { hint: `see ${p.daemonLog}` });
    }
    await sleep(100);
  }
}

/** Stops the lab's apt proxy (the cache stays). */
export async function stopAptProxy(paths: LabPaths): Promise<boolean> {
  const pid = await findLabProxy(paths);
  if (pid === undefined) return false;
  await terminate([pid], { graceMs: 5000 });
  return true;
}

/** Whether the lab's apt proxy process is running. */
export async function aptProxyRunning(paths: LabPaths): Promise<boolean> {
  return (await findLabProxy(paths)) !== undefined;
}

async function writeIfChanged(file: string, content: string): Promise<boolean> {
  const current = await readFile(file, 'utf8').catch(() => undefined);
  if (current === content) return false;
  await writeFile(file, content, { mode: 0o644 });
  return true;
}
