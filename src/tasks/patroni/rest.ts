// Parsers of Patroni's REST API answers; the requests are built by the PatroniApi endpoint.
/** A member's role, named as hapg speaks of it (Patroni 3.0.2 says "master" for the leader). */
export type MemberRole = 'leader' | 'replica' | 'standby_leader' | 'uninitialized' | 'unknown';

export interface ReplicationEntry {
  applicationName: string;
  clientAddr: string;
  state: string;
  syncState: string;
}

/** What `GET /patroni` says about the member on this host. */
export interface PatroniState {
  role: MemberRole;
  /** running, starting, stopped, crashed, creating replica, … */
  state: string;
  timeline: number | undefined;
  /** The cluster is paused (Patroni changes no role and leaves PostgreSQL running when it stops). */
  paused: boolean;
  pendingRestart: boolean;
  systemId: string | undefined;
  /** Current WAL position (leader) or received/replayed positions (replica), in bytes. */
  walPosition: number | undefined;
  replayedPosition: number | undefined;
  /** Streaming standbys connected to this member (the leader lists its replicas). */
  replication: ReplicationEntry[];
  version: string | undefined;
  scope: string | undefined;
  /** PostgreSQL's version as "17.6" (undefined while PostgreSQL is not running). */
  serverVersion: string | undefined;
}

export function normalizeRole(role: string | undefined): MemberRole {
  switch (role) {
    case 'master':
    case 'primary':
    case 'leader':
      return 'leader';
    case 'replica':
    case 'sync_standby':
      return 'replica';
    case 'standby_leader':
    case 'standby-leader':
      return 'standby_leader';
    case 'uninitialized':
      return 'uninitialized';
    default:
      return 'unknown';
  }
}

interface RawPatroni {
  state?: string;
  role?: string;
  timeline?: number | null;
  pending_restart?: boolean;
  pause?: boolean;
  database_system_identifier?: string;
  xlog?: { location?: number; received_location?: number; replayed_location?: number };
  replication?: { application_name?: string; client_addr?: string; state?: string; sync_state?: string }[];
  patroni?: { version?: string; scope?: string };
  server_version?: number;
}

/** 170006 → "17.6" (PostgreSQL 10 and later). */
export function serverVersionText(num: number | undefined): string | undefined {
  if (!num) return undefined;
  return `${Math.floor(num / 10000)}.${num % 10000}`;
}

/** Parses a `GET /patroni` body (any HTTP status: 503 still carries the member's state). */
export function parsePatroniState(body: string): PatroniState {
  const raw = JSON.parse(body) as RawPatroni;
  return {
    role: normalizeRole(raw.role),
    state: raw.state ?? 'unknown',
    timeline: raw.timeline ?? undefined,
    pendingRestart: raw.pending_restart === true,
    paused: raw.pause === true,
    systemId: raw.database_system_identifier,
    walPosition: raw.xlog?.location ?? raw.xlog?.received_location,
    replayedPosition: raw.xlog?.replayed_location,
    replication: (raw.replication ?? []).map((r) => ({
      applicationName: r.application_name ?? '',
      clientAddr: r.client_addr ?? '',
      state: r.state ?? '',
      syncState: r.sync_state ?? '',
    })),
    version: raw.patroni?.version,
    scope: raw.patroni?.scope,
    serverVersion: serverVersionText(raw.server_version),
  };
}

export interface ClusterMember {
  name: string;
  role: MemberRole;
  state: string;
  host: string;
  timeline: number | undefined;
  /** Replication lag in bytes as Patroni reports it (undefined for the leader or unknown). */
  lag: number | undefined;
  pendingRestart: boolean;
  /** Named in Patroni's /sync key (what a switchover candidate must be under synchronous_mode). */
  syncStandby: boolean;
}

export interface ClusterView {
  members: ClusterMember[];
  paused: boolean;
}

/** Parses a `GET /cluster` body. */
export function parseClusterView(body: string): ClusterView {
  const raw = JSON.parse(body) as {
    members?: { name?: string; role?: string; state?: string; host?: string; timeline?: number | null; lag?: number | string; pending_restart?: boolean }[];
    pause?: boolean;
  };
  return {
    paused: raw.pause === true,
    members: (raw.members ?? []).map((m) => ({
      name: m.name ?? '',
      role: normalizeRole(m.role),
      state: m.state ?? 'unknown',
      host: m.host ?? '',
      timeline: m.timeline ?? undefined,
      lag: typeof m.lag === 'number' ? m.lag : undefined,
      pendingRestart: m.pending_restart === true,
      syncStandby: m.role === 'sync_standby',
    })),
  };
}
