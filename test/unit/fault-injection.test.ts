import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunEvent } from '../../src/run/events.js';
import { withFaultInjection } from '../../src/run/fault-injection.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('HAPG_FAULT_KILL (the fault suite kills hapg where it asks)', () => {
  const events: RunEvent[] = [
    { kind: 'phase', title: 'Packages' },
    { kind: 'change', host: 'pg2', title: 'restart PostgreSQL (pending restart)' },
    { kind: 'change', host: 'pg3', title: 'restart PostgreSQL (pending restart)' },
  ];

  it('kills itself with SIGKILL at the n-th matching event, after reporting it', () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const seen: RunEvent[] = [];
    const sink = withFaultInjection((e) => seen.push(e), 'change:restart PostgreSQL#2');
    sink(events[0]!);
    sink(events[1]!);
    expect(kill).not.toHaveBeenCalled();
    sink(events[2]!);
    expect(seen).toEqual(events);
    expect(kill).toHaveBeenCalledWith(process.pid, 'SIGKILL');
  });

  it('matches a host when the text names one', () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const sink = withFaultInjection(() => {}, 'change:[pg3] restart PostgreSQL');
    sink(events[1]!);
    expect(kill).not.toHaveBeenCalled();
    sink(events[2]!);
    expect(kill).toHaveBeenCalledTimes(1);
  });

  it('waits first when asked (to die while a remote command runs)', () => {
    vi.useFakeTimers();
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const sink = withFaultInjection(() => {}, 'phase:Packages~2500');
    sink(events[0]!);
    expect(kill).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2500);
    expect(kill).toHaveBeenCalledTimes(1);
  });

  it('is the plain sink when unset, and refuses a spec it cannot read', () => {
    const sink = () => {};
    expect(withFaultInjection(sink, undefined)).toBe(sink);
    expect(() => withFaultInjection(sink, 'sometime')).toThrow(/HAPG_FAULT_KILL=sometime: expected/);
  });
});
