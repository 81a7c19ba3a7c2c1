import { patroniScope } from '../defaults.js';
import { listNames } from '../issues.js';
import { type CheckContext, has } from './context.js';

const SOURCE_ROLE_SECRETS = ['superuser', 'replication', 'rewind', 'check'] as const;

/** Parameters a hot standby needs at least as high as its primary's (PostgreSQL checks them on replay). */
export const SHARED_MEMORY_PARAMETERS = ['max_connections', 'max_prepared_transactions', 'max_locks_per_transaction', 'max_wal_senders', 'max_worker_processes'] as const;

/** PostgreSQL's defaults, and hapg's own base value of max_wal_senders. */
const PARAMETER_DEFAULTS: Record<(typeof SHARED_MEMORY_PARAMETERS)[number], number> = {
  max_connections: 100,
  max_prepared_transactions: 0,
  max_locks_per_transaction: 64,
  max_wal_senders: 10,
  max_worker_processes: 8,
};

function numericParameter(parameters: Record<string, string | number | boolean>, name: (typeof SHARED_MEMORY_PARAMETERS)[number]): number | undefined {
  const value = parameters[name] ?? PARAMETER_DEFAULTS[name];
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Standby clusters point at a real source, form no loop, and take roles from their source. */
export function checkStandbyClusters(ctx: CheckContext): void {
  const { clusters } = ctx.inventory;
  const clusterNames = Object.keys(clusters);
  const slotsBySource = new Map<string, Map<string, string>>();

  for (const [name, cluster] of Object.entries(clusters)) {
    const standby = cluster.standby;
    if (!standby) continue;
    const base = ['clusters', name];
    const src = standby.cluster;

    if (Object.keys(cluster.postgres.users).length > 0) {
      ctx.error([...base, 'postgres', 'users'], `a standby cluster has the roles of its source cluster ${src}: define users there`);
    }
    if (Object.keys(cluster.postgres.databases).length > 0) {
      ctx.error([...base, 'postgres', 'databases'], `a standby cluster has the databases of its source cluster ${src}: define databases there`);
    }
    for (const key of SOURCE_ROLE_SECRETS) {
      if (!('generate' in cluster.secrets[key])) {
        ctx.error(
          [...base, 'secrets', key],
          `a standby cluster logs in with the roles of its source, so it uses the ${key} password of cluster ${src}: remove this entry`,
        );
      }
    }

    const path = [...base, 'standby', 'cluster'];
    if (src === name) {
      ctx.error(path, 'a cluster cannot be a standby of itself');
      continue;
    }
    if (!has(clusters, src)) {
      ctx.error(path, `unknown cluster "${src}" (defined: ${listNames(clusterNames)})`);
      continue;
    }
    const loop = standbyLoop(ctx, name);
    if (loop) {
      // Reported once, at the first cluster of the loop in the inventory.
      const first = clusterNames.find((n) => loop.includes(n));
      if (first === name) {
        ctx.error(path, `standby loop ${[...loop, name].join(' → ')}: the chain must end at a cluster without standby`);
      }
      continue;
    }

    const source = clusters[src];
    if (!source) continue;
    // The stream between the clusters is verified TLS (both share the inventory's CA) or plaintext on both sides, never half of each.
    if (cluster.tls !== source.tls) {
      ctx.error([...base, 'tls'], `standby cluster ${name} has tls: ${cluster.tls} but its source cluster ${src} has tls: ${source.tls}: set the same tls on both`);
    }
    if (standby.source === 'vip' && !source.vip) {
      ctx.error([...base, 'standby', 'source'], `is vip, but cluster ${src} has no vip: add clusters.${src}.vip or use source: haproxy or members`);
    } else if (standby.source === 'haproxy' && !source.haproxy) {
      ctx.error(
        [...base, 'standby', 'source'],
        `is haproxy (the default), but cluster ${src} has no haproxy: add clusters.${src}.haproxy or set source: members`,
      );
    }
    if (!source.patroni.use_slots) {
      ctx.error(
        ['clusters', src, 'patroni', 'use_slots'],
        `must be true: standby cluster ${name} streams from a permanent slot on this cluster`,
      );
    }
    if (has(source.patroni.permanent_slots, standby.slot)) {
      ctx.error([...base, 'standby', 'slot'], `"${standby.slot}" is already a permanent slot of cluster ${src}: pick another name`);
    }
    if (source.postgres.version !== cluster.postgres.version) {
      ctx.error([...base, 'postgres', 'version'], `is ${cluster.postgres.version}, but its source cluster ${src} runs ${source.postgres.version}: a standby is a physical copy and needs the same major version`);
    }
    for (const param of SHARED_MEMORY_PARAMETERS) {
      const mine = numericParameter(cluster.postgres.parameters, param);
      const theirs = numericParameter(source.postgres.parameters, param);
      if (mine !== undefined && theirs !== undefined && mine < theirs) {
        ctx.error(
          [...base, 'postgres', 'parameters', param],
          `is ${mine}, lower than ${theirs} on its source cluster ${src}: a hot standby stops replaying WAL when this is lower than on its primary`,
        );
      }
    }
    const slots = slotsBySource.get(src) ?? new Map<string, string>();
    slotsBySource.set(src, slots);
    const sharer = slots.get(standby.slot);
    if (sharer !== undefined) {
      ctx.error([...base, 'standby', 'slot'], `"${standby.slot}" is already the slot of standby cluster ${sharer} on ${src}: each standby needs its own slot`);
    } else slots.set(standby.slot, name);
  }

  checkScopes(ctx);
}

/** The clusters of a standby loop through `start`, or undefined when its chain ends at a primary. */
function standbyLoop(ctx: CheckContext, start: string): string[] | undefined {
  const { clusters } = ctx.inventory;
  const chain = [start];
  let current = clusters[start]?.standby?.cluster;
  while (current !== undefined && has(clusters, current)) {
    if (current === start) return chain;
    if (chain.includes(current)) return undefined; // a loop further up; reported from its own members
    chain.push(current);
    current = clusters[current]?.standby?.cluster;
  }
  return undefined;
}

/** Two Patroni clusters in one etcd cluster need different scopes. */
function checkScopes(ctx: CheckContext): void {
  const owners = new Map<string, string>();
  for (const [name, cluster] of Object.entries(ctx.inventory.clusters)) {
    if (cluster.etcd === '') continue; // no etcd cluster could be picked; reported already
    const scope = patroniScope(name, cluster);
    const key = `${cluster.etcd}\0${scope}`;
    const other = owners.get(key);
    if (other !== undefined) {
      const path = cluster.standby?.etcd_scope !== undefined ? ['clusters', name, 'standby', 'etcd_scope'] : ['clusters', name];
      ctx.error(path, `scope "${scope}" is already used by cluster ${other} in etcd cluster ${cluster.etcd}: use another etcd_scope`);
    } else owners.set(key, name);
  }
}
