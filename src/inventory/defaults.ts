import { isIP } from 'node:net';
import { basename, extname } from 'node:path';
import type { Finding } from './issues.js';
import { listNames } from './issues.js';
import type { RawInventory } from './schema.js';

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type RawCluster = RawInventory['clusters'][string];
type RawEtcd = RawInventory['etcd'][string];
type RawHaproxy = NonNullable<RawCluster['haproxy']>;
type RawVip = NonNullable<RawCluster['vip']>;
type RawStandby = NonNullable<RawCluster['standby']>;

export type CompleteEtcd = Simplify<RawEtcd & { data_dir: string }>;

export type CompleteCluster = Simplify<
  Omit<RawCluster, 'etcd' | 'leader' | 'postgres' | 'haproxy' | 'vip' | 'standby'> & {
    etcd: string;
    leader: string;
    postgres: Simplify<RawCluster['postgres'] & { data_dir: string }>;
    haproxy?: Simplify<RawHaproxy & { hosts: string[] }> | undefined;
    vip?: Simplify<RawVip & { prefix: number }> | undefined;
    standby?: Simplify<RawStandby & { slot: string }> | undefined;
  }
>;

export type CompleteInventory = Simplify<
  Omit<RawInventory, 'etcd' | 'clusters'> & {
    etcd: Record<string, CompleteEtcd>;
    clusters: Record<string, CompleteCluster>;
  }
>;

/** Fills the defaults that depend on other fields; an etcd cluster it cannot pick is a finding. */
export function completeInventory(raw: RawInventory): { inventory: CompleteInventory; findings: Finding[] } {
  const findings: Finding[] = [];
  const etcd: Record<string, CompleteEtcd> = {};
  for (const [name, e] of Object.entries(raw.etcd)) {
    etcd[name] = { ...e, data_dir: e.data_dir ?? `/var/lib/etcd/${name}` };
  }
  const clusters: Record<string, CompleteCluster> = {};
  for (const [name, c0] of Object.entries(raw.clusters)) {
    const c = { ...c0, postgres: { ...c0.postgres, parameters: inheritedParameters(raw, name) } };
    const picked = c.etcd === undefined ? pickEtcdCluster(raw, c) : { name: c.etcd };
    if ('problem' in picked) findings.push({ path: ['clusters', name, 'etcd'], message: picked.problem });
    const { haproxy, vip, standby } = c;
    clusters[name] = {
      ...c,
      etcd: 'name' in picked ? picked.name : '',
      leader: c.leader ?? c.hosts[0] ?? '',
      postgres: { ...c.postgres, data_dir: c.postgres.data_dir ?? `/var/lib/postgresql/${c.postgres.version}/${name}` },
      haproxy: haproxy && { ...haproxy, hosts: haproxy.hosts ?? [...c.hosts] },
      vip: vip && { ...vip, prefix: vip.prefix ?? (isIP(vip.address) === 6 ? 128 : 32) },
      standby: standby && { ...standby, slot: standby.slot ?? defaultStandbySlot(name) },
    };
  }
  return { inventory: { ...raw, etcd, clusters }, findings };
}

/**
 * A standby cluster is a physical copy of its source: it starts from the source's PostgreSQL
 * parameters (along its chain of sources), and its own override them.
 */
function inheritedParameters(raw: RawInventory, name: string, seen = new Set<string>()): RawCluster['postgres']['parameters'] {
  const cluster = raw.clusters[name];
  if (!cluster) return {};
  const source = cluster.standby?.cluster;
  if (!source || seen.has(name)) return cluster.postgres.parameters;
  seen.add(name);
  return { ...inheritedParameters(raw, source, seen), ...cluster.postgres.parameters };
}

/** Name of the physical slot a standby cluster streams from on its source cluster. */
export function defaultStandbySlot(standbyCluster: string): string {
  return `standby_${standbyCluster.replace(/-/g, '_')}`;
}

/** The Patroni scope (the cluster's name in etcd). */
export function patroniScope(name: string, cluster: { standby?: { etcd_scope?: string | undefined } | undefined }): string {
  return cluster.standby?.etcd_scope ?? name;
}

/** `.hapg/<inventory basename>.secrets.yml`, relative to the inventory's directory. */
export function defaultSecretsFile(inventoryPath: string): string {
  const base = basename(inventoryPath, extname(inventoryPath));
  return `.hapg/${base}.secrets.yml`;
}

/** The etcd cluster of a cluster that names none: the only one, or the one in its datacenter. */
function pickEtcdCluster(raw: RawInventory, cluster: RawCluster): { name: string } | { problem: string } {
  const names = Object.keys(raw.etcd);
  if (names.length === 1) return { name: names[0] as string };
  const datacenterOf = (host: string) => raw.hosts[host]?.datacenter;
  const clusterDcs = unique(cluster.hosts.map(datacenterOf).filter((dc): dc is string => dc !== undefined));
  const advice = `set etcd to ${listNames(names, { conjunction: 'or' })}`;
  if (clusterDcs.length !== 1) {
    return { problem: `missing, and the hosts span datacenters ${listNames(clusterDcs)}, so hapg cannot pick an etcd cluster: ${advice}` };
  }
  const dc = clusterDcs[0] as string;
  const candidates = names.filter((name) => {
    const hosts = raw.etcd[name]?.hosts ?? [];
    return hosts.length > 0 && hosts.every((h) => datacenterOf(h) === dc);
  });
  if (candidates.length === 1) return { name: candidates[0] as string };
  if (candidates.length === 0) return { problem: `missing, and no etcd cluster has its hosts in datacenter ${dc}: ${advice}` };
  const all = candidates.length === 2 ? 'both' : 'all';
  return { problem: `missing, and etcd clusters ${listNames(candidates)} are ${all} in datacenter ${dc}: ${advice}` };
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
