import type { CompleteInventory } from '../defaults.js';
import type { Finding, PathSegment } from '../issues.js';

/** What every check receives: the completed inventory and where to report. */
export interface CheckContext {
  inventory: CompleteInventory;
  error(path: PathSegment[], message: string): void;
  /** An error with an alternative wording from another path (see Finding.alternative). */
  errorWith(finding: Finding): void;
  warn(path: PathSegment[], message: string): void;
}

/** Collects findings into error and warning lists. */
export function createCheckContext(inventory: CompleteInventory): CheckContext & { errors: Finding[]; warnings: Finding[] } {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  return {
    inventory,
    errors,
    warnings,
    error: (path, message) => errors.push({ path, message }),
    errorWith: (finding) => errors.push(finding),
    warn: (path, message) => warnings.push({ path, message }),
  };
}

/** Own-key lookup: inventory names come from the file, so never trust the prototype chain. */
export function has(record: object, key: string): boolean {
  return Object.hasOwn(record, key);
}

/** Cluster name of each known host that runs PostgreSQL. */
export function clusterOfHost(inventory: CompleteInventory): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    for (const host of cluster.hosts) if (!out.has(host)) out.set(host, name);
  }
  return out;
}
