// A password from { env } or { file } shorter than 8 characters is refused before anything
// runs: masking in output cannot be relied on for very short values. Secrets are resolved only
// once hosts are reachable, so this goes through resolveSecrets rather than the CLI.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/inventory/issues.js';
import { loadInventory } from '../../src/inventory/load.js';
import { resolveSecrets } from '../../src/inventory/secrets.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hapg-short-'));
});

afterEach(async () => {
  delete process.env['HAPG_SEC_SU'];
  await rm(dir, { recursive: true, force: true });
});

async function resolveError(ref: string): Promise<InventoryError> {
  const file = path.join(dir, 'inv.yml');
  await writeFile(
    file,
    `hosts:\n  pg1: { address: 192.0.2.11 }\netcd:\n  dc1: { hosts: [pg1] }\nclusters:\n  main:\n    hosts: [pg1]\n    secrets:\n      superuser: ${ref}\n`,
  );
  const err = await resolveSecrets(await loadInventory(file), { createMissing: false, placeholders: true }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InventoryError)) throw new Error(`expected an InventoryError, got ${String(err)}`);
  return err;
}

describe('short passwords', () => {
  it('from the environment: names the variable, never the value', async () => {
    process.env['HAPG_SEC_SU'] = 'pw1234';
    const err = await resolveError('{ env: HAPG_SEC_SU }');
    expect(err.message).toMatch(/^clusters\.main\.secrets\.superuser: the password in environment variable HAPG_SEC_SU is shorter than 8 characters: /u);
    expect(err.message).not.toContain('pw1234');
    expect(err.exitCode).toBe(2);
  });

  it('from a file: names the file, never the value', async () => {
    await writeFile(path.join(dir, 'su.pw'), 'pw1234\n');
    const err = await resolveError('{ file: su.pw }');
    expect(err.message).toMatch(/^clusters\.main\.secrets\.superuser: the password in secret file su\.pw is shorter than 8 characters: /u);
    expect(err.message).not.toContain('pw1234');
  });
});
