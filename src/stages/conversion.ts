import { FactCache } from '../facts/fact.js';
import type { InventorySecrets } from '../inventory/secrets.js';
import { buildModel, type DesiredState } from '../model/model.js';
import type { Session } from '../run/session.js';
import { clustersToPause, conversionOf, conversionTarget, forgetPaused, passesOf, PASS_TITLES, readPaused, writePaused, type ConversionPass, type ConversionTarget } from '../tasks/tls/conversion.js';
import { pauseStage, resumeStage } from '../tasks/tls/pause.js';
import { deploy, planDeploy, type DeployReport, type Plan } from './deploy.js';
import { deployGraph } from './graph.js';
import type { GraphNode, GraphOptions } from './stage.js';

/** The model of one pass: the inventory with the pass's override (`final`: none, but marked as a pass of the conversion). */
function passModel(session: Session, target: ConversionTarget, pass: ConversionPass): DesiredState {
  const model = buildModel({ ...session.model.inventory, tlsConversion: pass === 'final' ? { pass, etcd: {}, clusters: [] } : conversionOf(target, pass) });
  model.access = session.model.access;
  return model;
}

/** A session on `model` whose facts are read afresh (the previous pass changed the hosts). */
const passSession = (session: Session, model: DesiredState): Session => ({ ...session, model, facts: new FactCache(session.remotes) });

/**
 * `deploy`: the deploy graph, or, when a running cluster must move to TLS, the conversion's
 * passes (src/tasks/tls/conversion.ts) one after another, each a whole deploy re-planned from
 * fresh facts, then the clusters it paused resumed. A run cut short resumes where it stopped.
 */
export async function deployConverting(session: Session, secrets: InventorySecrets, options: GraphOptions): Promise<DeployReport> {
  const target = await conversionTarget(session, session.model);
  const paused = await readPaused(session.loaded);
  if (!target && paused.length === 0) return deploy(session, secrets, options);
  const reports: DeployReport[] = [];
  const resume = [...new Set([...paused, ...(target ? clustersToPause(session.model, target) : [])])];
  for (const pass of target ? passesOf(target) : (['final'] as const)) {
    const model = target ? passModel(session, target, pass) : session.model;
    session.sink({ kind: 'info', message: `TLS conversion, pass ${pass}: ${PASS_TITLES[pass]}` });
    let stages: GraphNode[] = deployGraph(model);
    if (pass === 'clients') {
      await writePaused(session.loaded, resume);
      stages = [pauseStage(model, resume, { suspendChecks: true }), ...stages];
    }
    // Secrets made for this run were persisted by the first pass: later passes find them in use.
    reports.push(await deploy(passSession(session, model), secrets, reports.length ? { ...options, freshSecrets: [] } : options, stages));
  }
  reports.push(await deploy(passSession(session, session.model), secrets, options, [resumeStage(session.model, resume)]));
  await forgetPaused(session.loaded);
  const last = reports.at(-2) ?? reports.at(-1)!;
  return {
    changes: reports.reduce((n, r) => n + r.changes, 0),
    clusters: last.clusters,
    sequence: reports.flatMap((r) => r.sequence),
    timings: reports.flatMap((r) => r.timings),
  };
}

/** `plan`: the conversion's passes still to run, and the first one's plan against the hosts as they are. */
export async function planConverting(session: Session, secrets: InventorySecrets, options: GraphOptions): Promise<{ plan: Plan; passes: string[] }> {
  const target = await conversionTarget(session, session.model);
  if (!target) return { plan: await planDeploy(session, secrets, options), passes: [] };
  const passes = passesOf(target);
  const model = passModel(session, target, passes[0]!);
  const plan = await planDeploy(passSession(session, model), secrets, options);
  const what = [...Object.keys(target.etcd).map((e) => `etcd cluster ${e}`), ...target.clusters.map((c) => `cluster ${c}`)].join(', ');
  return {
    plan,
    passes: [
      `TLS conversion of ${what} (running without TLS; the inventory asks for it), in ${passes.length} passes, each planned afresh when it runs; below, pass ${passes[0]}:`,
      ...passes.map((p, i) => `  ${i + 1}. ${p}: ${PASS_TITLES[p]}`),
    ],
  };
}
