import { osRelease } from '../../facts/system.js';
import { gatherBackupStatus, type BackupStatus } from '../pgbackrest/status.js';
import { etcdClient, patroniApi } from '../../model/endpoints.js';
import type { Session } from '../../run/session.js';
import { etcdClusterHealth, quorumOf } from '../etcd/health.js';
import { haproxyServers, type BackendServer } from '../haproxy/stats.js';
import { vipHolders } from '../keepalived/vip.js';
import { memberStates } from '../patroni/facts.js';
import { permanentSlots } from '../patroni/model.js';
import type { ClusterMember } from '../patroni/rest.js';
import { certificateProblems, gatherCertificateExpiry, type CertificateExpiry } from '../tls/expiry.js';
import { inactivePhysicalSlots, silentLink, slotState, walReceiver, type SlotState, type WalReceiver } from '../standby/facts.js';
import { receivedLag, runningLeader } from '../patroni/member-health.js';
import { clusterProblems } from './verdict.js';

export interface EtcdStatus {
  name: string;
  members: { host: string; healthy: boolean; detail: string }[];
  problems: string[];
}

/** A standby cluster's link to its source: who streams, how far behind, and the slot on the source. */
export interface StandbyLink {
  source: string;
  standbyLeader: string | undefined;
  /** The standby leader's WAL receiver: streaming, and from which address. */
  receiver: WalReceiver | undefined;
  sourceLeader: string | undefined;
  /** The slot on the source's leader, with the lag of the standby leader in bytes and seconds. */
  slot: (SlotState & { name: string }) | undefined;
}

/** A member as Patroni lists it, with what its host runs. */
export interface MemberStatus extends ClusterMember {
  /** "Debian 13" (undefined when the host did not answer). */
  release: string | undefined;
  postgresVersion: string | undefined;
  patroniVersion: string | undefined;
}

export interface ClusterStatus {
  name: string;
  members: MemberStatus[];
  standby?: StandbyLink;
  /** Worth a look, not a fault: e.g. a slot no cluster of the inventory uses, holding back WAL. */
  notes: string[];
  haproxy: { host: string; servers: BackendServer[] | undefined }[];
  vipHolders: string[];
  /** Clusters with a backup section: backups and the WAL archiver. */
  backup?: BackupStatus;
  problems: string[];
}

export interface StatusReport {
  etcd: EtcdStatus[];
  clusters: ClusterStatus[];
  /** Every certificate hapg keeps on the hosts, with the days it has left. */
  certificates: CertificateExpiry[];
  /** Certificates missing, expired or inside the renewal window. */
  certificateProblems: string[];
  /** Hosts that could not be reached over SSH, with why. */
  unreachable: { host: string; reason: string }[];
  healthy: boolean;
}

