import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { InventoryError } from '../../src/inventory/issues.js';
import { loadInventory } from '../../src/inventory/load.js';

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
});
