import { applySteps, runStep, type StepOutcome } from '../run/executor.js';
import { isNoop, stepsOf } from '../run/steps.js';
import { isLanes, type Block, type GraphMode, type GraphNode, type Stage, type StageContext, type StagePlan } from './stage.js';

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
 * gate the next block. Both modes go through the same stages in the same order; only lanes
 * differ: deploy runs them side by side, and reports their stages in graph order.
 */
export async function runGraph(nodes: readonly GraphNode[], base: Omit<StageContext, 'mode' | 'earlier'>, mode: GraphMode): Promise<GraphRun> {
  const walk: Walk = { base, mode, earlier: new Map(), run: { stages: [], timings: [], outcomes: [], changes: 0 } };
  for (const node of nodes) {
    if (!isLanes(node)) {
      walk.run.stages.push(await walkStage(node, walk));
      continue;
    }
    if (mode === 'plan') {
      for (const stage of node.lanes.flat()) walk.run.stages.push(await walkStage(stage, walk));
      continue;
    }
    base.session.sink({ kind: 'phase', title: node.title });
    const settled = await Promise.allSettled(
      node.lanes.map(async (lane) => {
        const walked: PlannedStage[] = [];
        for (const stage of lane) walked.push(await walkStage(stage, walk, { inLane: true }));
        return walked;
      }),
    );
    const failure = settled.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;
    for (const o of settled) if (o.status === 'fulfilled') walk.run.stages.push(...o.value);
  }
  return walk.run;
}

/** What one walk of the graph shares between its stages (and lanes). */
interface Walk {
  base: Omit<StageContext, 'mode' | 'earlier'>;
  mode: GraphMode;
  earlier: Map<string, StagePlan>;
  run: GraphRun;
  /** The beforeFirstChange hook, once started: every lane waits for it before its first change. */
  firstChange?: Promise<void>;
}

async function walkStage(stage: Stage, walk: Walk, opts: { inLane?: boolean } = {}): Promise<PlannedStage> {
  const { base, mode, earlier, run } = walk;
  const { session, options } = base;
  const ctx: StageContext = { ...base, mode, earlier };
  if (mode === 'deploy') session.sink(opts.inLane ? { kind: 'info', message: `${stage.title}…` } : { kind: 'phase', title: stage.title });
  const planStarted = Date.now();
  const plan = await stage.plan(ctx);
  const planMs = Date.now() - planStarted;
  if (mode === 'plan') {
    earlier.set(stage.id, plan);
    return { stage, plan };
  }
  for (const note of [...plan.notes, ...(plan.checks ?? [])]) session.sink({ kind: 'info', message: note });
  if (plan.blocks.some((b) => b.replan || stepsOf(b.items).some((s) => !s.check))) {
    walk.firstChange ??= options.beforeFirstChange?.() ?? Promise.resolve();
    await walk.firstChange;
  }
  const runStarted = Date.now();
  const { executed, changes } = await runStage(stage, plan, ctx, run);
  run.timings.push({ id: stage.id, title: stage.title, planMs, runMs: Date.now() - runStarted, changes });
  earlier.set(stage.id, executed);
  await options.afterStage?.(stage.id);
  return { stage, plan: executed };
}

/** Runs a stage's blocks; returns them as run (re-planned ones included) and how many steps changed a host. */
async function runStage(stage: Stage, plan: StagePlan, ctx: StageContext, run: GraphRun): Promise<{ executed: StagePlan; changes: number }> {
  const { session } = ctx;
  const watcher = stage.watch?.(ctx, plan);
  const executed: Block[] = [];
  let changes = 0;
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
          changes += result.changed;
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
  return { executed: { ...plan, blocks: executed }, changes };
}
