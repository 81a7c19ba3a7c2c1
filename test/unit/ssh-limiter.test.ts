import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/ssh/limiter.js';

describe('Limiter', () => {
  it('runs at most N tasks at once, in FIFO order, and survives failures', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        limiter.run(async () => {
          started.push(i);
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
          if (i % 4 === 0) throw new Error(`task ${i}`);
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(started).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual([1, 2, 3, 5, 6, 7, 9, 10, 11]);
  });

  it('refuses a limit below one', () => {
    expect(() => new Limiter(0)).toThrow(RangeError);
  });
});
