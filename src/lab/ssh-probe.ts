import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { HapgError } from '../errors.js';
import { sleep } from './local.js';

export interface ProbeTarget {
  host: string;
  address: string;
  /** Raw ed25519 host key the server must present (from the lab's pre-generated key). */
  hostKey: Buffer;
}

/**
 * True when sshd on the host presents the expected host key and accepts the lab key for
 * root: exactly what the inventory the lab writes relies on.
 */
export async function sshAccepts(target: ProbeTarget, privateKey: Buffer, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on('ready', () => done(true));
    client.on('error', () => done(false));
    client.on('close', () => done(false));
    client.connect({
      host: target.address,
      port: 22,
      username: 'root',
      privateKey,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => key.equals(target.hostKey),
    });
  });
}

/**
 * Logs in like sshAccepts and runs COMMAND; its stdout, or undefined when the host did not
 * let the lab key in (or did not answer) within the time.
 */
export async function sshRun(target: ProbeTarget, privateKey: Buffer, command: string, timeoutMs = 5000): Promise<{ exitCode: number | undefined; stdout: string } | undefined> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let settled = false;
    const done = (result: { exitCode: number | undefined; stdout: string } | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      resolve(result);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    client.on('ready', () => {
      client.exec(command, (err, stream) => {
        if (err) return done(undefined);
        let stdout = '';
        let exitCode: number | undefined;
        stream.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
        stream.stderr.resume();
        stream.on('exit', (code: number | null) => (exitCode = code ?? undefined));
        stream.on('close', () => done({ exitCode, stdout }));
      });
    });
    client.on('error', () => done(undefined));
    client.on('close', () => done(undefined));
    client.connect({
      host: target.address,
      port: 22,
      username: 'root',
      privateKey,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => key.equals(target.hostKey),
    });
  });
}

/**
 * Not running when asked twice, half a second apart: read while the boot shell execs nspawn,
 * /proc/PID/cmdline can be momentarily empty (a host that was booting fine was once reported
 * stopped).
 */
async function stoppedTwice(running: () => Promise<boolean>): Promise<boolean> {
  if (await running()) return false;
  await new Promise((r) => setTimeout(r, 500));
  return !(await running());
}

/**
 * Polls every host until its sshd accepts the lab key; fails naming the first host that is
 * still unreachable at the deadline, or stops early when its machine process died.
 */
export async function waitForSsh(
  targets: readonly ProbeTarget[],
  privateKeyFile: string,
  opts: { timeoutMs: number; stillRunning?: (host: string) => Promise<boolean>; logOf?: (host: string) => string },
): Promise<void> {
  const privateKey = await readFile(privateKeyFile);
  const deadline = Date.now() + opts.timeoutMs;
  await Promise.all(
    targets.map(async (target) => {
      for (;;) {
        if (await sshAccepts(target, privateKey, 2000)) return;
        if (opts.stillRunning && (await stoppedTwice(() => opts.stillRunning!(target.host)))) {
          throw new HapgError('LAB', `${target.host} stopped while booting`, {
            host: target.host,
            ...(opts.logOf ? { hint: `see ${opts.logOf(target.host)}` } : {}),
          });
        }
        if (Date.now() > deadline) {
          throw new HapgError('LAB', `${target.host} (${target.address}): sshd did not accept the lab key within ${Math.round(opts.timeoutMs / 1000)} s`, {
            host: target.host,
            ...(opts.logOf ? { hint: `see ${opts.logOf(target.host)}` } : {}),
          });
        }
        await sleep(250);
      }
    }),
  );
}
