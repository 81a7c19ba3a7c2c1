// Data of a member that leaves is moved aside, never deleted: a rename on the same
// filesystem, kept until the operator removes it.
import { exec, type ExecStep } from '../run/steps.js';

/** A UTC stamp for names of moved-aside data: 20261129T190512Z. */
export function asideStamp(at: Date = new Date()): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Where `path` goes: `<path>.hapg-removed-<stamp>`. */
export const asidePath = (path: string, stamp: string) => `${path}.hapg-removed-${stamp}`;

const MOVE_ASIDE = 'if [ -e "$1" ]; then mv -T -- "$1" "$2"; fi';

/** Renames `path` aside when it exists (nothing there: nothing to do). */
export function moveAside(host: string, path: string, stamp: string): ExecStep {
  return exec(host, `move ${path} aside to ${asidePath(path, stamp)}`, ['sh', '-c', MOVE_ASIDE, 'sh', path, asidePath(path, stamp)]);
}
