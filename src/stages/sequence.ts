// The order in which deploy reloads, restarts and switches over, host by host, derived from
// stage plans (pure): what `plan` prints last, and what `deploy --json` reports it ran. Both
// come from the same function over the same stages, so they can be compared.
import type { HttpStep, ServiceStep } from '../run/steps.js';
import type { PlannedStage } from './run.js';

export interface SequenceStep {
  kind: 'start' | 'reload' | 'restart' | 'stop' | 'patch' | 'switchover';
  /** The service a start, reload, restart or stop acts on (PostgreSQL restarts through Patroni have none). */
  service?: string;
  hosts: string[];
  action: string;
}

const EXPLAIN: Record<string, string> = {
  'reload patroni': 'reload Patroni: it re-reads patroni.yml (local settings, pg_hba) and reloads PostgreSQL, no restart',
  'reload haproxy': 'reload HAProxy gracefully: new workers take over the listeners, established connections stay',
  'reload keepalived': 'reload keepalived',
};

const KIND: Record<ServiceStep['state'], SequenceStep['kind']> = { started: 'start', reloaded: 'reload', restarted: 'restart', stopped: 'stop' };

/** Service actions, PATCH /config, restarts and switchovers of every block, in order. */
export function sequenceOf(stages: readonly PlannedStage[]): SequenceStep[] {
  const steps: SequenceStep[] = [];
  for (const { plan } of stages) {
    for (const block of plan.blocks) {
      // The same service action on several hosts of one block runs together: one line.
      const grouped = new Map<string, SequenceStep>();
      for (const item of block.items) {
        if (item.kind === 'service') {
          const existing = grouped.get(item.title);
          if (existing) existing.hosts.push(item.host);
          else {
            const step: SequenceStep = { kind: KIND[item.state], service: item.name, hosts: [item.host], action: EXPLAIN[item.title] ?? item.title };
            grouped.set(item.title, step);
            steps.push(step);
          }
        } else if (item.kind === 'http' && item.method === 'PATCH' && item.path === '/config' && !changesNothing(item)) {
          steps.push({ kind: 'patch', hosts: [item.host], action: `PATCH /config on the leader; Patroni on every member applies it and reloads PostgreSQL${patchDetail(plan.parameters ?? [])}` });
        } else if (item.kind === 'http' && item.path === '/restart') {
          const existing = grouped.get('restart');
          if (existing) existing.hosts.push(item.host);
          else {
            const step: SequenceStep = { kind: 'restart', hosts: [item.host], action: block.says ?? 'restart PostgreSQL' };
            grouped.set('restart', step);
            steps.push(step);
          }
        } else if (item.kind === 'http' && item.path === '/switchover') {
          steps.push({ kind: 'switchover', hosts: [item.host], action: block.says ?? item.title });
        }
      }
    }
  }
  for (const step of steps) step.hosts.sort(byName);
  return steps;
}

/** A request every accepted answer of which means "unchanged" (waking Patroni's loop): not an action of the sequence. */
const changesNothing = (item: HttpStep) => item.answers !== undefined && item.answers.every((a) => !a.changed);

const byName = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

function patchDetail(parameters: readonly { name: string; applies: string }[]): string {
  const by = (applies: string) => parameters.filter((p) => p.applies === applies).map((p) => p.name);
  const parts = [
    by('reload').length ? `on reload: ${by('reload').join(', ')}` : '',
    by('unknown').length ? `unknown to the server: ${by('unknown').join(', ')}` : '',
    by('restart').length ? `pending a restart: ${by('restart').join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

/** The sequence as numbered lines. */
export function renderSequence(steps: readonly SequenceStep[]): string[] {
  return steps.map((s, i) => `  ${i + 1}. ${s.kind === 'switchover' ? '' : `[${s.hosts.join(', ')}] `}${s.action}`);
}

/** What two sequences are compared by: the kind of each action, its service, and the hosts it touches. */
export function sequenceShape(steps: readonly SequenceStep[]): string[] {
  return steps.map((s) => `${s.kind}${s.service ? ` ${s.service}` : ''} ${s.hosts.join(',')}`);
}
