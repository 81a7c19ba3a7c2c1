import { createHash } from 'node:crypto';
import { CommandError, HapgError } from '../errors.js';
import type { ExecOptions, ExecResult, PutFileOptions } from './types.js';

type Run = (argv: readonly string[], opts: ExecOptions) => Promise<ExecResult>;

/** What the probe found at the destination path. */
export type RemoteFileState =
  | { kind: 'absent' }
  | { kind: 'other'; what: string }
  | { kind: 'file'; sha256: string; mode: number; uid: string; user: string; gid: string; group: string };

// One round trip: hash, mode and ownership, or why there is no regular file.
// A symlink is reported as such so that the write replaces it with a regular file.
const PROBE = `
if [ -L "$1" ]; then echo symlink
elif [ -f "$1" ]; then
  sum=$(sha256sum < "$1") || exit 1
  printf 'file %s ' "\${sum%% *}"
  stat -c '%a %u %U %g %G' -- "$1"
elif [ -d "$1" ]; then echo directory
elif [ -e "$1" ]; then echo special
else echo absent
fi`;

// Temp file in the same directory (so mv is a rename), created 0600 by mktemp, owner and mode
// set before the rename: the content is never visible at a wider mode, not even for an instant.
// The content is renamed into place only when its digest is the one sent ($4): a transfer cut
// short (hapg killed, the connection lost) ends stdin early and must never become the file.
// Temp files such a cut left behind (older than a minute) are removed.
const WRITE = `
set -e
dir=$(dirname "$1")
[ -d "$dir" ] || mkdir -p -- "$dir"
find "$dir" -maxdepth 1 -name '.hapg-put.*' -type f -mmin +1 -delete 2>/dev/null || true
tmp=$(mktemp "$dir/.hapg-put.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
sum=$(sha256sum < "$tmp")
if [ "\${sum%% *}" != "$4" ]; then echo "incomplete transfer (digest mismatch): $1 left as it was" >&2; exit 1; fi
[ -z "$3" ] || chown -- "$3" "$tmp"
chmod -- "$2" "$tmp"
mv -f -- "$tmp" "$1"
trap - EXIT`;

const FIX_ATTRIBUTES = `
set -e
[ -z "$3" ] || chown -- "$3" "$1"
chmod -- "$2" "$1"`;

/** Parses the probe's one line of output. */
export function parseProbe(stdout: string): RemoteFileState {
  const fields = stdout.trim().split(/\s+/);
  const [kind, sha256, mode, uid, user, gid, group] = fields;
  if (kind === 'absent') return { kind: 'absent' };
  if (kind === 'file' && sha256 && /^[0-9a-f]{64}$/.test(sha256) && mode && /^[0-7]+$/.test(mode) && uid && user && gid && group) {
    return { kind: 'file', sha256, mode: parseInt(mode, 8), uid, user, gid, group };
  }
  if (kind === 'symlink' || kind === 'directory' || kind === 'special') return { kind: 'other', what: kind };
  throw new HapgError('INTERNAL', `unexpected output from the file probe: ${JSON.stringify(stdout.slice(0, 200))}`);
}

/** `owner:group`, `owner`, `:group` or '' (leave ownership alone), as chown takes it. */
export function chownSpec(opts: Pick<PutFileOptions, 'owner' | 'group'>): string {
  if (opts.owner && opts.group) return `${opts.owner}:${opts.group}`;
  if (opts.owner) return opts.owner;
  if (opts.group) return `:${opts.group}`;
  return '';
}

/** What must change for the remote file to match: everything, only attributes, or nothing. */
export function fileDrift(state: RemoteFileState, sha256: string, opts: PutFileOptions): 'content' | 'attributes' | 'none' {
  if (state.kind !== 'file' || state.sha256 !== sha256) return 'content';
  const modeOk = state.mode === opts.mode;
  const ownerOk = !opts.owner || opts.owner === state.user || opts.owner === state.uid;
  const groupOk = !opts.group || opts.group === state.group || opts.group === state.gid;
  return modeOk && ownerOk && groupOk ? 'none' : 'attributes';
}

/**
 * Writes a file only when it differs (content, mode or ownership), atomically, through sudo
 * (no SFTP: root-owned paths need sudo). Unchanged files cost one round trip.
 */
export async function putFile(run: Run, host: string, path: string, content: string | Buffer, opts: PutFileOptions): Promise<{ changed: boolean }> {
  if (!path.startsWith('/') || path.endsWith('/')) throw new HapgError('INTERNAL', `${host}: putFile needs an absolute file path, got "${path}"`);
  if (!Number.isInteger(opts.mode) || opts.mode < 0 || opts.mode > 0o7777) {
    throw new HapgError('INTERNAL', `${host}: invalid mode ${opts.mode} for ${path}`);
  }
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const sha256 = createHash('sha256').update(data).digest('hex');
  const shown = (what: string) => `${what} ${path}`;
  const probe = await described(shown('inspect'), run(['sh', '-c', PROBE, 'hapg-probe', path], { sudo: true }));
  const state = parseProbe(probe.stdout);
  if (state.kind === 'other' && state.what !== 'symlink') {
    throw new HapgError('COMMAND_FAILED', `${host}: cannot write ${path}: a ${state.what} is in the way`, { host });
  }
  const mode = opts.mode.toString(8).padStart(4, '0');
  switch (fileDrift(state, sha256, opts)) {
    case 'none':
      return { changed: false };
    case 'attributes':
      await described(shown(`chown/chmod ${mode}`), run(['sh', '-c', FIX_ATTRIBUTES, 'hapg-fix', path, mode, chownSpec(opts)], { sudo: true }));
      return { changed: true };
    case 'content':
      await described(shown('write'), run(['sh', '-c', WRITE, 'hapg-put', path, mode, chownSpec(opts), sha256], { sudo: true, stdin: data }));
      return { changed: true };
  }
}

/** Failures name the file operation, not the shell script that implements it. */
async function described<T>(what: string, pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    if (err instanceof CommandError) throw new CommandError({ ...err.result, command: what });
    throw err;
  }
}
