import type { FactCache } from '../facts/fact.js';
import type { Secret } from '../secret.js';
import type { HttpTls, TokenLogin } from '../ssh/types.js';

/**
 * Steps are data: tasks return them, the executor alone runs them. `host` is the
 * inventory host name. `title` is what progress output and `plan` show.
 */
export type Step = ExecStep | FileStep | ServiceStep | HttpStep | SqlStep | CertStep | WaitStep;

interface StepBase {
  host: string;
  title: string;
  /** Names a step whose outcome a report reads afterwards (e.g. how long a wait took). */
  tag?: string;
  /**
   * Proves something works rather than converging it (a check row written through the VIP):
   * it runs like any step but counts as no change, so a converged run still says "nothing to do".
   */
  check?: boolean;
}

export interface ExecStep extends StepBase {
  kind: 'exec';
  argv: string[];
  sudo?: boolean;
  user?: string;
  stdin?: string;
  secrets?: Secret[];
  timeoutMs?: number;
}

export interface FileStep extends StepBase {
  kind: 'file';
  path: string;
  content: string;
  mode: number;
  owner: string;
  group: string;
  /** Values inside `content` that must be masked in plans and diffs. */
  secrets?: Secret[];
  /**
   * Lines whose value is a secret wherever it sits (`password: …`): masked by position on
   * both sides of a diff, whatever the value, so a host's older or foreign secrets never show.
   */
  secretLines?: RegExp;
}

export interface ServiceStep extends StepBase {
  kind: 'service';
  name: string;
  state: 'started' | 'stopped' | 'restarted' | 'reloaded';
  enabled?: boolean;
}

/** An HTTP API on the host (Patroni, etcd), called over the SSH connection. */
export interface HttpStep extends StepBase {
  kind: 'http';
  /** Where the host connects (default its loopback). */
  address?: string;
  port: number;
  tls?: HttpTls;
  schemeFallback?: boolean;
  login?: TokenLogin;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  basicAuth?: { user: string; password: Secret };
  /**
   * The answers that mean success, first match wins, and whether each changed something
   * (default: 200, changed). Any other answer fails the step. An unchanged answer is reported
   * with its `reason`, or else the start of the body.
   */
  answers?: { status: number; body?: RegExp; changed: boolean; reason?: string }[];
  /** Answers that mean "not yet" (an etcd learner still catching up): asked again until `timeoutMs`. */
  retry?: { answers: { status: number; body: RegExp }[]; timeoutMs: number; intervalMs?: number };
  timeoutMs?: number;
}

/**
 * A certificate for a key that stays on the host: the host makes the key where it is missing
 * (mode 0600, owned by the service's user) and a certificate request from it; hapg signs the
 * request on the operator's machine and writes the certificate back. No key material in it.
 */
export interface CertStep extends StepBase {
  kind: 'cert';
  keyPath: string;
  certPath: string;
  /** Owner of the key (`etcd`, `postgres`); its group is the same. */
  keyOwner: string;
  /** Subject of the request (no Common Name). */
  subject: string;
  /** Signs the host's request with the CA; returns the certificate (PEM). */
  sign(csrPem: string): Promise<string>;
}

/** Where a SQL step connects: the local server as the postgres OS user, or an address with a password. */
export type SqlTarget =
  | { kind: 'local'; port: number; database: string }
  | { kind: 'network'; address: string; port: number; database: string; user: string; password: Secret; /** CA bundle on the host: TLS, server verified (verify-full). */ sslRootCert?: string };

/** SQL run by psql on the host; stops at the first error. */
export interface SqlStep extends StepBase {
  kind: 'sql';
  target: SqlTarget;
  sql: string;
  /** Values inside `sql` that must never be shown. */
  secrets?: Secret[];
  /** What psql must print (unaligned, tuples only); anything else fails the step with `otherwise`. */
  expect?: { stdout: string; otherwise: string };
  timeoutMs?: number;
}

/** The answer of one poll of a wait. */
export interface WaitProbe {
  done: boolean;
  status: string;
}

/**
 * Waits until a condition on fresh facts holds: every poll re-reads what it asks. Changes
 * nothing. On timeout the step fails with what it waited for and the last thing it saw
 * (`soft`: it warns and the run goes on).
 */
export interface WaitStep extends StepBase {
  kind: 'wait';
  until: (facts: FactCache) => Promise<WaitProbe>;
  timeoutMs: number;
  intervalMs?: number;
  soft?: boolean;
}

/** A task's answer when nothing needs to change: no steps, and why. */
export interface Noop {
  kind: 'noop';
  host: string;
  reason: string;
}

export type PlanItem = Step | Noop;

export const noop = (host: string, reason: string): Noop => ({ kind: 'noop', host, reason });

export const exec = (host: string, title: string, argv: string[], extra: Partial<ExecStep> = {}): ExecStep => ({
  kind: 'exec',
  host,
  title,
  argv,
  ...extra,
});

export const file = (
  host: string,
  path: string,
  content: string,
  opts: { mode?: number; owner?: string; group?: string; secrets?: Secret[]; secretLines?: RegExp; title?: string } = {},
): FileStep => ({
  kind: 'file',
  host,
  title: opts.title ?? `write ${path}`,
  path,
  content,
  mode: opts.mode ?? 0o644,
  owner: opts.owner ?? 'root',
  group: opts.group ?? opts.owner ?? 'root',
  ...(opts.secrets ? { secrets: opts.secrets } : {}),
  ...(opts.secretLines ? { secretLines: opts.secretLines } : {}),
});

const SERVICE_VERB: Record<ServiceStep['state'], string> = { started: 'start', stopped: 'stop', restarted: 'restart', reloaded: 'reload' };

export const service = (host: string, name: string, state: ServiceStep['state'], enabled?: boolean): ServiceStep => ({
  kind: 'service',
  host,
  title: `${SERVICE_VERB[state]} ${name}`,
  name,
  state,
  ...(enabled === undefined ? {} : { enabled }),
});

export const wait = (
  host: string,
  title: string,
  until: WaitStep['until'],
  opts: { timeoutMs: number; intervalMs?: number; soft?: boolean; tag?: string },
): WaitStep => ({ kind: 'wait', host, title, until, ...opts });

export const isNoop = (item: PlanItem): item is Noop => item.kind === 'noop';

/** Steps only (noops dropped). */
export function stepsOf(items: readonly PlanItem[]): Step[] {
  return items.filter((i): i is Step => !isNoop(i));
}
