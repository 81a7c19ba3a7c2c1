import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { buildModel } from '../../src/model/model.js';
import type { RunEvent } from '../../src/run/events.js';
import type { Session } from '../../src/run/session.js';
import { clusterLanes, deployGraph } from '../../src/stages/graph.js';
import { runGraph } from '../../src/stages/run.js';
import { isLanes, type GraphNode, type Stage } from '../../src/stages/stage.js';
import { DEFAULT_ROLLING } from '../../src/tasks/patroni/restart-options.js';

const hosts = Array.from({ length: 9 }, (_, i) => `  pg${i + 1}: { address: 192.0.2.${11 + i}, datacenter: dc1 }`).join('\n');
/** a and b share no host; e's HAProxy runs on c's member; d is a standby cluster of a. */
const inventory = `
hosts:
${hosts}
etcd:
  dc1: { hosts: [pg1, pg2, pg3] }
clusters:
  a: { hosts: [pg1, pg2] }
  b: { hosts: [pg3, pg4] }
  c: { hosts: [pg5] }
  d: { hosts: [pg6, pg7], standby: { cluster: a, source: members } }
  e: { hosts: [pg8], haproxy: { hosts: [pg5] } }
`;
const model = buildModel(parseInventory(inventory, 'lanes.yml').inventory);

describe('cluster lanes', () => {
  it('puts clusters that share no host and do not depend on each other in lanes of their own', () => {
    expect(clusterLanes(model, ['a', 'b', 'c', 'e'])).toEqual([['a'], ['b'], ['c', 'e']]);
    // A standby cluster goes in its source's lane (verification writes on the source).
    expect(clusterLanes(model, ['a', 'b', 'c', 'e', 'd'])).toEqual([['a', 'd'], ['b'], ['c', 'e']]);
    // A cluster that touches two lanes joins them into one, in deploy order.
    const bridged = buildModel(parseInventory(inventory.replace('e: { hosts: [pg8], haproxy: { hosts: [pg5] } }', 'e: { hosts: [pg8], haproxy: { hosts: [pg4, pg5] } }'), 'lanes.yml').inventory);
    expect(clusterLanes(bridged, ['a', 'b', 'c', 'e'])).toEqual([['a'], ['b', 'c', 'e']]);
  });

  it('the deploy graph runs primaries side by side, and a single cluster as plain stages', () => {
    const lanes = deployGraph(model).filter(isLanes);
    expect(lanes.map((l) => l.title)).toEqual(['Clusters a, b, c, e side by side', 'Verifying clusters a, b, c, d, e side by side']);
    expect(lanes[0]!.lanes.map((lane) => [...new Set(lane.map((s) => s.id.split(':').at(-1)))])).toEqual([['a'], ['b'], ['c', 'e']]);
    const single = buildModel(parseInventory(inventory.replace(/\n {2}[b-e]: .*/g, ''), 'one.yml').inventory);
    expect(deployGraph(single).filter(isLanes)).toEqual([]);
  });
});

describe('walking lanes', () => {
  const events: RunEvent[] = [];
  const session = { sink: (e: RunEvent) => events.push(e) } as unknown as Session;
  const base = { session, model, secrets: new Map(), options: { force: false, rolling: DEFAULT_ROLLING } };
  const stage = (id: string, plan: () => Promise<void> = async () => {}): Stage => ({
    id,
    title: `stage ${id}`,
    async plan() {
      await plan();
      return { blocks: [], notes: [`planned ${id}`] };
    },
  });

  it('deploy runs lanes side by side and reports their stages in graph order; plan walks them in order', async () => {
    // Each lane's first stage waits until the other lane's has started: only side by side can it finish.
    let release!: () => void;
    const bothStarted = new Promise<void>((r) => (release = r));
    let started = 0;
    const meet = async () => {
      if (++started === 2) release();
      await bothStarted;
    };
    const graph: GraphNode[] = [stage('first'), { title: 'Clusters x, y side by side', lanes: [[stage('x1', meet), stage('x2')], [stage('y1', meet)]] }, stage('last')];
    const run = await runGraph(graph, base, 'deploy');
    expect(run.stages.map((s) => s.stage.id)).toEqual(['first', 'x1', 'x2', 'y1', 'last']);
    expect(events.filter((e) => e.kind === 'phase').map((e) => (e as { title: string }).title)).toEqual(['stage first', 'Clusters x, y side by side', 'stage last']);
    const planned = await runGraph([stage('first'), { title: 'side by side', lanes: [[stage('x1'), stage('x2')], [stage('y1')]] }], base, 'plan');
    expect(planned.stages.map((s) => s.stage.id)).toEqual(['first', 'x1', 'x2', 'y1']);
  });

  it('a failing lane fails the run once the other lanes have finished their stages', async () => {
    let yDone = false;
    const graph: GraphNode[] = [
      {
        title: 'side by side',
        lanes: [
          [stage('x1', async () => Promise.reject(new Error('x1 broke')))],
          [stage('y1', () => new Promise((r) => setTimeout(r, 50))), stage('y2', async () => void (yDone = true))],
        ],
      },
      stage('never'),
    ];
    await expect(runGraph(graph, base, 'deploy')).rejects.toThrow('x1 broke');
    expect(yDone).toBe(true);
    expect(events.some((e) => e.kind === 'phase' && e.title === 'stage never')).toBe(false);
  });
});