/** Reads etcd, Patroni, HAProxy and the VIP from every host and judges each cluster. */
export async function gatherStatus(session: Session): Promise<StatusReport> {
  const { model } = session;
  const { inventory } = model;
  const etcd = await Promise.all(
    Object.keys(inventory.etcd).map(async (name): Promise<EtcdStatus> => {
      const client = etcdClient(model, name);
      const h = await etcdClusterHealth(session.facts, client);
      const members = client.hosts.map((host) => {
        const bad = h.unhealthy.find((u) => u.host === host);
        return { host, healthy: !bad, detail: bad ? bad.detail : 'healthy' };
      });
      const problems = members.filter((m) => !m.healthy).map((m) => `etcd member ${m.host}: ${m.detail}`);
      if (h.healthy.length < quorumOf(client.hosts.length)) problems.unshift('no quorum');
      return { name, members, problems };
    }),
  );
  const clusters = await Promise.all(
    Object.entries(inventory.clusters).map(async ([name, cluster]): Promise<ClusterStatus> => {
      const cm = model.cluster(name);
      const api = patroniApi(model, name);
      const states = await memberStates(session.facts, model, name);
      let view: ClusterMember[] | undefined;
      for (const host of cluster.hosts) {
        if (!states.get(host)) continue;
        const v = await session.facts.get(host, api.clusterView(host));
        if (v) {
          view = v.members;
          break;
        }
      }
      const releases = new Map(await Promise.all(cluster.hosts.map(async (h) => [h, await hostRelease(session, h)] as const)));
      const leaderName = [...states].find(([, st]) => st?.role === cm.leaderRole)?.[0];
      const leaderState = leaderName ? states.get(leaderName) : undefined;
      const members = view?.map((m): MemberStatus => {
        const st = states.get(m.name);
        // Lag and timeline are read live from each member's GET /patroni: GET /cluster gives what
        // each member last wrote to the DCS, up to loop_wait old (a replica started a moment ago
        // still shows its old timeline there). Patroni's figures stay where a member does not answer.
        const live = leaderName && m.name !== leaderName ? receivedLag(states, leaderName, m.name) : undefined;
        return { ...m, lag: live ?? m.lag, timeline: st?.timeline ?? m.timeline, pendingRestart: m.pendingRestart || st?.pendingRestart === true, release: releases.get(m.name), postgresVersion: st?.serverVersion, patroniVersion: st?.version };
      });
      const streaming = leaderState && new Set(leaderState.replication.filter((r) => r.state === 'streaming').map((r) => r.applicationName));
      const problems = clusterProblems(cluster, members, streaming);
      const standby = cluster.standby ? await standbyLink(session, name, runningLeader(states, 'standby_leader') ?? [...states].find(([, st]) => st?.role === 'standby_leader')?.[0]) : undefined;
      if (standby) problems.push(...standbyProblems(standby));
      const leaderHost = runningLeader(states, 'leader');
      const notes = leaderHost ? await straySlotNotes(session, name, leaderHost) : [];
      const mixed = mixedReleaseNote(releases);
      if (mixed) notes.push(mixed);
      const haproxy = await Promise.all(
        model.hostsOf('haproxy', name).map(async (host) => {
          const all = await session.facts.get(host, haproxyServers(model, name, host)).catch(() => undefined);
          return { host, servers: all?.filter((s) => s.proxy.startsWith(`${name}_`)) };
        }),
      );
      for (const h of haproxy) if (!h.servers) problems.push(`HAProxy on ${h.host} is not answering`);
      const holders = await vipHolders(session.facts, model, name);
      if (cluster.vip && holders.length !== 1) problems.push(holders.length === 0 ? 'no host holds the VIP' : `VIP held by ${holders.join(', ')}`);
      if (cluster.vip && !cluster.haproxy && holders.length === 1 && leaderHost && holders[0] !== leaderHost) problems.push(`the VIP is on ${holders[0]}, not on the leader ${leaderHost}`);
      const backup = await gatherBackupStatus(session, name, leaderHost);
      if (backup) problems.push(...backup.problems);
      return { name, members: members ?? [], ...(standby ? { standby } : {}), haproxy, vipHolders: holders, ...(backup ? { backup } : {}), problems, notes };
    }),
  );
  const certificates = await gatherCertificateExpiry(session);
  const certProblems = certificateProblems(certificates, inventory.tls.renew_days);
  const unreachable = [...session.unreachable].map(([host, reason]) => ({ host, reason }));
  const healthy = unreachable.length === 0 && certProblems.length === 0 && etcd.every((e) => e.problems.length === 0) && clusters.every((c) => c.problems.length === 0);
  return { etcd, clusters, certificates, certificateProblems: certProblems, unreachable, healthy };
}

/** "Debian 13" for a host that answers. */
async function hostRelease(session: Session, host: string): Promise<string | undefined> {
  if (!session.remotes.has(host)) return undefined;
  const os = await session.facts.get(host, osRelease).catch(() => undefined);
  if (!os) return undefined;
  return os.id === 'debian' ? `Debian ${os.versionId}` : os.prettyName;
}

