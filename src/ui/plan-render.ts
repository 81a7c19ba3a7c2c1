import { createTwoFilesPatch } from 'diff';
import { maskSecrets } from '../secret.js';
import { isNoop, stepsOf, type FileStep, type PlanItem } from '../run/steps.js';
import type { Plan } from '../stages/deploy.js';
import type { PlannedStage } from '../stages/run.js';
import { renderSequence } from '../stages/sequence.js';
import { describeParameterChange, showValue } from '../tasks/patroni/restart-plan.js';

/** Remote content of a file a step would write ('' when absent). */
export type ContentOf = (host: string, path: string) => Promise<string>;

const itemsOf = (s: PlannedStage) => s.plan.blocks.flatMap((b) => b.items);
const changesOf = (s: PlannedStage) => stepsOf(itemsOf(s));

/** Counts of what a plan would do: steps that change hosts, and actions told in words. */
export function planCounts(stages: readonly PlannedStage[]): { changes: number; actions: number } {
  const changes = stages.reduce((n, s) => n + changesOf(s).length, 0);
  const actions = stages.reduce((n, s) => n + s.plan.notes.length, 0);
  return { changes, actions };
}

/**
 * The plan as people read it: stage by stage, each step per host; files as unified diffs
 * with every secret masked on both sides; noops with their reason; what each changing stage
 * waits for before the next; each changed parameter with how it takes effect; then the order
 * of reloads, restarts and switchovers. Stages with nothing to do and nothing to say are left out.
 */
export async function renderPlan(plan: Plan, contentOf: ContentOf): Promise<string> {
  const out: string[] = [];
  for (const stage of plan.stages) {
    const items = itemsOf(stage);
    const changes = stepsOf(items);
    const checks = stage.plan.checks ?? [];
    if (items.length === 0 && stage.plan.notes.length === 0 && checks.length === 0 && !stage.plan.parameters?.length) continue;
    out.push(`${stage.stage.title}: ${changes.length || stage.plan.notes.length ? `${changes.length} change${changes.length === 1 ? '' : 's'}` : 'nothing to do'}`);
    for (const item of items) out.push(...(await renderItem(item, contentOf)));
    if (changes.length > 0) for (const w of stage.plan.blocks.flatMap((b) => b.waits ?? [])) out.push(`  . [${w.host}] then wait for ${w.title}`);
    for (const p of stage.plan.parameters ?? []) out.push(`      ${describeParameterChange(p)}`);
    for (const note of stage.plan.notes) out.push(`  > ${note}`);
    for (const check of checks) out.push(`  ✓ then check: ${check}`);
  }
  if (plan.sequence.length > 0) out.push('', 'Order of reloads, restarts and switchovers:', ...renderSequence(plan.sequence));
  const { changes, actions } = planCounts(plan.stages);
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
    ...planCounts(plan.stages),
    stages: plan.stages.map((s) => ({
      id: s.stage.id,
      title: s.stage.title,
      notes: s.plan.notes,
      checks: s.plan.checks ?? [],
      items: itemsOf(s).map(describeItem),
      waits: s.plan.blocks.flatMap((b) => (b.waits ?? []).map((w) => ({ host: w.host, title: w.title }))),
      ...(s.plan.parameters ? { parameters: s.plan.parameters.map((p) => ({ ...p, from: showValue(p.from), to: showValue(p.to) })) } : {}),
    })),
    sequence: plan.sequence,
  };
}

function describeItem(item: PlanItem): Record<string, unknown> {
  if (isNoop(item)) return { kind: 'noop', host: item.host, reason: item.reason };
  if (item.kind === 'file') return { kind: 'file', host: item.host, path: item.path, mode: item.mode.toString(8), owner: item.owner };
  return { kind: item.kind, host: item.host, title: item.title };
}

async function renderItem(item: PlanItem, contentOf: ContentOf): Promise<string[]> {
  if (isNoop(item)) return [`  = [${item.host}] ${item.reason}`];
  if (item.kind === 'file') return [`  ~ [${item.host}] ${item.title} (${item.mode.toString(8).padStart(4, '0')} ${item.owner}:${item.group})`, ...(await fileDiff(item, contentOf))];
  return [`  + [${item.host}] ${item.title}`];
}

/** Masks a file's secrets: every value on a secret line (by position, whatever it is), then any known secret value left. */
export function maskFile(text: string, step: Pick<FileStep, 'secrets' | 'secretLines'>): string {
  const byLine = step.secretLines
    ? text
        .split('\n')
        .map((line) => line.replace(step.secretLines!, (_m, key: string, value: string) => (value.trim() === '' ? `${key}${value}` : `${key}"***"`)))
        .join('\n')
    : text;
  return maskSecrets(byLine, step.secrets ?? []);
}

async function fileDiff(step: FileStep, contentOf: ContentOf): Promise<string[]> {
  const before = maskFile(await contentOf(step.host, step.path), step);
  const after = maskFile(step.content, step);
  if (before === after) return ['      (content unchanged; mode or owner differs, or only secrets change)'];
  const patch = createTwoFilesPatch(step.path, step.path, before, after, before ? 'on host' : 'absent', 'wanted', { context: 3 });
  return patch
    .split('\n')
    .slice(2)
    .filter((l) => l !== '' && !l.startsWith('\\ No newline'))
    .map((l) => `      ${l}`);
}
