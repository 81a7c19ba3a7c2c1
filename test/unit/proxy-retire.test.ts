// HAProxy and keepalived on a host taken out of a cluster's haproxy hosts: stopped and disabled
// in the retire phase (keepalived first, so the VIP leaves before HAProxy stops), the VIP then
// verified on a remaining host; a service hapg never configured is left alone; nothing is
// planned once they are stopped.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { deployGraph } from '../../src/stages/graph.js';
import { isLanes, type StageContext } from '../../src/stages/stage.js';
import { haproxyRetireStage } from '../../src/tasks/haproxy/retire.js';
import { keepalivedRetireStage } from '../../src/tasks/keepalived/retire.js';
import { DEFAULT_ROLLING } from '../../src/tasks/patroni/restart-options.js';
import { fakeSession } from '../support/fake-hosts.js';

const text = await readFile('inventories/two-datacenters.yml', 'utf8');
const withoutPg3 = text.replace(/^ {4}haproxy: \{\} {2,}# on pg1-pg3.*$/m, '    haproxy: { hosts: [pg1, pg2] }');
const loaded = parseInventory(withoutPg3, 'inventories/two-datacenters.yml');

type Running = Record<string, { config: string; active: boolean; enabled: boolean }>;

/** Hosts whose haproxy and keepalived run as `services` says (default: hapg's config, running). */
function session(services: (host: string) => Running) {
  return fakeSession(loaded, {
    exec: (host, argv) => {
      const s = services(host);
      if (argv[0] === 'cat') {
        const name = argv[2] === '/etc/haproxy/haproxy.cfg' ? 'haproxy' : argv[2] === '/etc/keepalived/keepalived.conf' ? 'keepalived' : undefined;
        const entry = name ? s[name] : undefined;
        return entry ? { stdout: entry.config } : { exitCode: 1 };
      }
      if (argv[0] === 'systemctl' && argv[1] === 'show') {
        const units = argv.filter((a) => a.endsWith('.service'));
        return {
          stdout: units
            .map((u) => {
              const e = s[u.replace(/\.service$/, '')];
              return `Id=${u}\nLoadState=loaded\nActiveState=${e?.active ? 'active' : 'inactive'}\nUnitFileState=${e?.enabled ? 'enabled' : 'disabled'}\nActiveEnterTimestampMonotonic=1\nMainPID=${e?.active ? 42 : 0}\n`;
            })
            .join('\n'),
        };
      }
      return {};
    },
  });
}

const ctxOf = (s: ReturnType<typeof session>): StageContext => ({
  session: s,
  model: s.model,
  secrets: new Map(),
  options: { force: false, rolling: DEFAULT_ROLLING },
  mode: 'plan',
  earlier: new Map(),
});

const hapg = (what: string) => ({ config: `# Managed by hapg. Changes here are overwritten.\n# ${what}\n`, active: true, enabled: true });
const running = (host: string): Running => (['pg1', 'pg2', 'pg3'].includes(host) ? { haproxy: hapg('haproxy'), keepalived: hapg('keepalived') } : {});

const steps = (plan: Awaited<ReturnType<ReturnType<typeof haproxyRetireStage>['plan']>>) =>
  plan.blocks.flatMap((b) => b.items.map((i) => (i.kind === 'service' ? `${i.host}: ${i.title} (enabled ${String(i.enabled)})` : `${i.host}: ${i.kind}`)));

describe("a host leaves a cluster's haproxy hosts", () => {
  it('its keepalived stops for good, the VIP then verified on exactly one remaining host; then its HAProxy stops for good', async () => {
    const s = session(running);
    const k = await keepalivedRetireStage(s.model).plan(ctxOf(s));
    expect(steps(k)).toEqual(['pg3: stop keepalived (enabled false)']);
    expect(k.blocks[0]!.waits!.map((w) => w.title)).toEqual(['the VIP of cluster main on exactly one host', 'the VIP of cluster dr on exactly one host']);
    expect(k.notes.join('\n')).toContain('pg3 no longer carries a VIP');
    const h = await haproxyRetireStage(s.model).plan(ctxOf(s));
    expect(steps(h)).toEqual(['pg3: stop haproxy (enabled false)']);
    expect(h.notes).toEqual(['pg3 is no longer a HAProxy host of any cluster: stop and disable its HAProxy (the remaining proxies were reloaded without it first)']);
  });

  it('the retire phase stops keepalived before HAProxy, after the edge phase reloaded the remaining hosts', () => {
    const ids = deployGraph(session(running).model).flatMap((node) => (isLanes(node) ? node.lanes.flat() : [node])).map((st) => st.id);
    expect(ids.indexOf('keepalived')).toBeLessThan(ids.indexOf('keepalived-retire'));
    expect(ids.indexOf('keepalived-retire')).toBeLessThan(ids.indexOf('haproxy-retire'));
  });

  it('leaves alone a HAProxy hapg never configured, and plans nothing once the services are stopped and disabled', async () => {
    const foreign = session((h) => (h === 'pg3' ? { haproxy: { config: 'global\n    log /dev/log local0\n', active: true, enabled: true } } : running(h)));
    expect(steps(await haproxyRetireStage(foreign.model).plan(ctxOf(foreign)))).toEqual([]);
    const stopped = session((h) => (h === 'pg3' ? { haproxy: { ...hapg('haproxy'), active: false, enabled: false }, keepalived: { ...hapg('keepalived'), active: false, enabled: false } } : running(h)));
    expect(steps(await haproxyRetireStage(stopped.model).plan(ctxOf(stopped)))).toEqual([]);
    expect(steps(await keepalivedRetireStage(stopped.model).plan(ctxOf(stopped)))).toEqual([]);
  });
});
