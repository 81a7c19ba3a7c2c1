import { readdir, readFile } from 'node:fs/promises';
import { sleep } from './local.js';

/** argv of a running process, or undefined when it is gone (or a zombie). */
export async function processArgv(pid: number): Promise<string[] | undefined> {
  if (!(await isAlive(pid))) return undefined;
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return raw === undefined ? undefined : raw.split('\0').filter(Boolean);
}

/** True while the process exists and has not exited (zombies count as exited). */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Processes whose argv matches; used to find lab processes the state file lost track of. */
export async function findProcesses(match: (argv: string[]) => boolean): Promise<{ pid: number; argv: string[] }[]> {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const argv = await processArgv(pid);
    if (argv && match(argv)) found.push({ pid, argv });
  }
  return found;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Waits until every PID has exited; returns those still alive at the deadline. */
export async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = [...pids];
  for (;;) {
    const checks = await Promise.all(alive.map(async (pid) => ((await isAlive(pid)) ? pid : undefined)));
    alive = checks.filter((pid): pid is number => pid !== undefined);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await sleep(100);
  }
}

/** Signals, waits, then SIGKILLs what is left and waits again: the lab never deletes under a live process. */
export async function terminate(pids: readonly number[], opts: { signal?: NodeJS.Signals; graceMs: number }): Promise<number[]> {
  for (const pid of pids) signal(pid, opts.signal ?? 'SIGTERM');
  const left = await waitForExit(pids, opts.graceMs);
  for (const pid of left) signal(pid, 'SIGKILL');
  return waitForExit(left, 10_000);
}
