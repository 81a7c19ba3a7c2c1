// The order in which deploy would reload, restart and switch over, host by host, derived from
// the plan's sections (pure): what `plan` prints last.
import type { PlanItem, ServiceStep } from '../../run/steps.js';
import { describeRestartAction, type ParameterChange, type RestartAction } from '../patroni/restart-plan.js';

export interface SequenceStep {
  kind: 'start' | 'reload' | 'restart' | 'stop' | 'patch' | 'switchover';
  hosts: string[];
  action: string;
}

/** What a plan section contributes to the sequence. */
export interface SequenceSource {
  title: string;
  items: readonly PlanItem[];
  parameters?: readonly ParameterChange[];
  restarts?: { actions: readonly RestartAction[]; lagLimit: number };
}

const EXPLAIN: Record<string, string> = {
  'reload patroni': 'reload Patroni: it re-reads patroni.yml (local settings, pg_hba) and reloads PostgreSQL, no restart',
  'reload haproxy': 'reload HAProxy gracefully: new workers take over the listeners, established connections stay',
  'reload keepalived': 'reload keepalived',
};

const KIND: Record<ServiceStep['state'], SequenceStep['kind']> = { started: 'start', reloaded: 'reload', restarted: 'restart', stopped: 'stop' };

/** Service actions, the PATCH and the restart sequence of every section, in the order deploy runs them. */
export function planSequence(sections: readonly SequenceSource[]): SequenceStep[] {
  const steps: SequenceStep[] = [];
  for (const section of sections) {
    // The same service action on several hosts of one stage runs together: one line.
    const grouped = new Map<string, SequenceStep>();
    for (const item of section.items) {
      if (item.kind === 'service') {
        const existing = grouped.get(item.title);
        if (existing) existing.hosts.push(item.host);
        else {
          const step: SequenceStep = { kind: KIND[item.state], hosts: [item.host], action: EXPLAIN[item.title] ?? item.title };
          grouped.set(item.title, step);
          steps.push(step);
        }
      } else if (item.kind === 'http' && item.method === 'PATCH' && item.path === '/config') {
        steps.push({ kind: 'patch', hosts: [item.host], action: patchAction(section.parameters ?? []) });
      }
    }
    for (const action of section.restarts?.actions ?? []) {
      steps.push({
        kind: action.kind === 'switchover' ? 'switchover' : 'restart',
        hosts: action.kind === 'restart' ? action.hosts : action.kind === 'restart-old-leader' ? [action.host] : [action.from],
        action: describeRestartAction(action, section.restarts!.lagLimit).replace(/^\[[^\]]*\] /, ''),
      });
    }
  }
  for (const step of steps) step.hosts.sort(byName);
  return steps;
}

const byName = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

function patchAction(parameters: readonly ParameterChange[]): string {
  const by = (applies: ParameterChange['applies']) => parameters.filter((p) => p.applies === applies).map((p) => p.name);
  const parts = [
    by('reload').length ? `on reload: ${by('reload').join(', ')}` : '',
    by('unknown').length ? `unknown to the server: ${by('unknown').join(', ')}` : '',
    by('restart').length ? `pending a restart: ${by('restart').join(', ')}` : '',
  ].filter(Boolean);
  return `PATCH /config on the leader; Patroni on every member applies it and reloads PostgreSQL${parts.length ? ` (${parts.join('; ')})` : ''}`;
}

/** The sequence as numbered lines. */
export function renderSequence(steps: readonly SequenceStep[]): string[] {
  return steps.map((s, i) => `  ${i + 1}. ${s.kind === 'switchover' ? '' : `[${s.hosts.join(', ')}] `}${s.action}`);
}
