import { quote } from './quote.js';
import { describeChar, firstCharNotIn } from './text.js';

// Paths on the managed hosts. A data directory is created, owned, chmod-ed and, when a
// standby is rebuilt, wiped (`rm -rf`), and hapg creates its parent directory owned by
// postgres with mode 0750: `data_dir: /pgdata` would hand `/` to postgres, `/var/lib/pgsql`
// would hand `/var/lib`. So a data path must lie in a tree of its own, never in a system one.

/** Characters a host path may hold: nothing a shell, systemd, YAML or a config file reads specially. */
const PATH_CHAR = /[A-Za-z0-9._+@/-]/u;
const PATH_CHARS_TEXT = 'letters, digits, "/", ".", "_", "-", "+" and "@"';

/** Trees no data may live in, at any depth, and why. */
const FORBIDDEN_TREES: readonly (readonly [string, string])[] = [
  ['/proc', 'a kernel filesystem'],
  ['/sys', 'a kernel filesystem'],
  ['/dev', 'the device filesystem'],
  ['/run', 'emptied at every boot'],
  ['/var/run', 'emptied at every boot'],
  ['/var/lock', 'emptied at every boot'],
  ['/tmp', 'emptied at boot or cleaned by systemd-tmpfiles'],
  ['/var/tmp', 'cleaned by systemd-tmpfiles'],
  ['/boot', 'the boot partition'],
  ['/etc', "the system's configuration"],
  ['/bin', 'installed software'],
  ['/sbin', 'installed software'],
  ['/lib', 'installed software'],
  ['/lib32', 'installed software'],
  ['/lib64', 'installed software'],
  ['/libx32', 'installed software'],
  ['/home', "people's home directories"],
  ['/root', "root's home directory"],
];

/** /usr belongs to packages, except /usr/local, the site's own tree (/usr/local/pgsql/data is classic). */
const USR = '/usr';
const USR_LOCAL = '/usr/local';

/**
 * Directories the system owns: a data directory may be neither one of them nor directly
 * inside one (its parent would be handed to postgres).
 */
const SYSTEM_DIRECTORIES: ReadonlySet<string> = new Set([
  '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt', '/opt',
  '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var',
  '/usr/local', '/usr/local/bin', '/usr/local/etc', '/usr/local/include', '/usr/local/lib', '/usr/local/sbin',
  '/usr/local/share', '/usr/local/src',
  '/var/backups', '/var/cache', '/var/lib', '/var/local', '/var/lock', '/var/log', '/var/mail', '/var/opt',
  '/var/run', '/var/spool', '/var/tmp', '/var/www',
]);

/** Directories of the services themselves: data goes below them (the defaults do), never in them. */
const SERVICE_DIRECTORIES: Readonly<Record<string, string>> = {
  '/var/lib/postgresql': "the postgres user's home, where Patroni keeps its .pgpass files",
  '/var/lib/etcd': "the etcd package's directory (hapg puts each etcd cluster's data below it)",
};

/** Why `path` cannot be written as a host path (characters and spelling), or undefined. */
function spellingProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return `${quote(path)} must be an absolute path (starting with "/")`;
  const bad = firstCharNotIn(path, PATH_CHAR);
  if (bad !== undefined) {
    return `${quote(path)} contains ${describeChar(bad)}: a host path may use only ${PATH_CHARS_TEXT} (hapg writes it into unit files, YAML and command lines)`;
  }
  if (path !== '/' && (path.includes('//') || path.endsWith('/'))) {
    const tidy = `/${path.split('/').filter(Boolean).join('/')}`;
    return `${quote(path)} must be written ${tidy}: no repeated or trailing "/"`;
  }
  if (path.split('/').some((part) => part === '.' || part === '..')) {
    return `${quote(path)} has a "." or ".." part: write the directory it means, without them`;
  }
  return undefined;
}

/** `/a/b/c` → `/a/b`; `/a` → `/`. */
function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

function isWithin(path: string, tree: string): boolean {
  return path === tree || path.startsWith(`${tree}/`);
}

/** Why a data directory's parent matters, as the message explains it. */
export type ParentUse = 'postgres-owned' | 'own-tree';

/**
 * Why `path` cannot be a data directory, or undefined. `postgres-owned`: hapg creates its
 * parent owned by postgres (PostgreSQL's data_dir); `own-tree`: the rules are the same, the
 * reason is only that data needs a tree of its own (WAL, etcd).
 */
export function dataDirectoryProblem(path: string, parentUse: ParentUse): string | undefined {
  const spelling = spellingProblem(path);
  if (spelling !== undefined) return spelling;
  if (path === '/') return '"/" is the root directory: give the data a directory of its own, such as /srv/postgresql/main';
  const tree = FORBIDDEN_TREES.find(([root]) => isWithin(path, root));
  if (tree) return `${quote(path)} is in ${tree[0]}, ${tree[1]}: data belongs on a path of its own, such as /srv/postgresql/main`;
  if (isWithin(path, USR) && !isWithin(path, USR_LOCAL)) {
    return `${quote(path)} is in /usr, which belongs to installed packages: data belongs on a path of its own, such as /srv/postgresql/main`;
  }
  if (SYSTEM_DIRECTORIES.has(path)) return `${quote(path)} is a system directory: data belongs in a directory of its own below it, such as ${path}/postgresql/main`;
  const service = SERVICE_DIRECTORIES[path];
  if (service !== undefined) return `${quote(path)} is ${service}: use a directory below it`;
  const parent = parentOf(path);
  if (parent !== '/' && !SYSTEM_DIRECTORIES.has(parent)) return undefined;
  const where = parent === '/' ? 'directly in "/"' : `directly in ${parent}, a system directory`;
  const parentName = parent === '/' ? '"/"' : parent;
  const why =
    parentUse === 'postgres-owned'
      ? `hapg creates a data directory's parent owned by postgres with mode 0750, which would take ${parentName} from the system`
      : 'data needs a parent directory of its own, not one the system shares';
  return `${quote(path)} is ${where}: ${why}; use at least two levels of its own, such as ${path}/main`;
}

/** Why `path` cannot be Patroni's watchdog device, or undefined. */
export function devicePathProblem(path: string): string | undefined {
  const spelling = spellingProblem(path);
  if (spelling !== undefined) return spelling;
  if (!path.startsWith('/dev/')) return `${quote(path)} is not a device under /dev: Patroni opens the watchdog device for writing, such as /dev/watchdog`;
  return undefined;
}
