import { HapgError } from '../errors.js';
import type { FactCache } from '../facts/fact.js';
import { maskSecrets, Secret } from '../secret.js';
import type { Remote } from '../ssh/types.js';
import type { EventSink } from './events.js';
import { CLIENT_CONNINFO, psqlArgv } from './psql.js';
import type { CertStep, HttpStep, SqlStep, Step, WaitStep } from './steps.js';

export interface ApplyContext {
  remotes: ReadonlyMap<string, Remote>;
  facts: FactCache;
  sink: EventSink;
}

/** What one step did. */
export interface StepOutcome {
  step: Step;
  /** It changed something on a host (waits never do). */
  changed: boolean;
  ms: number;
  /** A wait's last status, an unchanged step's reason. */
  status?: string;
}

export interface ApplyResult {
  /** Steps that changed something on a host. */
  changed: number;
  /** Steps that found the host already as wanted (e.g. a file with the same content). */
  unchanged: number;
  outcomes: StepOutcome[];
}

/**
 * Runs steps: in order per host, hosts in parallel. A host whose step fails stops there; the
 * other hosts finish their own sequence, then the first failure is raised. Every step that
 * touches a host invalidates that host's cached facts. The only place hapg changes a host.
 */
export async function applySteps(steps: readonly Step[], ctx: ApplyContext): Promise<ApplyResult> {
  const byHost = new Map<string, Step[]>();
  for (const step of steps) {
    const list = byHost.get(step.host) ?? [];
    list.push(step);
    byHost.set(step.host, list);
  }
  const result: ApplyResult = { changed: 0, unchanged: 0, outcomes: [] };
  const settled = await Promise.allSettled(
    [...byHost.entries()].map(async ([host, hostSteps]) => {
      for (const step of hostSteps) {
        const outcome = await runStep(step, ctx).finally(() => step.kind !== 'wait' && ctx.facts.invalidate(host));
        result.outcomes.push(outcome);
        if (step.kind === 'wait' || step.check) continue;
        if (outcome.changed) result.changed++;
        else result.unchanged++;
      }
    }),
  );
  const failure = settled.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) throw failure.reason;
  return result;
}

