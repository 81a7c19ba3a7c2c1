import { createHash } from 'node:crypto';
import { CommandError } from '../errors.js';
import type { CommandFact } from './fact.js';

export interface RemoteFileState {
  sha256: string;
  /** Octal permission bits, e.g. 0o600. */
  mode: number;
  owner: string;
  group: string;
}

const SCRIPT = [
  'for f in "$@"; do',
  '  if [ -f "$f" ]; then',
  '    sum=$(sha256sum < "$f") && st=$(stat -c "%a %U %G" "$f") || exit 1',
  '    printf "%s %s %s\\n" "${sum%% *}" "$st" "$f"',
  '  else printf -- "- - - - %s\\n" "$f"; fi',
  'done',
].join('\n');

/** sha256, mode and owner of files (null when absent), in one round trip, as root. */
export function fileStates(paths: readonly string[]): CommandFact<Map<string, RemoteFileState | null>> {
  const sorted = [...new Set(paths)].sort();
  return {
    id: `files:${sorted.join(',')}`,
    argv: ['sh', '-c', SCRIPT, 'sh', ...sorted],
    sudo: true,
    // A file hapg cannot read is never taken for an absent one (that would rewrite it).
    parse: (r) => {
      if (r.exitCode !== 0) throw new CommandError(r);
      const states = parseFileStates(r.stdout);
      const missing = sorted.filter((p) => !states.has(p));
      if (missing.length) throw new CommandError({ ...r, exitCode: 1, stderr: `no state reported for ${missing.join(', ')}` });
      return states;
    },
  };
}

export function parseFileStates(stdout: string): Map<string, RemoteFileState | null> {
  const out = new Map<string, RemoteFileState | null>();
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (\S+) (\S+) (\S+) (.+)$/.exec(line);
    if (!m) continue;
    const [, sha, mode, owner, group, path] = m as unknown as [string, string, string, string, string, string];
    out.set(path, sha === '-' ? null : { sha256: sha, mode: parseInt(mode, 8), owner, group });
  }
  return out;
}

/** Whether a remote file already has exactly this content, mode and owner. */
export function fileMatches(
  state: RemoteFileState | null | undefined,
  want: { content: string; mode: number; owner: string; group: string },
): boolean {
  return (
    !!state &&
    state.sha256 === createHash('sha256').update(want.content).digest('hex') &&
    state.mode === want.mode &&
    state.owner === want.owner &&
    state.group === want.group
  );
}

/** Content of a remote file as root ('' when absent): for plan diffs. */
export function fileContent(path: string): CommandFact<string> {
  return { id: `content:${path}`, argv: ['cat', '--', path], sudo: true, parse: (r) => (r.exitCode === 0 ? r.stdout : '') };
}
