import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { InventoryError } from '../../src/inventory/issues.js';
import { loadInventory } from '../../src/inventory/load.js';
import { resolveSecrets, secretsFilePath } from '../../src/inventory/secrets.js';

const INVENTORY = `hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
etcd:
  dc1: { hosts: [pg1] }
clusters:
  main:
    hosts: [pg1]
    postgres:
      users:
        app: { password: { env: HAPG_TEST_APP_PW } }
        report: { password: { file: secrets/report.pw } }
        batch: {}
    secrets:
      rest_api: { env: HAPG_TEST_REST_PW }
    haproxy: {}
  dr:
    hosts: [pg2]
    standby: { cluster: main }
`;

let dir: string;
let inventoryPath: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hapg-secrets-'));
  inventoryPath = join(dir, 'site.yml');
  await writeFile(inventoryPath, INVENTORY);
  await mkdir(join(dir, 'secrets'));
  await writeFile(join(dir, 'secrets/report.pw'), 'report-pass-from-file\n');
  process.env['HAPG_TEST_APP_PW'] = 'app-pass-from-env';
  process.env['HAPG_TEST_REST_PW'] = 'rest-pass-from-env';
});

afterEach(async () => {
  delete process.env['HAPG_TEST_APP_PW'];
  delete process.env['HAPG_TEST_REST_PW'];
  await rm(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<HapgError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof HapgError)) throw new Error(`expected a HapgError, got ${String(err)}`);
  return err;
}

