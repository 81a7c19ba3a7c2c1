import { describe, expect, it } from 'vitest';
import { timingTable } from '../../src/commands/deploy.js';

describe('deploy --timings', () => {
  it('lists connecting, every stage with its planning share and changes, and the total', () => {
    const lines = timingTable(1234, [
      { id: 'packages', title: 'Packages', planMs: 800, runMs: 29_200, changes: 6 },
      { id: 'etcd:dc1', title: 'etcd cluster dc1', planMs: 150, runMs: 2_350, changes: 1 },
      { id: 'verify:main', title: 'Verifying cluster main', planMs: 20, runMs: 480, changes: 0 },
    ], 45_000);
    expect(lines).toEqual([
      'Timings:',
      '  Connecting (SSH, host facts)   1.2 s',
      '  Packages                      30.0 s  plan 0.8 s    6 changes',
      '  etcd cluster dc1               2.5 s  plan 0.1 s    1 change',
      '  Verifying cluster main         0.5 s  plan 0.0 s',
      '  Total                         45.0 s',
    ]);
  });
});
