import { HapgError } from '../errors.js';
import type { FactCache } from '../facts/fact.js';
import type { Remote } from '../ssh/types.js';
import type { EventSink } from './events.js';
import type { Step } from './steps.js';

export interface ApplyContext {
  remotes: ReadonlyMap<string, Remote>;
  facts: FactCache;
  sink: EventSink;
}

export interface ApplyResult {
  /** Steps that changed something on a host. */
  changed: number;
  /** Steps that found the host already as wanted (e.g. a file with the same content). */
  unchanged: number;
}

/**
 * Runs steps: in order per host, hosts in parallel. A host whose step fails stops there; the
 * other hosts finish their own sequence, then the first failure is raised. Every step that
 * touches a host invalidates that host's cached facts.
 */
export async function applySteps(steps: readonly Step[], ctx: ApplyContext): Promise<ApplyResult> {
  const byHost = new Map<string, Step[]>();
  for (const step of steps) {
    const list = byHost.get(step.host) ?? [];
    list.push(step);
    byHost.set(step.host, list);
  }
  const result: ApplyResult = { changed: 0, unchanged: 0 };
  const outcomes = await Promise.allSettled(
    [...byHost.entries()].map(async ([host, hostSteps]) => {
      for (const step of hostSteps) {
        const changed = await runStep(step, ctx).finally(() => ctx.facts.invalidate(host));
        if (changed) result.changed++;
        else result.unchanged++;
      }
    }),
  );
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) throw failure.reason;
  return result;
}

/** Runs one step and reports whether it changed the host. */
export async function runStep(step: Step, ctx: ApplyContext): Promise<boolean> {
  const remote = ctx.remotes.get(step.host);
  if (!remote) throw new HapgError('INTERNAL', `step "${step.title}" targets ${step.host}, which has no open connection`);
  ctx.sink({ kind: 'step', host: step.host, title: step.title });
  try {
    const changed = await execute(step, remote);
    ctx.sink(
      changed
        ? { kind: 'change', host: step.host, title: step.title }
        : { kind: 'noop', host: step.host, title: step.title, reason: 'already as wanted' },
    );
    return changed;
  } catch (err) {
    ctx.sink({ kind: 'fail', host: step.host, title: step.title, error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

async function execute(step: Step, remote: Remote): Promise<boolean> {
  switch (step.kind) {
    case 'exec':
      await remote.exec(step.argv, {
        sudo: step.sudo ?? true,
        ...(step.user ? { user: step.user } : {}),
        ...(step.stdin !== undefined ? { stdin: step.stdin } : {}),
        ...(step.secrets ? { secrets: step.secrets } : {}),
        ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
      });
      return true;
    case 'file': {
      const { changed } = await remote.putFile(step.path, step.content, { mode: step.mode, owner: step.owner, group: step.group });
      return changed;
    }
    case 'service': {
      const verb = { started: 'start', stopped: 'stop', restarted: 'restart', reloaded: 'reload' }[step.state];
      if (step.enabled !== undefined) await remote.exec(['systemctl', step.enabled ? 'enable' : 'disable', '--quiet', step.name], { sudo: true });
      await remote.exec(['systemctl', verb, step.name], { sudo: true });
      return true;
    }
    case 'http': {
      const response = await remote.http({
        method: step.method,
        port: step.port,
        path: step.path,
        ...(step.body !== undefined ? { body: JSON.stringify(step.body), headers: { 'content-type': 'application/json' } } : {}),
        ...(step.basicAuth ? { basicAuth: step.basicAuth } : {}),
      });
      const expected = step.expectStatus ?? [200];
      if (!expected.includes(response.status)) {
        throw new HapgError('HTTP_FAILED', `${step.host}: ${step.method} ${step.path} answered ${response.status}: ${response.body.trim().slice(0, 200)}`, {
          host: step.host,
        });
      }
      return true;
    }
  }
}
