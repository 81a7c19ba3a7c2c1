import type { EventSink, RunEvent } from './events.js';

/**
 * A test hook of the fault suite: `HAPG_FAULT_KILL=<kind>:<text>[#n][~ms]` makes hapg kill
 * itself with SIGKILL, as if the operator's machine died right there, when it reports the
 * n-th (default first) event of that kind (phase, step, change, waited, info) whose
 * `[host] title` or message contains <text> (e.g. `step:[pg2] start patroni`); `~ms` waits that long first (to die while a remote command runs).
 * Nothing else reads it; it is never needed outside tests.
 */
export function withFaultInjection(sink: EventSink, spec: string | undefined = process.env['HAPG_FAULT_KILL']): EventSink {
  if (!spec) return sink;
  const m = /^(phase|step|change|waited|info):(.+?)(?:#(\d+))?(?:~(\d+))?$/.exec(spec);
  if (!m) throw new Error(`HAPG_FAULT_KILL=${spec}: expected <phase|step|change|waited|info>:<text>[#n][~ms]`);
  const [, kind, text, nth, delay] = m as unknown as [string, RunEvent['kind'], string, string | undefined, string | undefined];
  let seen = 0;
  return (event) => {
    sink(event);
    if (event.kind !== kind) return;
    const host = 'host' in event && event.host ? `[${event.host}] ` : '';
    const said = host + ('title' in event ? event.title : 'message' in event ? event.message : '');
    if (!said.includes(text) || ++seen !== Number(nth ?? 1)) return;
    const kill = () => process.kill(process.pid, 'SIGKILL');
    if (delay) setTimeout(kill, Number(delay));
    else kill();
  };
}
