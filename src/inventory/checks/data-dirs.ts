import { listNames, type PathSegment } from '../issues.js';
import type { CheckContext } from './context.js';

interface DataDirectory {
  path: string;
  at: PathSegment[];
  /** How the message names it: `the data_dir of cluster main`. */
  role: string;
  /** The etcd cluster or cluster it belongs to. */
  owner: string;
}

/**
 * On each host, no data directory is inside another (or the same): initdb, a standby rebuild
 * (`rm -rf`) or an etcd restore of one would take the other's data with it.
 */
export function checkDataDirectories(ctx: CheckContext): void {
  const { inventory } = ctx;
  const byHost = new Map<string, DataDirectory[]>();
  const add = (host: string, dir: DataDirectory) => {
    const dirs = byHost.get(host) ?? [];
    byHost.set(host, dirs);
    if (!dirs.some((d) => d.role === dir.role)) dirs.push(dir); // a host listed twice
  };
  for (const [name, etcd] of Object.entries(inventory.etcd)) {
    for (const host of etcd.hosts) add(host, { path: etcd.data_dir, at: ['etcd', name, 'data_dir'], role: `the data_dir of etcd cluster ${name}`, owner: `etcd ${name}` });
  }
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    const base = ['clusters', name, 'postgres'];
    for (const host of cluster.hosts) {
      add(host, { path: cluster.postgres.data_dir, at: [...base, 'data_dir'], role: `the data_dir of cluster ${name}`, owner: `cluster ${name}` });
      if (cluster.postgres.wal_dir !== undefined) {
        add(host, { path: cluster.postgres.wal_dir, at: [...base, 'wal_dir'], role: `the wal_dir of cluster ${name}`, owner: `cluster ${name}` });
      }
    }
  }

  const clashes = new Map<string, { inner: DataDirectory; outer: DataDirectory; hosts: string[] }>();
  for (const [host, dirs] of byHost) {
    for (const a of dirs) {
      for (const b of dirs) {
        if (a === b || !isInside(a.path, b.path)) continue;
        if (a.owner === b.owner) {
          // A cluster's wal_dir in or at its data_dir is reported by checkPostgresSettings.
          if (a.path === b.path || a.at.at(-1) === 'wal_dir') continue;
        } else if (a.path === b.path && a.role > b.role) continue; // the same path twice: reported once
        const key = `${a.role}\0${b.role}`;
        const clash = clashes.get(key) ?? { inner: a, outer: b, hosts: [] };
        clash.hosts.push(host);
        clashes.set(key, clash);
      }
    }
  }
  for (const { inner, outer, hosts } of clashes.values()) {
    const why = 'each needs a tree of its own (initialising, wiping or restoring one would take the other with it)';
    const on = `on ${listNames(hosts)}`;
    if (inner.path === outer.path) {
      ctx.errorWith({
        path: inner.at,
        message: `${inner.path} is also ${outer.role} ${on}: ${why}`,
        alternative: { path: outer.at, message: `${outer.path} is also ${inner.role} ${on}: ${why}` },
      });
    } else {
      ctx.errorWith({
        path: inner.at,
        message: `${inner.path} is inside ${outer.path}, ${outer.role}, ${on}: ${why}`,
        alternative: { path: outer.at, message: `${outer.path} contains ${inner.path}, ${inner.role}, ${on}: ${why}` },
      });
    }
  }
}

/** True when `path` is `tree` or below it (both spelled without repeated or trailing "/"). */
function isInside(path: string, tree: string): boolean {
  return path === tree || path.startsWith(`${tree}/`);
}
