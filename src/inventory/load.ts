import { readFile } from 'node:fs/promises';
import { checkInventory } from './cross-checks.js';
import { defaultSecretsFile } from './defaults.js';
import { type Finding, InventoryError, type InventoryIssue, type InventoryWarning, toInventoryIssue } from './issues.js';
import type { Locator } from './locate.js';
import { type Inventory, InventorySchema } from './schema.js';
import { redactTexts, secretTexts } from './secret-paths.js';
import { readYamlSource } from './yaml-source.js';
import { defaultMessage, findingsFromZodIssues } from './zod-issues.js';

/** A validated inventory and where it came from. */
export interface LoadedInventory {
  inventory: Inventory;
  /** The inventory path as the operator gave it (messages quote it this way). */
  path: string;
  warnings: InventoryWarning[];
  /** Line of a path in the file, for messages raised after loading (secrets, plans). */
  locate: Locator;
}

/** Reads, validates and completes an inventory file; throws InventoryError naming the first problem. */
export async function loadInventory(path: string): Promise<LoadedInventory> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const issue: InventoryIssue = { path: [], line: undefined, problem: readProblem(err), message: `${readProblem(err)}: ${path}` };
    throw new InventoryError([issue], { cause: err });
  }
  return parseInventory(text, path);
}

/** Validates inventory text; `path` is only used in messages and for the default secrets file. */
export function parseInventory(text: string, path: string): LoadedInventory {
  const source = readYamlSource(text);
  // Whatever is written under a secret stays out of every message, even one about another
  // field a YAML alias copied it to.
  const secrets = secretTexts(source.data);
  const place = (findings: readonly (Finding & { line?: number | undefined })[]) =>
    findings.map((f) => {
      if ('line' in f) return toInventoryIssue({ ...f, message: redactTexts(f.message, secrets) }, path, f.line);
      const shown = preferWritten(f, source.locate);
      return toInventoryIssue({ ...shown, message: redactTexts(shown.message, secrets) }, path, source.locate(shown.path));
    });

  if (source.problems.length > 0) throw new InventoryError(inFileOrder(place(source.problems)));

  const result = InventorySchema.safeParse(source.data, { reportInput: true, error: defaultMessage });
  if (!result.success) {
    const findings = findingsFromZodIssues(result.error.issues, InventorySchema);
    throw new InventoryError(inFileOrder(place(findings)));
  }

  const inventory = result.data;
  inventory.secrets_file ??= defaultSecretsFile(path);
  const warnings = inFileOrder(place(checkInventory(inventory).warnings));
  return { inventory, path, warnings, locate: source.locate };
}

/** The finding itself, or its alternative when only the alternative's path is written in the file. */
function preferWritten(finding: Finding, locate: Locator): Finding {
  const alt = finding.alternative;
  if (!alt || locate(finding.path, { exact: true }) !== undefined) return finding;
  return locate(alt.path, { exact: true }) !== undefined ? alt : finding;
}

/** Issues sorted by line (stable), those without a line last. */
function inFileOrder(issues: InventoryIssue[]): InventoryIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) || a.index - b.index)
    .map(({ issue }) => issue);
}

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'inventory file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'cannot read the inventory file (permission denied)';
  if (code === 'EISDIR') return 'the inventory path is a directory, not a YAML file';
  return `cannot read the inventory file (${code ?? (err instanceof Error ? err.message : String(err))})`;
}
