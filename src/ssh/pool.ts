import { HapgError, asHapgError } from '../errors.js';
import { JumpHosts } from './bastion.js';
import { connect } from './connect.js';
import { Limiter } from './limiter.js';
import type { ConnectOptions, Remote, SshTarget } from './types.js';

export interface OpenRemotesOptions extends ConnectOptions {
  /** Connections being opened at once (default 16). */
  concurrency?: number;
}

const DEFAULT_CONCURRENCY = 16;

/**
 * Opens one connection per host, in parallel, before any work starts. If any host fails, the
 * others are closed and one error names every failing host (the first one's code and hint).
 */
export async function openRemotes(targets: readonly SshTarget[], opts: OpenRemotesOptions = {}): Promise<Map<string, Remote>> {
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.host)) throw new HapgError('INTERNAL', `host ${t.host} appears twice in the connection list`);
    seen.add(t.host);
  }
  const limiter = new Limiter(opts.concurrency ?? DEFAULT_CONCURRENCY);
  const jumps = new JumpHosts(opts);
  const outcomes = await Promise.allSettled(targets.map((t) => limiter.run(() => connect(t, opts, jumps))));
  const remotes = new Map<string, Remote>();
  const failures: HapgError[] = [];
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') remotes.set(targets[i]!.host, outcome.value);
    else failures.push(asHapgError(outcome.reason));
  });
  if (failures.length === 0) return remotes;
  closeAll(remotes);
  throw combineFailures(failures);
}

/** One error for several failed connections; a single failure is returned as it is. */
export function combineFailures(failures: readonly HapgError[]): HapgError {
  const [first] = failures;
  if (!first) throw new HapgError('INTERNAL', 'combineFailures called without failures');
  if (failures.length === 1) return first;
  return new HapgError(first.code, `cannot reach ${failures.length} hosts: ${failures.map((f) => f.message).join('; ')}`, {
    cause: first,
    ...(first.host ? { host: first.host } : {}),
    ...(first.hint ? { hint: first.hint } : {}),
  });
}

/** Opens every connection, runs fn, and closes them all however fn ends. */
export async function withRemotes<T>(
  targets: readonly SshTarget[],
  opts: OpenRemotesOptions,
  fn: (remotes: ReadonlyMap<string, Remote>) => Promise<T>,
): Promise<T> {
  const remotes = await openRemotes(targets, opts);
  try {
    return await fn(remotes);
  } finally {
    closeAll(remotes);
  }
}

function closeAll(remotes: ReadonlyMap<string, Remote>): void {
  for (const remote of remotes.values()) remote.close();
}
