import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { InventoryError } from '../../src/inventory/issues.js';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';

// One file per defect; its first line states the exact message: `# error: <message>`.
const dir = 'test/fixtures/inventories/invalid';
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((file) => {
    const path = `${dir}/${file}`;
    const header = readFileSync(path, 'utf8').split('\n')[0] ?? '';
    return { file, path, expected: /^# error: (.+)$/.exec(header)?.[1] };
  });

async function loadError(path: string): Promise<InventoryError> {
  try {
    await loadInventory(path);
  } catch (err) {
    if (err instanceof InventoryError) return err;
    throw err;
  }
  throw new Error(`${path} loaded without error`);
}

describe('malformed inventories', () => {
  it('cover at least 35 defects', () => {
    expect(cases.length).toBeGreaterThanOrEqual(35);
  });

  it.each(cases)('$file', async ({ path, expected }) => {
    expect(expected, 'first line must be "# error: <message>"').toBeDefined();
    const err = await loadError(path);
    expect(err).toBeInstanceOf(HapgError);
    expect(err.code).toBe('INVENTORY_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(expected);
    expect(err.message).not.toContain('\n');
    expect(err.issues[0]?.message).toBe(err.message);
    for (const issue of err.issues) expect(issue.message).not.toContain('\n');
  });

  it('never repeats a password written where a secret reference belongs', async () => {
    const err = await loadError(`${dir}/bad-secret-ref.yml`);
    expect(readFileSync(`${dir}/bad-secret-ref.yml`, 'utf8')).toContain('hunter2-secret-value');
    expect(err.issues.map((i) => i.message).join('\n')).not.toContain('hunter2');
  });

  it.each(['secret-env-holds-password.yml', 'secret-alias-elsewhere.yml'])('%s repeats nothing written under a secret', async (file) => {
    const err = await loadError(`${dir}/${file}`);
    expect(err.issues.map((i) => i.message).join('\n')).not.toContain('Tr0ub4dor');
  });
});

// Every way a password can land in or near a secret reference; none may reach a message.
describe('messages about secrets', () => {
  const PASSWORD = 'Hunter2 Secret';
  const inventory = (secret: string, before = '', host = '') => `${before}hosts:
  pg1: { address: 192.0.2.11${host} }
etcd:
  dc1: { hosts: [pg1] }
clusters:
  main:
    hosts: [pg1]
    postgres:
      users:
        app: { password: ${secret} }
    secrets:
      superuser: ${secret}
`;
  const messages = (text: string): string => {
    try {
      parseInventory(text, 'inv.yml');
    } catch (err) {
      if (err instanceof InventoryError) return err.issues.map((i) => i.message).join('\n');
      throw err;
    }
    throw new Error('parsed without error');
  };

  it.each([
    ['the password as an env name', `{ env: "${PASSWORD}" }`],
    ['a password that looks almost like an env name', '{ env: Hunter2-Secret }', 'Hunter2-Secret'],
    ['the password as a bare string', `"${PASSWORD}"`],
    ['a number where a file belongs', '{ file: 123456789 }', '123456789'],
    ['the password as generate', `{ generate: "${PASSWORD}" }`],
    ['the password in an extra key', `{ env: HAPG_PW, value: "${PASSWORD}" }`],
    ['the password as an extra key', '{ env: HAPG_PW, Hunter2Secret: 1 }', 'Hunter2Secret'],
    ['the password as a key alone', '{ Hunter2Secret }', 'Hunter2Secret'],
    ['the password in a list', `["${PASSWORD}"]`],
    ['the password with a newline as a file', '{ file: "Hunter2\\nSecret" }', 'Hunter2'],
    ['the password twice under one key', `{ env: HAPG_PW, env: "${PASSWORD}" }`],
    ['a duplicate key that is the password', '{ Hunter2Secret: 1, Hunter2Secret: 2 }', 'Hunter2Secret'],
  ])('%s', (_what, secret, shown = 'Hunter2') => {
    const text = inventory(secret);
    expect(text).toContain(shown);
    const found = messages(text);
    expect(found).not.toContain(shown);
    expect(found).not.toContain('Secret"');
  });

  it('a duplicate secrets key carrying the password', () => {
    const text = inventory('{ env: HAPG_PW }').replace('      superuser: { env: HAPG_PW }', `      superuser: { env: HAPG_PW }\n      superuser: "${PASSWORD}"`);
    expect(messages(text)).not.toContain('Hunter2');
  });

  it('an anchor under a secret, aliased into a field whose message quotes it', () => {
    const text = `clusters:
  main:
    hosts: [pg1]
    secrets:
      superuser: { file: &pw "${PASSWORD}" }
etcd:
  dc1: { hosts: [pg1] }
hosts:
  pg1: { address: *pw, datacenter: *pw }
`;
    const found = messages(text);
    expect(found).toContain('hosts.pg1.address');
    expect(found).not.toContain('Hunter2');
  });

  it('an anchor in another field, aliased under a secret', () => {
    const text = `hosts:
  pg1: { address: &pw "${PASSWORD}" }
etcd:
  dc1: { hosts: [pg1] }
clusters:
  main:
    hosts: [pg1]
    secrets:
      superuser: { env: *pw }
`;
    expect(messages(text)).not.toContain('Hunter2');
  });
});
