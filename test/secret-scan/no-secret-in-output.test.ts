// After the end-to-end tests: no password of any inventory they used (every value of every
// secrets file hapg wrote) appears in anything hapg printed in any of them (stdout, stderr,
// --json events), collected in $HAPG_E2E_OUTPUT by test/e2e/hapg.ts. scripts/test.sh runs it.
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

/** Every secrets file (and, with `ext` '.key', every private key hapg keeps) under the end-to-end tests' inventory directories. */
async function secretsFiles(ext = '.secrets.yml'): Promise<string[]> {
  const dirs = (await readdir(tmpdir())).filter((d) => d.startsWith('hapg-e2e-') || d.startsWith('hapg-lab-e2e-'));
  const files: string[] = [];
  for (const d of dirs) {
    const hapgDir = path.join(tmpdir(), d, '.hapg');
    for (const f of await readdir(hapgDir).catch(() => [] as string[])) if (f.endsWith(ext)) files.push(path.join(hapgDir, f));
  }
  return files;
}

describe('secrets in the output of the end-to-end tests', () => {
  it('appear nowhere in any hapg run', async () => {
    const dir = process.env['HAPG_E2E_OUTPUT'];
    expect(dir, 'HAPG_E2E_OUTPUT names the directory of recorded runs (scripts/test.sh sets it)').toBeTruthy();
    const logs = (await readdir(dir!)).filter((f) => f.endsWith('.log'));
    const values = new Set<string>();
    for (const file of await secretsFiles()) {
      for (const v of Object.values((YAML.parse(await readFile(file, 'utf8')) ?? {}) as Record<string, unknown>)) if (typeof v === 'string' && v.length >= 8) values.add(v);
    }
    // The CA's and hapg's client private keys: every base64 line of their PEM bodies.
    for (const file of await secretsFiles('.key')) {
      for (const line of (await readFile(file, 'utf8')).split('\n')) if (line.length >= 40 && !line.startsWith('-----')) values.add(line);
    }
    // Not a vacuous pass: the suite ran hapg many times and generated many secrets.
    expect(logs.length).toBeGreaterThan(50);
    expect(values.size).toBeGreaterThan(10);
    const leaks: string[] = [];
    for (const log of logs) {
      const text = await readFile(path.join(dir!, log), 'utf8');
      for (const v of values) {
        // keepalived reads a VRRP password's first 8 characters: those count as the secret too.
        if (text.includes(v) || text.includes(v.slice(0, 8))) leaks.push(`${log}: ${text.split('\n')[0]}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
