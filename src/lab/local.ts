import { execa } from 'execa';
import { HapgError, truncate } from '../errors.js';

export interface LocalResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface LocalOptions {
  /** What the command is for, used in the error message ("creating the bridge"). */
  what?: string;
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
}

/** Tool → the Debian package that provides it, for "install X" hints. */
const packageOfTool: Record<string, string> = {
  debootstrap: 'debootstrap',
  'systemd-nspawn': 'systemd-container',
  'apt-cacher-ng': 'apt-cacher-ng',
  ip: 'iproute2',
  bridge: 'iproute2',
  'ssh-keygen': 'openssh-client',
};

/** Runs a command on the control machine; failures become one-line LAB errors. */
export async function runLocal(file: string, args: readonly string[], opts: LocalOptions = {}): Promise<LocalResult> {
  const result = await execa(file, args, {
    reject: false,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    ...(opts.input === undefined ? {} : { input: opts.input }),
    env: { LC_ALL: 'C', ...opts.env },
    ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
  });
  const out: LocalResult = { exitCode: result.exitCode ?? -1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  if (result.failed && (result as { code?: string }).code === 'ENOENT') {
    const pkg = packageOfTool[file];
    throw new HapgError('LAB', `\`${file}\` is not installed`, {
      hint: pkg ? `run \`hapg lab setup\` or \`apt-get install ${pkg}\`` : `install ${file}`,
    });
  }
  if (result.timedOut) {
    throw new HapgError('LAB', `${opts.what ? `${opts.what}: ` : ''}\`${describe(file, args)}\` timed out after ${opts.timeoutMs} ms`);
  }
  if (out.exitCode !== 0 && !opts.allowFailure) {
    const tail = lastLine(out.stderr) || lastLine(out.stdout);
    throw new HapgError(
      'LAB',
      `${opts.what ? `${opts.what}: ` : ''}\`${describe(file, args)}\` failed (exit ${out.exitCode})${tail ? `: ${tail}` : ''}`,
    );
  }
  return out;
}

function describe(file: string, args: readonly string[]): string {
  return truncate([file, ...args].join(' '), 160);
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return truncate((lines[lines.length - 1] ?? '').trim(), 240);
}

/** Sleeps; the lab polls kernel and process state that offers no notification. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
