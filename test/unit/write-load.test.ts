import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GapTracker, payloadFor, quoteTable } from '../support/write-load.js';

describe('write-load helpers', () => {
  it('measures the longest pause between commits, counting from the start', () => {
    const gaps = new GapTracker(1000);
    for (const at of [1010, 1020, 3020, 3030]) gaps.commit(at);
    expect(gaps.longestMs).toBe(2000);
    const firstLate = new GapTracker(0);
    firstLate.commit(5000);
    firstLate.commit(5001);
    expect(firstLate.longestMs).toBe(5000);
  });

  it.each([
    [7, 0, 8192, 'row 7'],
    [7, 5, 8192, 'row 7'],
  ])('row %i with largeEvery %i is short', (id, every, bytes, want) => {
    expect(payloadFor(id, every, bytes)).toBe(want);
  });

  it('every Nth row carries the requested bytes of text that does not compress', () => {
    const big = payloadFor(10, 5, 8192);
    expect(big).toHaveLength(8192);
    expect(Buffer.byteLength(big, 'utf8')).toBe(8192);
    expect(deflateRawSync(big).length).toBeGreaterThan(8192 * 0.7);
    expect(payloadFor(10, 5, 8192)).not.toBe(big);
  });

  it('quotes table names and refuses anything that is not an identifier', () => {
    expect(quoteTable('load')).toBe('"load"');
    expect(quoteTable('public.load_1')).toBe('"public"."load_1"');
    expect(() => quoteTable('x; drop table y')).toThrow(/bad table name/);
    expect(() => quoteTable('a.b.c')).toThrow(/bad table name/);
  });
});