describe('resolveSecrets', () => {
  it('reads env and file references and generates the rest into a 0600 secrets file', async () => {
    const loaded = await loadInventory(inventoryPath);
    const secrets = await resolveSecrets(loaded, { createMissing: true });

    expect([...secrets.keys()].sort()).toEqual([
      'clusters.dr.check',
      'clusters.dr.etcd',
      'clusters.dr.replication',
      'clusters.dr.rest_api',
      'clusters.dr.rewind',
      'clusters.dr.superuser',
      'clusters.dr.vrrp',
      'clusters.main.check',
      'clusters.main.etcd',
      'clusters.main.replication',
      'clusters.main.rest_api',
      'clusters.main.rewind',
      'clusters.main.superuser',
      'clusters.main.users.app',
      'clusters.main.users.batch',
      'clusters.main.users.report',
      'clusters.main.vrrp',
      'etcd.dc1.root',
    ]);
    expect(secrets.get('clusters.main.users.app')?.reveal()).toBe('app-pass-from-env');
    expect(secrets.get('clusters.main.rest_api')?.reveal()).toBe('rest-pass-from-env');
    expect(secrets.get('clusters.main.users.report')?.reveal()).toBe('report-pass-from-file');
    const generated = secrets.get('clusters.main.superuser')?.reveal() ?? '';
    expect(generated).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(secrets.get('clusters.main.replication')?.reveal()).not.toBe(generated);

    const file = secretsFilePath(loaded);
    expect(file).toBe(join(dir, '.hapg/site.secrets.yml'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, '.hapg'))).mode & 0o777).toBe(0o700);
    const content = await readFile(file, 'utf8');
    expect(content).toContain(`clusters.main.superuser: ${generated}`);
    expect(content).not.toContain('app-pass-from-env');
  });

  it('gives a standby cluster the roles of its source', async () => {
    const secrets = await resolveSecrets(await loadInventory(inventoryPath), { createMissing: true });
    for (const role of ['superuser', 'replication', 'rewind', 'check']) {
      expect(secrets.get(`clusters.dr.${role}`)).toBe(secrets.get(`clusters.main.${role}`));
    }
    expect(secrets.get('clusters.dr.rest_api')?.reveal()).not.toBe(secrets.get('clusters.main.rest_api')?.reveal());
  });

  it('reuses the generated passwords on the next run without rewriting the file', async () => {
    const loaded = await loadInventory(inventoryPath);
    const first = await resolveSecrets(loaded, { createMissing: true });
    const file = secretsFilePath(loaded);
    const before = await stat(file);
    const second = await resolveSecrets(loaded, { createMissing: false });
    const third = await resolveSecrets(loaded, { createMissing: true });
    for (const key of ['clusters.main.superuser', 'clusters.main.users.batch', 'clusters.dr.rest_api']) {
      expect(second.get(key)?.reveal()).toBe(first.get(key)?.reveal());
      expect(third.get(key)?.reveal()).toBe(first.get(key)?.reveal());
    }
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
  });

  it('without createMissing, says that deploy creates a missing generated secret', async () => {
    const loaded = await loadInventory(inventoryPath);
    const err = await failure(resolveSecrets(loaded, { createMissing: false }));
    expect(err).toBeInstanceOf(InventoryError);
    expect(err.code).toBe('INVENTORY_INVALID');
    expect(err.message).toBe(
      `etcd.dc1.secrets.root: the generated password is not in .hapg/site.secrets.yml yet: \`hapg deploy\` creates it (${inventoryPath}:5)`,
    );
    await expect(stat(secretsFilePath(loaded))).rejects.toThrow();
  });

  it('refuses a secrets file that group or others can read', async () => {
    const loaded = await loadInventory(inventoryPath);
    await resolveSecrets(loaded, { createMissing: true });
    const file = secretsFilePath(loaded);
    const content = await readFile(file, 'utf8');
    await chmod(file, 0o644);
    const err = await failure(resolveSecrets(loaded, { createMissing: false }));
    expect(err.code).toBe('INVENTORY_INVALID');
    expect(err.message).toBe(
      `secrets file ${file} has mode 0644, open to group or others: run chmod 600 ${file}, and rotate the passwords if others may have read it`,
    );
    const generated = /clusters\.main\.superuser: (\S+)/.exec(content)?.[1] ?? 'missing';
    expect(err.message).not.toContain(generated);
  });

  it('names a missing environment variable and where it is referenced', async () => {
    delete process.env['HAPG_TEST_APP_PW'];
    const err = await failure(resolveSecrets(await loadInventory(inventoryPath), { createMissing: true }));
    expect(err.message).toBe(
      `clusters.main.postgres.users.app.password: environment variable HAPG_TEST_APP_PW is not set: export it before running hapg (${inventoryPath}:11)`,
    );
  });

  it('names a missing secret file as written in the inventory', async () => {
    await rm(join(dir, 'secrets/report.pw'));
    const err = await failure(resolveSecrets(await loadInventory(inventoryPath), { createMissing: true }));
    expect(err.message).toBe(
      `clusters.main.postgres.users.report.password: cannot read secret file secrets/report.pw (not found) (${inventoryPath}:12)`,
    );
  });

  it.each([
    ['hunter2', 'is shorter than 8 characters'],
    ['pässwö', 'is shorter than 8 characters'],
    ['long-enough\nsecond-line', 'contains a newline'],
    ['long-enough\u001b[2J', 'contains the invisible character U\\+001B'],
  ])('refuses a password from the environment that %j (naming the variable, never the value)', async (value, problem) => {
    process.env['HAPG_TEST_APP_PW'] = value;
    const err = await failure(resolveSecrets(await loadInventory(inventoryPath), { createMissing: true }));
    expect(err.message).toMatch(
      new RegExp(`^clusters\\.main\\.postgres\\.users\\.app\\.password: the password in environment variable HAPG_TEST_APP_PW ${problem}: `),
    );
    expect(err.message).not.toContain(value.split('\n')[0]);
    expect(err.message).not.toContain('\n');
  });

  it('refuses a short password from a file, naming the file, never the value', async () => {
    await writeFile(join(dir, 'secrets/report.pw'), 'r3p0rt\n');
    const err = await failure(resolveSecrets(await loadInventory(inventoryPath), { createMissing: true }));
    expect(err.message).toBe(
      `clusters.main.postgres.users.report.password: the password in secret file secrets/report.pw is shorter than 8 characters: use a longer one (hapg masks passwords in its output, which cannot work reliably for very short values) (${inventoryPath}:12)`,
    );
    expect(err.message).not.toContain('r3p0rt');
  });

  it('never puts a value in an error or in printed output', async () => {
    const loaded = await loadInventory(inventoryPath);
    const file = secretsFilePath(loaded);
    await mkdir(join(dir, '.hapg'), { mode: 0o700 });
    await writeFile(file, 'clusters.main.superuser: [s3cr3t-value-1\n', { mode: 0o600 });
    const broken = await failure(resolveSecrets(loaded, { createMissing: true }));
    expect(broken.message).toMatch(/^secrets file .* is not valid YAML \(line \d+\): fix or remove it$/);
    expect(broken.message).not.toContain('s3cr3t');

    await writeFile(file, 'clusters.main.superuser: 424242424242\n', { mode: 0o600 });
    const wrongType = await failure(resolveSecrets(loaded, { createMissing: true }));
    expect(wrongType.message).toBe(`secrets file ${file}: clusters.main.superuser must be a non-empty string`);
    expect(wrongType.message).not.toContain('4242');

    process.env['HAPG_TEST_APP_PW'] = '';
    await writeFile(file, '', { mode: 0o600 });
    const empty = await failure(resolveSecrets(loaded, { createMissing: true }));
    expect(empty.message).toContain('environment variable HAPG_TEST_APP_PW is empty');

    process.env['HAPG_TEST_APP_PW'] = 'app-pass-from-env';
    const secrets = await resolveSecrets(loaded, { createMissing: true });
    const printed = `${String(secrets.get('clusters.main.users.app'))} ${JSON.stringify(Object.fromEntries(secrets))} ${inspect(secrets)}`;
    expect(printed).not.toContain('app-pass-from-env');
    expect(printed).toContain('***');
  });
});