/** Runs one step and reports what it did. */
export async function runStep(step: Step, ctx: ApplyContext): Promise<StepOutcome> {
  const started = Date.now();
  ctx.sink({ kind: 'step', host: step.host, title: step.title });
  try {
    if (step.kind === 'wait') {
      const status = await waitFor(step, ctx);
      ctx.sink({ kind: 'waited', host: step.host, title: step.title, status, ms: Date.now() - started });
      return { step, changed: false, ms: Date.now() - started, status };
    }
    const remote = ctx.remotes.get(step.host);
    if (!remote) throw new HapgError('INTERNAL', `step "${step.title}" targets ${step.host}, which has no open connection`);
    const { changed, reason } = await execute(step, remote);
    if (step.check) {
      ctx.sink({ kind: 'checked', host: step.host, title: step.title, ms: Date.now() - started });
      return { step, changed: false, ms: Date.now() - started };
    }
    ctx.sink(changed ? { kind: 'change', host: step.host, title: step.title } : { kind: 'noop', host: step.host, title: step.title, reason: reason ?? 'already as wanted' });
    return { step, changed, ms: Date.now() - started, ...(reason ? { status: reason } : {}) };
  } catch (err) {
    ctx.sink({ kind: 'fail', host: step.host, title: step.title, error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

async function execute(step: Exclude<Step, WaitStep>, remote: Remote): Promise<{ changed: boolean; reason?: string }> {
  switch (step.kind) {
    case 'exec':
      await remote.exec(step.argv, {
        sudo: step.sudo ?? true,
        ...(step.user ? { user: step.user } : {}),
        ...(step.stdin !== undefined ? { stdin: step.stdin } : {}),
        ...(step.secrets ? { secrets: step.secrets } : {}),
        ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
      });
      return { changed: true };
    case 'file':
      return remote.putFile(step.path, step.content, { mode: step.mode, owner: step.owner, group: step.group });
    case 'service': {
      const verb = { started: 'start', stopped: 'stop', restarted: 'restart', reloaded: 'reload' }[step.state];
      if (step.enabled !== undefined) await remote.exec(['systemctl', step.enabled ? 'enable' : 'disable', '--quiet', step.name], { sudo: true });
      await remote.exec(['systemctl', verb, step.name], { sudo: true });
      return { changed: true };
    }
    case 'http':
      return callHttp(step, remote);
    case 'sql':
      return runSql(step, remote);
    case 'cert':
      return issueCertificate(step, remote);
  }
}

// Makes the key where it is missing (P-256, 0600, owned by the service's user) and prints a
// certificate request for it: the key itself never leaves the host.
const KEY_AND_CSR = [
  'set -e',
  'umask 077',
  'mkdir -p "$(dirname "$1")"',
  'chmod 0755 "$(dirname "$1")"',
  'if [ ! -s "$1" ]; then openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.new" 2>/dev/null; mv -f "$1.new" "$1"; fi',
  'chown "$2:$2" "$1"',
  'chmod 0600 "$1"',
  'openssl req -new -key "$1" -subj "$3"',
].join('\n');

async function issueCertificate(step: CertStep, remote: Remote): Promise<{ changed: boolean }> {
  const csr = await remote.exec(['sh', '-c', KEY_AND_CSR, 'sh', step.keyPath, step.keyOwner, step.subject], { sudo: true });
  const cert = await step.sign(csr.stdout);
  await remote.putFile(step.certPath, cert, { mode: 0o644, owner: 'root', group: 'root' });
  return { changed: true };
}

// A Secret in a step's body prints as *** (plans, logs); only the request carries its value.
function revealSecrets(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  return original instanceof Secret ? original.reveal() : value;
}

async function callHttp(step: HttpStep, remote: Remote): Promise<{ changed: boolean; reason?: string }> {
  const deadline = Date.now() + (step.retry?.timeoutMs ?? 0);
  for (;;) {
    const response = await requestOnce(step, remote);
    const retry = step.retry;
    if (retry && retry.answers.some((a) => a.status === response.status && a.body.test(response.body)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, retry.intervalMs ?? 1000));
      continue;
    }
    const body = response.body.trim().slice(0, 200);
    const answer = (step.answers ?? [{ status: 200, changed: true }]).find((a) => a.status === response.status && (!a.body || a.body.test(response.body)));
    if (!answer) throw new HapgError('HTTP_FAILED', `${step.host}: ${step.method} ${step.path} answered ${response.status}: ${body}`, { host: step.host });
    return answer.changed ? { changed: true } : { changed: false, reason: answer.reason ?? (body || `HTTP ${response.status}`) };
  }
}

function requestOnce(step: HttpStep, remote: Remote) {
  return remote.http({
    method: step.method,
    ...(step.address ? { address: step.address } : {}),
    port: step.port,
    path: step.path,
    ...(step.tls ? { tls: step.tls } : {}),
    ...(step.schemeFallback ? { schemeFallback: true } : {}),
    ...(step.login ? { login: step.login } : {}),
    ...(step.body !== undefined ? { body: JSON.stringify(step.body, revealSecrets), headers: { 'content-type': 'application/json' } } : {}),
    ...(step.basicAuth ? { basicAuth: step.basicAuth } : {}),
    ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
  });
}

// A network target's password arrives as the first line of stdin, so it is in no command
// line or environment listing; the SQL follows.
const NETWORK_PSQL = [
  'IFS= read -r PGPASSWORD; export PGPASSWORD',
  `exec psql -X -q -A -t -v ON_ERROR_STOP=1 ${CLIENT_CONNINFO}`,
].join('\n');

async function runSql(step: SqlStep, remote: Remote): Promise<{ changed: boolean }> {
  const t = step.target;
  const secrets = [...(step.secrets ?? []), ...(t.kind === 'network' ? [t.password] : [])];
  const result =
    t.kind === 'local'
      ? await remote.exec(['runuser', '-u', 'postgres', '--', ...psqlArgv(t.port, t.database)], { sudo: true, stdin: step.sql, secrets, timeoutMs: step.timeoutMs ?? 60_000 })
      : await remote.exec(['sh', '-c', NETWORK_PSQL, 'sh', t.address, String(t.port), t.user, t.database, t.sslRootCert ?? ''], {
          stdin: `${t.password.reveal()}\n${step.sql}`,
          secrets,
          timeoutMs: step.timeoutMs ?? 60_000,
        });
  if (step.expect && result.stdout.trim() !== step.expect.stdout) {
    throw new HapgError('CLUSTER_UNHEALTHY', `${step.host}: ${step.expect.otherwise} (got ${JSON.stringify(maskSecrets(result.stdout.trim(), secrets).slice(0, 80))})`, { host: step.host });
  }
  return { changed: true };
}

/** Polls a wait's condition on fresh facts until it holds or its time is up. */
async function waitFor(step: WaitStep, ctx: ApplyContext): Promise<string> {
  const deadline = Date.now() + step.timeoutMs;
  const interval = step.intervalMs ?? 1000;
  let last = 'no answer yet';
  for (;;) {
    try {
      const { done, status } = await step.until(ctx.facts);
      last = status;
      if (done) return status;
    } catch (err) {
      // A condition that can never hold says so by raising a HapgError: that ends the wait.
      if (err instanceof HapgError && err.code !== 'HTTP_FAILED' && err.code !== 'SSH_CONNECT') throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    // A host whose connection dropped (powered off, cut off) will not answer this wait: say so now.
    const lost = ctx.facts.lostConnections()[0];
    if (lost) throw new HapgError('SSH_CONNECT', `${lost.host}: ${lost.reason}, while waiting for ${step.title} (${last})`, { host: lost.host });
    if (Date.now() >= deadline) {
      const message = `timed out after ${Math.round(step.timeoutMs / 1000)}s waiting for ${step.title}: ${last}`;
      if (step.soft) {
        ctx.sink({ kind: 'warn', host: step.host, message });
        return last;
      }
      throw new HapgError('CLUSTER_UNHEALTHY', message, { host: step.host });
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
