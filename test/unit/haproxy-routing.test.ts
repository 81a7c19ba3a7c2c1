import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { buildModel } from '../../src/model/model.js';
import { routingVerdict } from '../../src/tasks/haproxy/routing.js';
import { parseHaproxyCsv as parseCheckedServers } from '../../src/tasks/haproxy/stats.js';

const model = buildModel((await loadInventory('inventories/three-hosts.yml')).inventory);
/** Stats CSV columns as HAProxy 2.6 on a lab host printed them (pxname,svname,status,check_status) right after a reload, then 2 s later. */
const csv = (rows: string[]) => ['# pxname,svname,status,check_status', 'main_read_write,FRONTEND,OPEN,', ...rows, 'main_read_write,BACKEND,UP,'].join('\n');
const justReloaded = csv(['main_read_write,pg1,DOWN,L7STS', 'main_read_write,pg2,UP 1/2,INI', 'main_read_write,pg3,UP 1/2,INI', 'main_read_only,pg1,UP 1/2,INI']);
const settled = csv(['main_read_write,pg1,DOWN,L7STS', 'main_read_write,pg2,DOWN,L7STS', 'main_read_write,pg3,UP,L7OK', 'main_read_only,pg1,UP,L7OK']);

describe('HAProxy routing after a reload', () => {
  it('parses servers with their last check', () => {
    expect(parseCheckedServers(justReloaded)[1]).toEqual({ proxy: 'main_read_write', server: 'pg2', status: 'UP 1/2', checkStatus: 'INI' });
  });

  it('waits while the new process has not checked every server (it counts them UP meanwhile)', () => {
    expect(routingVerdict(model, 'pg1', parseCheckedServers(justReloaded))).toEqual({
      done: false,
      status: 'not yet checked: main_read_write/pg2, main_read_write/pg3, main_read_only/pg1',
    });
  });

  it('done once every server is checked and writes go to one member', () => {
    expect(routingVerdict(model, 'pg1', parseCheckedServers(settled)).done).toBe(true);
    const two = settled.replace('main_read_write,pg2,DOWN,L7STS', 'main_read_write,pg2,UP,L7OK');
    expect(routingVerdict(model, 'pg1', parseCheckedServers(two))).toEqual({ done: false, status: 'main writes routed to pg2, pg3' });
  });
});
