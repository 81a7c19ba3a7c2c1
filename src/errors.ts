/** Stable error codes: scripts and tests match on these, never on message text. */
export type ErrorCode =
  | 'INVENTORY_INVALID'
  | 'USAGE'
  | 'SSH_CONNECT'
  | 'SSH_HOST_KEY'
  | 'PRECHECK_FAILED'
  | 'COMMAND_FAILED'
  | 'HTTP_FAILED'
  | 'CLUSTER_UNHEALTHY'
  | 'UNSAFE_OPERATION'
  | 'LAB'
  | 'INTERNAL';

/** Process exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  badInput: 2,
} as const;

const badInputCodes: ReadonlySet<ErrorCode> = new Set(['INVENTORY_INVALID', 'USAGE']);

/** The one error type hapg raises on purpose: a code, a one-line message, an optional hint. */
export class HapgError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly host: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; hint?: string; host?: string } = {}) {
    // One line, whatever it quotes (a multi-line script that failed, a remote's stderr).
    super(message.replace(/\s*\n\s*/g, ' '), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HapgError';
    this.code = code;
    this.hint = opts.hint;
    this.host = opts.host;
  }

  get exitCode(): number {
    return badInputCodes.has(this.code) ? ExitCode.badInput : ExitCode.failed;
  }
}

/** A remote or local command that exited non-zero; shaped like a command result. */
export class CommandError extends HapgError {
  constructor(
    readonly result: {
      host: string;
      command: string;
      exitCode: number | null;
      signal?: string | undefined;
      stdout: string;
      stderr: string;
      durationMs: number;
    },
  ) {
    const tail = lastLine(result.stderr) || lastLine(result.stdout);
    const status = result.exitCode === null ? `signal ${result.signal ?? '?'}` : `exit ${result.exitCode}`;
    super('COMMAND_FAILED', `${result.host}: \`${truncate(result.command, 160)}\` failed (${status})${tail ? `: ${tail}` : ''}`, {
      host: result.host,
    });
    this.name = 'CommandError';
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return truncate((lines[lines.length - 1] ?? '').trim(), 240);
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Wraps anything thrown into a HapgError so the CLI can print it on one line. */
export function asHapgError(err: unknown): HapgError {
  if (err instanceof HapgError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new HapgError('INTERNAL', message, { cause: err });
}
