import { afterEach, describe, expect, it, vi } from 'vitest';
import { createReporter } from '../../src/ui/reporter.js';

describe('a quiet reporter (plan, status without --json)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('hides progress but prints every warning on stderr', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    const reporter = createReporter({ quiet: true });
    reporter.sink({ kind: 'phase', title: 'Dynamic configuration of main' });
    reporter.sink({ kind: 'change', host: 'pg1', title: 'PATCH /config' });
    reporter.sink({ kind: 'warn', host: 'pg1', message: 'cluster main: permanent slot dr_standby is no longer in the inventory' });
    expect(written).toEqual(['warning: [pg1] cluster main: permanent slot dr_standby is no longer in the inventory\n']);
  });
});
