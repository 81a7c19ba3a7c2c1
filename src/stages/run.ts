import { applySteps, runStep, type StepOutcome } from '../run/executor.js';
import { isNoop, stepsOf } from '../run/steps.js';
import type { Block, GraphMode, Stage, StageContext, StagePlan } from './stage.js';

/** A stage and what it planned (plan mode) or what it ran (deploy mode, re-planned blocks as run). */
export interface PlannedStage {
  stage: Stage;
  plan: StagePlan;
}

/** How long one stage took in deploy mode: planning (facts) and running its blocks. */
export interface StageTiming {
  id: string;
  title: string;
  planMs: number;
  runMs: number;
  changes: number;
}

export interface GraphRun {
  stages: PlannedStage[];
  /** Per stage, in the order they ran (deploy mode only). */
  timings: StageTiming[];
  /** Every step deploy ran, in order of completion (empty in plan mode). */
  outcomes: StepOutcome[];
  /** Steps that changed a host. */
  changes: number;
}

/**
 * Walks the graph. Plan mode asks every stage for its plan against the hosts as they are and
 * changes nothing. Deploy mode plans each stage right before it runs (the hosts as earlier
 * stages left them), then runs its blocks: steps through the executor, then the waits that
 * gate the next block. Both modes go through the same stages in the same order.
 */
export async function runGraph(stages: readonly Stage[], base: Omit<StageContext, 'mode' | 'earlier'>, mode: GraphMode): Promise<GraphRun> {
  const earlier = new Map<string, StagePlan>();
  const run: GraphRun = { stages: [], timings: [], outcomes: [], changes: 0 };
  const { session, options } = base;
  let changing = false;
  for (const stage of stages) {
    const ctx: StageContext = { ...base, mode, earlier };
    if (mode === 'deploy') session.sink({ kind: 'phase', title: stage.title });
    const planStarted = Date.now();
    const plan = await stage.plan(ctx);
    const planMs = Date.now() - planStarted;
    if (mode === 'plan') {
      earlier.set(stage.id, plan);
      run.stages.push({ stage, plan });
      continue;
    }
    for (const note of [...plan.notes, ...(plan.checks ?? [])]) session.sink({ kind: 'info', message: note });
    if (!changing && plan.blocks.some((b) => b.replan || stepsOf(b.items).some((s) => !s.check))) {
      changing = true;
      await options.beforeFirstChange?.();
    }
    const runStarted = Date.now();
    const changesBefore = run.changes;
    const executed = await runStage(stage, plan, ctx, run);
    run.timings.push({ id: stage.id, title: stage.title, planMs, runMs: Date.now() - runStarted, changes: run.changes - changesBefore });
    earlier.set(stage.id, executed);
    run.stages.push({ stage, plan: executed });
    await options.afterStage?.(stage.id);
  }
  return run;
}

async function runStage(stage: Stage, plan: StagePlan, ctx: StageContext, run: GraphRun): Promise<StagePlan> {
  const { session } = ctx;
  const watcher = stage.watch?.(ctx, plan);
  const executed: Block[] = [];
  /** Outcomes of every step run; `completed`: of the blocks that finished, waits included. */
  const done: StepOutcome[] = [];
  const completed: StepOutcome[] = [];
  let failed = false;
  try {
    for (const [index, planned] of plan.blocks.entries()) {
      try {
        const block: Block = planned.replan ? { ...(await planned.replan(ctx)) } : planned;
        for (const item of block.items) if (isNoop(item)) session.sink({ kind: 'noop', host: item.host, title: stage.title, reason: item.reason });
        const steps = stepsOf(block.items);
        if (steps.length > 0) {
          const result = await applySteps(steps, session);
          run.changes += result.changed;
          done.push(...result.outcomes);
        }
        for (const w of block.waits ?? []) done.push(await runStep(w, session));
        executed.push(block);
        completed.push(...done.slice(completed.length));
      } catch (err) {
        failed = true;
        throw stage.explainFailure ? stage.explainFailure(err, completed, [planned, ...plan.blocks.slice(index + 1)]) : err;
      }
    }
  } finally {
    run.outcomes.push(...done);
    const line = watcher ? await watcher.stop().catch((err: unknown) => (failed ? undefined : Promise.reject(err))) : undefined;
    if (line) session.sink({ kind: 'info', message: line });
  }
  return { ...plan, blocks: executed };
}
