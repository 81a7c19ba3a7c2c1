import type { InventorySecrets } from '../inventory/secrets.js';
import type { Session } from '../run/session.js';
import { vipHolders } from '../tasks/keepalived/vip.js';
import { currentLeader } from '../tasks/patroni/waits.js';
import { deployGraph } from './graph.js';
import { runGraph, type GraphRun, type PlannedStage, type StageTiming } from './run.js';
import { sequenceOf, type SequenceStep } from './sequence.js';
import type { GraphNode, GraphOptions } from './stage.js';

export interface ClusterReport {
  name: string;
  /** The leader, or a standby cluster's standby leader. */
  leader: string | undefined;
  vipHolder: string | undefined;
  /** Milliseconds from the verification write until it was read back (a replica, or every standby member). */
  replicationMs: number | undefined;
  standby?: { source: string };
}

export interface DeployReport {
  changes: number;
  clusters: ClusterReport[];
  /** Every reload, restart and switchover deploy ran, as `plan` lists them. */
  sequence: SequenceStep[];
  /** How long each stage took (what `deploy --timings` prints). */
  timings: StageTiming[];
}

/** What `plan` shows: every stage's plan against the hosts as they are, and the sequence. */
export interface Plan {
  stages: PlannedStage[];
  sequence: SequenceStep[];
}

/** Predicts the deploy graph; changes nothing. */
export async function planDeploy(session: Session, secrets: InventorySecrets, options: GraphOptions): Promise<Plan> {
  const run = await runGraph(deployGraph(session.model), { session, model: session.model, secrets, options }, 'plan');
  return { stages: run.stages, sequence: sequenceOf(run.stages) };
}

/** Runs the deploy graph (or `stages`, a graph built around it) and reports what it did. */
export async function deploy(session: Session, secrets: InventorySecrets, options: GraphOptions, stages: readonly GraphNode[] = deployGraph(session.model)): Promise<DeployReport> {
  const run = await runGraph(stages, { session, model: session.model, secrets, options }, 'deploy');
  return { changes: run.changes, clusters: await clusterReports(session, run), sequence: sequenceOf(run.stages), timings: run.timings };
}

/** Who leads each cluster now, where its VIP is, and how long its verification write took to be read back. */
export async function clusterReports(session: Session, run: GraphRun): Promise<ClusterReport[]> {
  const { model } = session;
  const tagged = (tag: string) => run.outcomes.filter((o) => o.step.tag === tag).reduce<number | undefined>((max, o) => Math.max(max ?? 0, o.ms), undefined);
  return Promise.all(
    model.clusterOrder.map(async (name) => {
      const spec = model.inventory.clusters[name]!;
      const holders = await vipHolders(session.facts, model, name);
      return {
        name,
        leader: await currentLeader(session.facts, model, name),
        vipHolder: holders.length === 1 ? holders[0] : undefined,
        replicationMs: tagged(spec.standby ? `standby-read:${name}` : `verify-read:${name}`),
        ...(spec.standby ? { standby: { source: spec.standby.cluster } } : {}),
      };
    }),
  );
}
