import { describe, expect, it } from 'vitest';
import { bootFailureInLog, describeSystemd, lastBootLines, parseSystemState } from '../../src/lab/host-health.js';
import { LAB_KERNEL_LIMITS, limitsToRaise } from '../../src/lab/kernel-limits.js';

describe('parseSystemState', () => {
  it('reads a healthy host', () => {
    expect(parseSystemState('running\n')).toEqual({ state: 'running', failedUnits: [] });
  });

  it('names the failed units of a degraded host', () => {
    // `systemctl is-system-running; systemctl list-units --state=failed --no-legend --plain` on a lab host.
    const out = [
      'degraded',
      'etcd.service           loaded failed failed etcd - highly-available key value store',
      'systemd-hostnamed.service loaded failed failed Hostname Service',
      '',
    ].join('\n');
    expect(parseSystemState(out)).toEqual({ state: 'degraded', failedUnits: ['etcd.service', 'systemd-hostnamed.service'] });
  });

  it('drops the bullet older systemctl puts before failed units', () => {
    expect(parseSystemState('degraded\n● patroni.service loaded failed failed Runners to orchestrate a HA PostgreSQL\n').failedUnits).toEqual(['patroni.service']);
  });

  it('says unknown when systemctl printed nothing', () => {
    expect(parseSystemState('')).toEqual({ state: 'unknown', failedUnits: [] });
  });
});

describe('bootFailureInLog', () => {
  const ok = '\n=== hapg lab: booting pg3 at 2025-01-01T00:00:00.000Z ===\n\x1b[0;32m  OK  \x1b[0m] Reached target multi-user.target\n';
  const failed = [
    '',
    '=== hapg lab: booting pg3 at 2025-01-01T00:05:00.000Z ===',
    'systemd 252.39-1~deb12u2 running in system mode (+PAM +AUDIT …)',
    'Failed to allocate manager object: Too many open files',
    '[\x1b[0;1;31m!!!!!!\x1b[0m] Failed to allocate manager object.',
    'Exiting PID 1...',
    '',
  ].join('\n');

  it('finds why systemd did not come up in the last boot', () => {
    expect(bootFailureInLog(ok + failed)).toBe('Failed to allocate manager object: Too many open files');
  });

  it('ignores failures of earlier boots', () => {
    expect(bootFailureInLog(failed + ok)).toBeUndefined();
  });
});

describe('describeSystemd', () => {
  it.each([
    [{ running: false }, '-'],
    [{ running: true, system: { state: 'running', failedUnits: [] } }, 'running'],
    [{ running: true, system: { state: 'degraded', failedUnits: ['etcd.service'] } }, 'degraded: etcd.service'],
    [{ running: true, bootFailure: 'Freezing execution.' }, 'boot failed: Freezing execution.'],
    [{ running: true }, 'unknown (no ssh)'],
    [{ running: true, isolated: true }, 'unknown (isolated)'],
  ])('%o → %s', (health, cell) => {
    expect(describeSystemd(health)).toBe(cell);
  });
});

describe('limitsToRaise', () => {
  it('raises inotify limits below what 40 hosts need, and only those', () => {
    const current = new Map([
      ['fs.inotify.max_user_instances', 128],
      ['fs.inotify.max_user_watches', 1048576],
    ]);
    expect(limitsToRaise(current)).toEqual([{ key: 'fs.inotify.max_user_instances', from: 128, to: 1024 }]);
  });

  it('never lowers a limit and skips one it cannot read', () => {
    expect(limitsToRaise(new Map(LAB_KERNEL_LIMITS.map(({ key, minimum }) => [key, minimum * 4])))).toEqual([]);
    expect(limitsToRaise(new Map())).toEqual([]);
  });

  it('asks for at least 1024 inotify instances and 524288 watches', () => {
    expect(Object.fromEntries(LAB_KERNEL_LIMITS.map((l) => [l.key, l.minimum]))).toEqual({
      'fs.inotify.max_user_instances': 1024,
      'fs.inotify.max_user_watches': 524288,
    });
  });
});

describe('lastBootLines', () => {
  it("the newest boot's last lines, colours stripped, the boot marker left out", () => {
    const log = '=== hapg lab: booting pg3 at 1 ===\nold line\n\n=== hapg lab: booting pg3 at 2 ===\nSpawning container pg3.\n\x1b[0;31mDirectory tree /x is currently busy.\x1b[0m\n\n';
    expect(lastBootLines(log)).toEqual(['Spawning container pg3.', 'Directory tree /x is currently busy.']);
    expect(lastBootLines('=== hapg lab: booting pg3 at 2 ===\n')).toEqual([]);
  });
});
