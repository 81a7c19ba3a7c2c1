import type { InventorySecrets } from '../inventory/secrets.js';
import type { DesiredState } from '../model/model.js';
import type { RollingOptions } from '../tasks/patroni/restart-options.js';
import type { StepOutcome } from '../run/executor.js';
import type { Session } from '../run/session.js';
import type { PlanItem, WaitStep } from '../run/steps.js';
import type { ParameterChange } from '../tasks/patroni/restart-plan.js';

/**
 * `plan` predicts what deploy would do from the hosts as they are; `deploy` plans each stage
 * right before running it, from the hosts as the earlier stages left them.
 */
export type GraphMode = 'plan' | 'deploy';

/** Options a run of the graph takes from the command line. */
export interface GraphOptions {
  /** Deploy even when a live Patroni cluster is unhealthy (--force). */
  force: boolean;
  rolling: RollingOptions;
  /** Keys of generated secrets this run made up (see PreparedSecrets.created). */
  freshSecrets?: readonly string[];
  /** New generated secrets are meant to replace a live cluster's (--rotate-secrets). */
  rotateSecrets?: boolean;
  /** Membership changes may leave an etcd cluster with 2 members (--allow-even). */
  allowEven?: boolean;
  /** Permanent slots the inventory no longer declares that may be dropped (--prune SLOT). */
  prune?: readonly string[];
  /** Called once in deploy mode, before the first step that changes a host (writes the secrets file). */
  beforeFirstChange?: () => Promise<void>;
  /** Called in deploy mode after each stage ran (takes the run lock in an etcd cluster the run brought up). */
  afterStage?: (stageId: string) => Promise<void>;
}

/** What every stage plans from. */
export interface StageContext {
  session: Session;
  model: DesiredState;
  secrets: InventorySecrets;
  options: GraphOptions;
  mode: GraphMode;
  /** Plans of the stages before this one in this run (predicted in plan mode, executed in deploy mode). */
  earlier: ReadonlyMap<string, StagePlan>;
}

/**
 * A group of steps: they run hosts in parallel (each host's steps in order), then the waits
 * run one after another, gating the next block. One member at a time is one block per member.
 */
export interface Block {
  items: PlanItem[];
  waits?: WaitStep[];
  /** What the block does, in the words of plan's sequence (a rolling restart step). */
  says?: string;
  /**
   * Decided again from fresh facts right before the block runs in deploy mode (the switchover
   * target after the replicas restarted); `items` is the prediction `plan` shows.
   */
  replan?: (ctx: StageContext) => Promise<Pick<Block, 'items' | 'waits' | 'says'>>;
}

/** What a stage will do: blocks of steps and waits, and words for what steps cannot show. */
export interface StagePlan {
  blocks: Block[];
  /** Cluster-level actions in words (bootstrap order, what waits for what, predictions). */
  notes: string[];
  /** What the stage will prove (a row written and read back): told, not counted as an action. */
  checks?: string[];
  /** Changed PostgreSQL parameters and how each takes effect (dynamic configuration). */
  parameters?: ParameterChange[];
}

/** Checks something stays true while a stage runs (a standby member never reports the leader role). */
export interface Watcher {
  /** Raises at the first violation seen so far. */
  check(): void;
  /** Stops watching; returns a line for the log, or undefined. */
  stop(): Promise<string | undefined>;
}

/**
 * One node of the graph `deploy` executes and `plan` prints: it reads facts and returns the
 * steps that make the hosts match the model. It never changes a host itself.
 */
export interface Stage {
  /** Unique in a graph: `etcd:dc1`, `patroni:main`, `restarts:main`. */
  id: string;
  /** The phase title progress shows. */
  title: string;
  plan(ctx: StageContext): Promise<StagePlan>;
  /** A watch that runs beside the stage in deploy mode, checked at every wait and at the end. */
  watch?(ctx: StageContext, plan: StagePlan): Watcher | undefined;
  /**
   * The error to raise when a block fails: what was done and what was left, so that the
   * operator knows where the run stopped (`remaining[0]` is the block that failed).
   */
  explainFailure?(err: unknown, done: readonly StepOutcome[], remaining: readonly Block[]): Error;
}

/**
 * Stages of clusters that share no host and do not depend on each other: deploy runs the
 * lanes side by side, each lane's stages in order; plan walks them one lane after another.
 */
export interface Lanes {
  /** The phase title progress shows while the lanes run. */
  title: string;
  lanes: Stage[][];
}

/** One node of a graph: a stage, or lanes of stages that may run side by side. */
export type GraphNode = Stage | Lanes;

export const isLanes = (node: GraphNode): node is Lanes => 'lanes' in node;

/** A plan of nothing but words (gates, predictions). */
export const notesOnly = (...notes: string[]): StagePlan => ({ blocks: [], notes });
