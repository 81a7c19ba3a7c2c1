import type { z } from 'zod';
import type { Finding, PathSegment } from './issues.js';
import { describeType, quote } from './quote.js';
import { NOT_REPEATED, secretPath } from './secret-paths.js';

/**
 * Marks zod's own wording. The inventory parse passes `defaultMessage` as its error map, so a
 * message without this marker was written in the schema and is shown as is.
 */
const ZOD_DEFAULT = '\u0000zod-default';

/** Per-parse error map: leaves schema messages alone and tags zod's generic ones. */
export const defaultMessage = (): string => ZOD_DEFAULT;

/** A finding with what it says about keys, so a typo is reported once, not also as a missing key. */
interface KeyFinding extends Finding {
  missingKey?: string;
  suggestedKey?: string;
}

/**
 * Turns zod issues into operator-facing findings: one per unknown key, a missing key at its
 * parent, and no "missing" finding for a key an unknown key's suggestion already names.
 */
export function findingsFromZodIssues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType): Finding[] {
  const findings = issues.flatMap((issue) => translate(issue, schema));
  const at = (path: readonly PathSegment[], key: string) => `${JSON.stringify(path)}\0${key}`;
  const suggested = new Set(findings.filter((f) => f.suggestedKey).map((f) => at(f.path.slice(0, -1), f.suggestedKey ?? '')));
  return findings
    .filter((f) => f.missingKey === undefined || !suggested.has(at(f.path, f.missingKey)))
    .map(({ path, message, alternative }) => ({ path, message, alternative }));
}

function translate(issue: z.core.$ZodIssue, schema: z.ZodType): KeyFinding[] {
  const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
  const secret = secretPath(path);
  if (secret) return [translateSecret(issue, path, secret, schema)];
  const own = issue.message === ZOD_DEFAULT ? undefined : issue.message;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = knownKeys(schema, path);
      return issue.keys.map((key) => {
        const suggestion = closest(key, allowed);
        return { path: [...path, key], message: unknownKeyMessage(key, allowed, suggestion), suggestedKey: suggestion };
      });
    }
    case 'invalid_type': {
      if (issue.input === undefined && path.length > 0) {
        const key = String(path[path.length - 1]);
        return [{ path: path.slice(0, -1), message: `missing required key "${key}"`, missingKey: key }];
      }
      const expected = own ?? `must be ${article(issue.expected)}`;
      return [{ path, message: `${expected}, got ${describeType(issue.input)}` }];
    }
    case 'invalid_value':
      return [{ path, message: `${own ?? `must be one of ${issue.values.map(quote).join(', ')}`}, got ${quote(issue.input)}` }];
    case 'too_small':
    case 'too_big': {
      const got = typeof issue.input === 'number' ? `, got ${issue.input}` : '';
      return [{ path, message: `${own ?? boundMessage(issue)}${got}` }];
    }
    case 'invalid_format': {
      const got = typeof issue.input === 'string' ? `, got ${quote(issue.input)}` : '';
      return [{ path, message: `${own ?? `must match ${issue.pattern ?? issue.format}`}${got}` }];
    }
    case 'invalid_key': {
      const inner = issue.issues[0];
      const why = inner && inner.message !== ZOD_DEFAULT ? inner.message : 'is not an allowed name';
      return [{ path, message: `is not a valid name: ${why.replace(/^must/, 'it must')}` }];
    }
    case 'invalid_union': {
      const input = issue.input;
      const got = typeof input === 'object' && input !== null && !Array.isArray(input) ? '' : `, got ${describeType(input)}`;
      return [{ path, message: `${own ?? 'does not match any allowed form'}${got}` }];
    }
    case 'custom': {
      const alternative = issue.params?.['alternative'] as Finding | undefined;
      return [{ path, message: own ?? 'is invalid', alternative }];
    }
    default:
      return [{ path, message: own ?? 'is invalid' }];
  }
}

/**
 * An issue in or under a secret, told without anything written there: no value, no unknown
 * key (a key can be the password too, as in `password: { hunter2 }`), and a path cut before it.
 */
function translateSecret(issue: z.core.$ZodIssue, path: PathSegment[], shown: PathSegment[], schema: z.ZodType): Finding {
  const input = issue.input;
  let own = issue.message === ZOD_DEFAULT ? undefined : issue.message;
  if (own !== undefined && typeof input === 'string' && input !== '') own = own.split(quote(input)).join('the value');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys.length === 1 ? 'a key' : `${issue.keys.length} keys`;
      return { path: shown, message: `has ${keys} it does not take (allowed: ${knownKeys(schema, shown).join(', ')}); ${NOT_REPEATED}` };
    }
    case 'invalid_type':
      if (input === undefined && path.length > 0 && shown.length === path.length) {
        return { path: path.slice(0, -1), message: `missing required key "${String(path[path.length - 1])}"` };
      }
      return { path: shown, message: `${own ?? `must be ${article(issue.expected)}`}, got ${describeType(input)}` };
    case 'invalid_union': {
      const got = typeof input === 'object' && input !== null && !Array.isArray(input) ? '' : `, got ${describeType(input)}`;
      return { path: shown, message: `${own ?? 'does not match any allowed form'}${got}` };
    }
    case 'invalid_value':
      return { path: shown, message: `${own ?? `must be ${issue.values.map(quote).join(' or ')}`}; ${NOT_REPEATED}` };
    case 'invalid_format':
      return { path: shown, message: `${own ?? 'is not in the expected form'}; ${NOT_REPEATED}` };
    default:
      return { path: shown, message: own ?? 'is invalid' };
  }
}

function unknownKeyMessage(key: string, allowed: string[], suggestion: string | undefined): string {
  if (allowed.length === 0) return `unknown key "${key}"`;
  if (suggestion) return `unknown key "${key}": did you mean "${suggestion}"?`;
  return `unknown key "${key}" (allowed: ${allowed.join(', ')})`;
}

function boundMessage(issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall): string {
  const bound = issue.code === 'too_big' ? `at most ${String(issue.maximum)}` : `at least ${String(issue.minimum)}`;
  return issue.origin === 'array' ? `must have ${bound} entries` : `must be ${bound}`;
}

function article(expected: string): string {
  const names: Record<string, string> = {
    object: 'a mapping',
    record: 'a mapping',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

/** The closest allowed key within a small edit distance, to catch typos. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
}

const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** Keys of the object schema at `path` (records and lists are stepped through). */
function knownKeys(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  const objects = objectSchemasAt(schema, path);
  return [...new Set(objects.flatMap((o) => Object.keys(defOf(o).shape ?? {})))];
}

function objectSchemasAt(schema: z.ZodType, path: readonly PathSegment[]): z.ZodType[] {
  const def = defOf(schema);
  const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  if (inner) return objectSchemasAt(inner, path);
  if (def.type === 'union') return (def.options ?? []).flatMap((o) => objectSchemasAt(o, path));
  if (path.length === 0) return def.type === 'object' ? [schema] : [];
  const [head, ...rest] = path;
  if (def.type === 'object') {
    const next = def.shape?.[String(head)];
    return next ? objectSchemasAt(next, rest) : [];
  }
  if (def.type === 'record' && def.valueType) return objectSchemasAt(def.valueType, rest);
  if (def.type === 'array' && def.element) return objectSchemasAt(def.element, rest);
  return [];
}