/** Members on different releases (a rolling OS upgrade) are fine while they run one PostgreSQL major; worth a line. */
export function mixedReleaseNote(releases: ReadonlyMap<string, string | undefined>): string | undefined {
  const byRelease = new Map<string, string[]>();
  for (const [host, release] of releases) if (release) byRelease.set(release, [...(byRelease.get(release) ?? []), host]);
  if (byRelease.size < 2) return undefined;
  return `members run different releases: ${[...byRelease].map(([r, hosts]) => `${r} (${hosts.join(', ')})`).join(', ')}`;
}

async function standbyLink(session: Session, name: string, standbyLeader: string | undefined): Promise<StandbyLink> {
  const { model } = session;
  const cluster = model.inventory.clusters[name]!;
  const sourceName = cluster.standby!.cluster;
  const source = model.inventory.clusters[sourceName]!;
  const sourceLeader = runningLeader(await memberStates(session.facts, model, sourceName), 'leader');
  const receiver = standbyLeader ? await session.facts.get(standbyLeader, walReceiver(cluster.postgres.port)).catch(() => undefined) : undefined;
  const slot = sourceLeader ? await session.facts.get(sourceLeader, slotState(source.postgres.port, cluster.standby!.slot)).catch(() => undefined) : undefined;
  return { source: sourceName, standbyLeader, receiver, sourceLeader, slot: slot && { ...slot, name: cluster.standby!.slot } };
}

/** What is wrong with a standby link; the standby leader itself is judged with the members. */
export function standbyProblems(link: StandbyLink): string[] {
  const problems: string[] = [];
  if (!link.sourceLeader) problems.push(`source cluster ${link.source} has no running leader`);
  if (link.standbyLeader && link.receiver?.status !== 'streaming') problems.push(`standby leader ${link.standbyLeader} is not streaming from ${link.source} (WAL receiver ${link.receiver?.status ?? 'not running'})`);
  else if (link.standbyLeader && link.receiver && silentLink(link.receiver)) {
    problems.push(`standby leader ${link.standbyLeader} has heard nothing from ${link.source} for ${link.receiver.silentSeconds} s (a live link carries a message every ${link.receiver.pingAfterSeconds} s): the link looks cut`);
  }
  if (link.sourceLeader && !link.slot) problems.push(`slot missing on ${link.source}'s leader ${link.sourceLeader}`);
  else if (link.slot && !link.slot.active) problems.push(`slot ${link.slot.name} on ${link.sourceLeader} is inactive (it retains ${link.slot.retainedBytes} bytes of WAL)`);
  return problems;
}

/**
 * Inactive physical slots on a primary that neither the inventory (permanent slots, standby
 * clusters) nor Patroni's members account for: a standby cluster removed from the inventory
 * leaves its slot behind, and it holds back WAL until someone removes it.
 */
async function straySlotNotes(session: Session, name: string, leader: string): Promise<string[]> {
  const { model } = session;
  const cluster = model.inventory.clusters[name]!;
  const slots = await session.facts.get(leader, inactivePhysicalSlots(cluster.postgres.port)).catch(() => undefined);
  if (!slots) return [];
  const known = new Set([...Object.keys(permanentSlots(model.inventory, name)), ...cluster.hosts.map((h) => h.toLowerCase().replace(/[^a-z0-9_]/g, '_'))]);
  return strayslotMessages(slots.filter((s) => !known.has(s.name)), leader);
}

export function strayslotMessages(slots: readonly { name: string; retainedBytes: number }[], leader: string): string[] {
  return slots.map(
    (s) => `slot ${s.name} on ${leader} is inactive and not in the inventory; it holds back ${s.retainedBytes} bytes of WAL (if no standby uses it any more: patronictl edit-config, remove it from slots)`,
  );
}
