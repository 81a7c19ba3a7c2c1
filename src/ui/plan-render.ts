import { createTwoFilesPatch } from 'diff';
import { maskSecrets } from '../secret.js';
import type { FileStep, PlanItem } from '../run/steps.js';
import type { PlanSection } from '../tasks/plan/collect.js';

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
 * every secret masked on both sides; noops with their reason.
 */
export async function renderPlan(sections: readonly PlanSection[], contentOf: ContentOf): Promise<string> {
  const out: string[] = [];
  for (const section of sections) {
    const changes = section.items.filter((i) => i.kind !== 'noop');
    out.push(`${section.title}: ${changes.length || section.actions.length ? `${changes.length} change${changes.length === 1 ? '' : 's'}` : 'nothing to do'}`);
    for (const item of section.items) out.push(...(await renderItem(item, contentOf)));
    for (const action of section.actions) out.push(`  > ${action}`);
  }
  const { changes, actions } = planCounts(sections);
  out.push('', changes + actions === 0 ? 'nothing to do: everything is as the inventory declares' : `${changes} changes planned; run \`hapg deploy\` to apply`);
  return out.join('\n');
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
