import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HapgError } from '../errors.js';
import type { LabHost } from './layout.js';
import { sleep } from './local.js';
import { labFlag, type LabPaths } from './paths.js';
import { isAlive } from './processes.js';
import { isLabRelease, LEGACY_RELEASE, type LabRelease } from './releases.js';

/** One host as the lab last left it. */
export interface LabHostState extends LabHost {
  /** nspawn PID while the host runs. */
  pid?: number | undefined;
  /** Powered off by `lab stop` (not a crash): `lab up` boots it again with the same disk. */
  stopped: boolean;
  /** Network cut by `lab isolate`. */
  isolated: boolean;
}

/** What `lab up` created; the source for status, stop/start and the e2e tests' context. */
export interface LabState {
  version: 1;
  /** Debian release of every host (a lab is of one release). */
  release: LabRelease;
  subnet: string;
  bridgeAddress: string;
  datacenters: number;
  baseDir: string;
  proxyUrl: string;
  /** Inventory files written by `lab up`, removed by `lab down`. */
  inventories: string[];
  hosts: LabHostState[];
}

export async function readLabState(paths: LabPaths): Promise<LabState | undefined> {
  const text = await readFile(paths.stateFile, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as Omit<LabState, 'release'> & { release?: string };
    if (state.version !== 1 || !Array.isArray(state.hosts)) return undefined;
    return { ...state, release: state.release !== undefined && isLabRelease(state.release) ? state.release : LEGACY_RELEASE };
  } catch {
    return undefined;
  }
}

/** Replaces the state file atomically (temp + rename). */
export async function writeLabState(paths: LabPaths, state: LabState): Promise<void> {
  await mkdir(paths.stateDir, { recursive: true, mode: 0o755 });
  const tmp = `${paths.stateFile}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, paths.stateFile);
}

export function findHost(state: LabState | undefined, name: string, lab: string): LabHostState {
  const host = state?.hosts.find((h) => h.name === name);
  if (!state) throw new HapgError('LAB', `lab "${lab}" is not up`, { hint: `start it with \`hapg lab up${labFlag(lab)} --hosts 3\`` });
  if (!host) {
    throw new HapgError('USAGE', `unknown lab host "${name}" (the lab has ${state.hosts.map((h) => h.name).join(', ')})`);
  }
  return host;
}

/**
 * Serialises this lab's commands (a directory lock holding the owner's PID; a lock whose
 * owner died is taken over). Concurrent `lab up`/`down` of one lab would otherwise race on
 * the same namespaces and mounts; other labs have their own lock.
 */
export async function withLabLock<T>(paths: LabPaths, onWait: (pid: number) => void, fn: () => Promise<T>): Promise<T> {
  return withLockDir(paths.lockDir, onWait, fn);
}

/**
 * Serialises changes to what every lab shares: installing the lab packages, (re)starting the
 * apt proxy, building a base rootfs. A proxy restart never cuts off a base build this way.
 * Always taken after the lab's own lock, never before it.
 */
export async function withCachesLock<T>(paths: LabPaths, onWait: (pid: number) => void, fn: () => Promise<T>): Promise<T> {
  return withLockDir(paths.cachesLockDir, onWait, fn);
}

async function withLockDir<T>(lockDir: string, onWait: (pid: number) => void, fn: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  const deadline = Date.now() + 30 * 60_000;
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, 'pid'), `${process.pid}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => '')).trim());
      if (!Number.isInteger(owner) || owner <= 0 || !(await isAlive(owner))) {
        // Owner gone (or it died between mkdir and writing its PID: give it a moment first).
        if (!Number.isInteger(owner) || owner <= 0) await sleep(500);
        const again = Number((await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => '')).trim());
        if (again === owner || !Number.isInteger(again) || again <= 0) await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) onWait(owner);
      announced = true;
      if (Date.now() > deadline) throw new HapgError('LAB', `another hapg lab command (pid ${owner}) holds ${lockDir}`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
