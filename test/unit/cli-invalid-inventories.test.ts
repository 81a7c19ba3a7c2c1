// Every malformed inventory, through the real CLI: exit code 2, exactly one line on stderr
// naming the path and file line, no stack trace, and no host contacted. The CLI runs in a
// network namespace with no interfaces, so even a bug could not reach any address.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const DIR = 'test/fixtures/inventories/invalid';
const BIN = path.resolve('bin/hapg.js');
const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => {
    const file = `${DIR}/${f}`;
    const expected = /^# error: (.*)$/m.exec(readFileSync(file, 'utf8'))?.[1];
    if (!expected) throw new Error(`${file} has no "# error:" line`);
    return [file, expected] as const;
  });

describe('hapg check on malformed inventories', () => {
  it('covers at least 30 defects', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  it.each(cases)('%s', async (file, expected) => {
    const r = await execa('unshare', ['--net', '--', process.execPath, BIN, 'check', '-i', file], { reject: false });
    expect(r.stderr).toBe(`hapg: ${expected}`);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('a missing inventory file is one line and exit 2', async () => {
    const r = await execa('unshare', ['--net', '--', process.execPath, BIN, 'plan', '-i', 'nowhere/missing.yml'], { reject: false });
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^hapg: .*nowhere\/missing\.yml/);
    expect(r.exitCode).toBe(2);
  });

  it('an unknown flag is bad input (exit 2)', async () => {
    const r = await execa(process.execPath, [BIN, 'check', '-i', 'x.yml', '--no-such-flag'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe("hapg: unknown option '--no-such-flag'");
  });
});
