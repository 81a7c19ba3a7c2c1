// The operator machine's openssl, run through execa: CA creation and signing happen here,
// with key material in a private temporary directory that is removed afterwards.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { HapgError } from '../errors.js';

/** Runs openssl with `args`; files named in `files` are written first (mode 0600) into a private directory `dir` stands for. */
export async function openssl(args: (dir: string) => string[], files: Record<string, string> = {}, what = 'openssl'): Promise<{ stdout: string; dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hapg-pki-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content, { mode: 0o600 });
    const result = await execa('openssl', args(dir), { reject: false, stdin: 'ignore' }).catch((err: unknown) => {
      throw new HapgError('PRECHECK_FAILED', `${what}: cannot run openssl on this machine (${(err as Error).message})`, { hint: 'install openssl (Debian: apt-get install openssl)' });
    });
    if (result.exitCode !== 0) {
      // openssl's messages name files and options, never key material.
      throw new HapgError('COMMAND_FAILED', `${what}: openssl failed: ${String(result.stderr).trim().split('\n').slice(-2).join(' ')}`);
    }
    return { stdout: String(result.stdout), dir, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
