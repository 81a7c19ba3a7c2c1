import { HapgError } from '../errors.js';

export type PathSegment = string | number;

/** A problem found in an inventory, before it is tied to a file line. */
export interface Finding {
  path: PathSegment[];
  message: string;
  /**
   * The same problem told from another path (the other side of a collision). Used instead
   * when `path` only holds a default and the alternative's path is written in the file.
   */
  alternative?: Finding | undefined;
}

/** A finding placed in the inventory file. */
export interface InventoryIssue {
  path: PathSegment[];
  /** The one line shown to the operator: `clusters.main.hosts[2]: unknown host "pg9" … (inventories/prod.yml:14)`. */
  message: string;
  /** What is wrong, without the path and the location. */
  problem: string;
  /** 1-based line in the inventory file (the parent's line when the key itself is missing). */
  line: number | undefined;
}

/** A finding that does not stop hapg; `message` is its one line. */
export type InventoryWarning = InventoryIssue;

/** INVENTORY_INVALID carrying every problem found; `message` is the first one in file order. */
export class InventoryError extends HapgError {
  readonly issues: readonly InventoryIssue[];

  constructor(issues: readonly InventoryIssue[], opts: { cause?: unknown } = {}) {
    const first = issues[0];
    if (first === undefined) throw new HapgError('INTERNAL', 'InventoryError needs at least one issue');
    super('INVENTORY_INVALID', first.message, opts);
    this.name = 'InventoryError';
    this.issues = issues;
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `clusters.main.hosts[2]`: the path as the operator reads it in the YAML. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Places a finding at a line of `file` and writes its one line: `path: problem (file:line)`. */
export function toInventoryIssue(finding: Finding, file: string, line: number | undefined): InventoryIssue {
  const where = line === undefined ? file : `${file}:${line}`;
  const path = formatPath(finding.path);
  const problem = finding.message.replace(/\s*\n\s*/g, ' ').trim();
  return { path: finding.path, problem, line, message: `${path === '' ? '' : `${path}: `}${problem} (${where})` };
}

/** Joins names for a message: `pg1, pg2 and pg3` (or `a or b`), at most `max` shown. */
export function listNames(names: readonly string[], opts: { max?: number; conjunction?: 'and' | 'or' } = {}): string {
  const { max = 8, conjunction = 'and' } = opts;
  const shown = names.slice(0, max);
  const more = names.length - shown.length;
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  if (shown.length <= 1) return shown.join('');
  return `${shown.slice(0, -1).join(', ')} ${conjunction} ${shown[shown.length - 1]}`;
}
