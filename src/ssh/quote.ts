import { HapgError } from '../errors.js';

/** Words made only of these characters mean the same to a POSIX shell quoted or bare. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** `NAME=value` in command position is an assignment, not a command: always quote it. */
const LOOKS_LIKE_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Quotes one argument for a POSIX shell: bare when safe, otherwise single-quoted. */
export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new HapgError('INTERNAL', 'a command argument contains a NUL byte, which no shell can pass');
  if (arg === '') return "''";
  if (SAFE_WORD.test(arg) && !LOOKS_LIKE_ASSIGNMENT.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Joins argv into one shell command line; the only place argv becomes shell text. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quoteArg).join(' ');
}

export interface CommandContext {
  /** User the SSH connection logged in as. */
  loginUser: string;
  /** Run with root privileges (`sudo -n --`); nothing to add when logged in as root. */
  sudo?: boolean | undefined;
  /** Run as this user: `runuser -u USER --` as root, else `sudo -n -u USER --`. */
  user?: string | undefined;
  env?: Record<string, string> | undefined;
}

/**
 * Wraps argv in the privilege and environment prefixes the options ask for and quotes the
 * result, so callers only ever deal in argv.
 */
export function commandLine(argv: readonly string[], ctx: CommandContext): string {
  return quoteArgv(wrapArgv(argv, ctx));
}

/** The argv actually run: `[sudo -n [-u U] -- | runuser -u U --] [env K=V …] argv…`. */
export function wrapArgv(argv: readonly string[], ctx: CommandContext): string[] {
  if (argv.length === 0) throw new HapgError('INTERNAL', 'cannot run an empty command');
  const isRoot = ctx.loginUser === 'root';
  const asUser = ctx.user !== undefined && ctx.user !== ctx.loginUser ? ctx.user : undefined;
  const prefix: string[] = [];
  if (asUser !== undefined) {
    if (asUser === '' || asUser.startsWith('-')) throw new HapgError('INTERNAL', `invalid user name "${asUser}"`);
    prefix.push(...(isRoot ? ['runuser', '-u', asUser, '--'] : ['sudo', '-n', '-u', asUser, '--']));
  } else if (ctx.sudo && !isRoot) {
    prefix.push('sudo', '-n', '--');
  }
  const env = Object.entries(ctx.env ?? {});
  if (env.length > 0) {
    for (const [name] of env) {
      if (!ENV_NAME.test(name)) throw new HapgError('INTERNAL', `invalid environment variable name "${name}"`);
    }
    prefix.push('env', ...env.map(([name, value]) => `${name}=${value}`));
  }
  return [...prefix, ...argv];
}
