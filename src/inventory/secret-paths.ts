import type { PathSegment } from './issues.js';
import { quote } from './quote.js';

// Where passwords sit in an inventory, so that no message repeats what is written there:
// a password pasted where `{ env: NAME }` expects a variable name must not reach a terminal,
// a CI log or a ticket through the error that rejects it.

/** Keys of the secrets map and of a secret reference: schema words, safe to name in a message. */
const SCHEMA_KEYS: ReadonlySet<string> = new Set(['superuser', 'replication', 'rewind', 'rest_api', 'env', 'file', 'generate']);

/** Told to the operator where a value is not repeated. */
export const NOT_REPEATED = 'hapg does not repeat what is written there, in case it is a password';

/**
 * The part of `path` that may be shown when it lies in or under a secret: `clusters.<c>.secrets`,
 * a reference below it, or `clusters.<c>.postgres.users.<u>.password`; deeper segments are
 * kept only while they are schema words. Undefined when `path` holds no secret.
 */
export function secretPath(path: readonly PathSegment[]): PathSegment[] | undefined {
  if (path[0] !== 'clusters' || path.length < 3) return undefined;
  let fixed: number;
  if (path[2] === 'secrets') fixed = 3;
  else if (path[2] === 'postgres' && path[3] === 'users' && path[5] === 'password') fixed = 6;
  else if (path[2] === 'backup' && path[3] === 'encryption' && path[4] === 'key') fixed = 5;
  else return undefined;
  const shown = path.slice(0, fixed);
  for (const segment of path.slice(fixed)) {
    if (typeof segment !== 'string' || !SCHEMA_KEYS.has(segment)) break;
    shown.push(segment);
  }
  return shown;
}

/** True when `key`, found at `parent`, is a key inside a secret that a message must not repeat. */
export function isUnrepeatableKey(parent: readonly PathSegment[], key: string): boolean {
  return secretPath([...parent, key]) !== undefined && !SCHEMA_KEYS.has(key);
}

/** Every string written in or under a secret of the raw inventory data: values and keys. */
export function secretTexts(data: unknown): string[] {
  const texts = new Set<string>();
  const collect = (value: unknown) => {
    if (typeof value === 'string') texts.add(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (isRecord(value)) {
      for (const [key, inner] of Object.entries(value)) {
        if (!SCHEMA_KEYS.has(key)) texts.add(key);
        collect(inner);
      }
    }
  };
  const clusters = isRecord(data) ? data['clusters'] : undefined;
  if (!isRecord(clusters)) return [];
  for (const cluster of Object.values(clusters)) {
    if (!isRecord(cluster)) continue;
    collect(cluster['secrets']);
    const backup = cluster['backup'];
    const encryption = isRecord(backup) ? backup['encryption'] : undefined;
    if (isRecord(encryption)) collect(encryption['key']);
    const postgres = cluster['postgres'];
    const users = isRecord(postgres) ? postgres['users'] : undefined;
    if (!isRecord(users)) continue;
    for (const user of Object.values(users)) if (isRecord(user)) collect(user['password']);
  }
  return [...texts].filter((t) => t !== '');
}

/** Raw text this long or longer is also replaced where a message names it unquoted. */
const MIN_RAW = 8;

/**
 * `message` with every text of `texts` replaced by `***`: as `quote()` shows it (any length),
 * and as a whole word (from MIN_RAW characters, so short values do not mangle the wording).
 */
export function redactTexts(message: string, texts: readonly string[]): string {
  let out = message;
  for (const text of texts) {
    out = out.split(quote(text)).join('"***"');
    if (text.length >= MIN_RAW) {
      const escaped = text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
      out = out.replace(new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`, 'gu'), '***');
    }
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
