import { applySteps, type ApplyContext } from './executor.js';
import { isNoop, type PlanItem, type Step } from './steps.js';

/** Reports the noops (each says why nothing is needed), then runs the steps. Returns changes made. */
export async function applyPlan(items: readonly PlanItem[], ctx: ApplyContext, title = 'converged'): Promise<number> {
  const steps: Step[] = [];
  for (const item of items) {
    if (isNoop(item)) ctx.sink({ kind: 'noop', host: item.host, title, reason: item.reason });
    else steps.push(item);
  }
  if (steps.length === 0) return 0;
  const { changed } = await applySteps(steps, ctx);
  return changed;
}

/** Steps only (noops dropped): for counting and for plans. */
export function stepsOf(items: readonly PlanItem[]): Step[] {
  return items.filter((i): i is Step => !isNoop(i));
}
