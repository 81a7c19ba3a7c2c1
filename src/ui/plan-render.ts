import { createTwoFilesPatch } from 'diff';
import { maskSecrets } from '../secret.js';
import type { FileStep, PlanItem } from '../run/steps.js';
import { describeParameterChange, showValue } from '../tasks/patroni/restart-plan.js';
import type { Plan, PlanSection } from '../tasks/plan/collect.js';
import { renderSequence } from '../tasks/plan/sequence.js';

/** Remote content of a file a step would write ('' when absent). */
export type ContentOf = (host: string, path: string) => Promise<string>;

/** Counts of what a plan would do. */
export function planCounts(sections: readonly PlanSection[]): { changes: number; actions: number } {
  const changes = sections.reduce((n, s) => n + s.items.filter((i) => i.kind !== 'noop').length, 0);
  const actions = sections.reduce((n, s) => n + s.actions.length, 0);
  return { changes, actions };
}

/**
 * The plan as people read it: per stage, per host, each step; files as unified diffs with
 * every secret masked on both sides; noops with their reason; each changed parameter with how
 * it takes effect; then the order of reloads, restarts and switchovers.
 */
export async function renderPlan(plan: Plan, contentOf: ContentOf): Promise<string> {
  const out: string[] = [];
  for (const section of plan.sections) {
    const changes = section.items.filter((i) => i.kind !== 'noop');
    out.push(`${section.title}: ${changes.length || section.actions.length ? `${changes.length} change${changes.length === 1 ? '' : 's'}` : 'nothing to do'}`);
    for (const item of section.items) out.push(...(await renderItem(item, contentOf)));
    for (const p of section.parameters ?? []) out.push(`      ${describeParameterChange(p)}`);
    for (const action of section.actions) out.push(`  > ${action}`);
  }
  if (plan.sequence.length > 0) out.push('', 'Order of reloads, restarts and switchovers:', ...renderSequence(plan.sequence));
  const { changes, actions } = planCounts(plan.sections);
  out.push(
    '',
    changes + actions === 0
      ? 'nothing to do: everything is as the inventory declares'
      : `${changes} change${changes === 1 ? '' : 's'}${actions ? ` and ${actions} cluster action${actions === 1 ? '' : 's'}` : ''} planned; run \`hapg deploy\` to apply`,
  );
  return out.join('\n');
}

/** The plan for `--json`: never file contents (they may hold secrets). */
export function planJson(plan: Plan): Record<string, unknown> {
  return {
    ...planCounts(plan.sections),
    sections: plan.sections.map((s) => ({
      title: s.title,
      actions: s.actions,
      items: s.items.map(describeItem),
      ...(s.parameters ? { parameters: s.parameters.map((p) => ({ ...p, from: showValue(p.from), to: showValue(p.to) })) } : {}),
      ...(s.restarts ? { restarts: s.restarts.actions } : {}),
    })),
    sequence: plan.sequence,
  };
}

function describeItem(item: PlanItem): Record<string, unknown> {
  if (item.kind === 'noop') return { kind: 'noop', host: item.host, reason: item.reason };
  if (item.kind === 'file') return { kind: 'file', host: item.host, path: item.path, mode: item.mode.toString(8), owner: item.owner };
  return { kind: item.kind, host: item.host, title: item.title };
}

async function renderItem(item: PlanItem, contentOf: ContentOf): Promise<string[]> {
  switch (item.kind) {
    case 'noop':
      return [`  = [${item.host}] ${item.reason}`];
    case 'file':
      return [`  ~ [${item.host}] ${item.title} (${item.mode.toString(8).padStart(4, '0')} ${item.owner}:${item.group})`, ...(await fileDiff(item, contentOf))];
    case 'exec':
    case 'service':
    case 'http':
      return [`  + [${item.host}] ${item.title}`];
  }
}

async function fileDiff(step: FileStep, contentOf: ContentOf): Promise<string[]> {
  const secrets = step.secrets ?? [];
  const before = maskSecrets(await contentOf(step.host, step.path), secrets);
  const after = maskSecrets(step.content, secrets);
  if (before === after) return ['      (content unchanged; mode or owner differs)'];
  const patch = createTwoFilesPatch(step.path, step.path, before, after, before ? 'on host' : 'absent', 'wanted', { context: 3 });
  return patch
    .split('\n')
    .slice(2)
    .filter((l) => l !== '' && !l.startsWith('\\ No newline'))
    .map((l) => `      ${l}`);
}
