import type { CommandFact } from '../../facts/fact.js';
import { LocalPostgres } from '../../model/endpoints.js';

export interface WalReceiver {
  status: string;
  senderHost: string;
  slot: string;
  /** Seconds since the last message from the sender (undefined when PostgreSQL does not say). */
  silentSeconds?: number | undefined;
  /**
   * Seconds of silence after which the receiver asks the sender for a reply (half of
   * wal_receiver_timeout): a healthy link carries a message at least that often. Undefined
   * when wal_receiver_timeout is 0 (no pings, so silence proves nothing).
   */
  pingAfterSeconds?: number | undefined;
}

const seconds = (text: string | undefined): number | undefined => (text ? Number(text) : undefined);

/** The WAL receiver of a server in recovery (undefined: not connected, or PostgreSQL not answering). */
export function walReceiver(port: number): CommandFact<WalReceiver | undefined> {
  const sql = [
    "select status, coalesce(sender_host, ''), coalesce(slot_name, ''),",
    "coalesce(round(extract(epoch from now() - last_msg_receipt_time)::numeric, 1)::text, ''),",
    "(select case when setting::int > 0 then (setting::int / 2000.0)::text else '' end from pg_settings where name = 'wal_receiver_timeout')",
    'from pg_stat_wal_receiver',
  ].join(' ');
  return new LocalPostgres(port).query('wal-receiver', sql, (rows) => {
    const [row] = rows;
    return row ? { status: row[0] ?? '', senderHost: row[1] ?? '', slot: row[2] ?? '', silentSeconds: seconds(row[3]), pingAfterSeconds: seconds(row[4]) } : undefined;
  });
}

/** Slack on top of the receiver's ping interval before a silent link counts as cut (round trip, a busy host). */
export const SILENT_LINK_SLACK_S = 5;

/**
 * Whether a streaming receiver has been silent longer than a live link allows: the TCP
 * connection of a cut link stays "streaming" until wal_receiver_timeout ends it.
 */
export function silentLink(receiver: WalReceiver): boolean {
  const { silentSeconds, pingAfterSeconds } = receiver;
  return silentSeconds !== undefined && pingAfterSeconds !== undefined && silentSeconds > pingAfterSeconds + SILENT_LINK_SLACK_S;
}

/** The host a server in recovery is configured to stream from (primary_conninfo's host; undefined when none). */
export function configuredUpstream(port: number): CommandFact<string | undefined> {
  // Only the host leaves the server: the conninfo may name a password.
  const sql = "select coalesce(substring(current_setting('primary_conninfo') from 'host=''?([^'' ]+)'), '')";
  return new LocalPostgres(port).query('primary-conninfo-host', sql, (rows) => rows[0]?.[0] || undefined);
}

export interface SlotState {
  active: boolean;
  /** WAL the slot holds back on the primary, in bytes. */
  retainedBytes: number;
  /** Bytes between the primary's current position and what the slot's standby has replayed (null when unknown). */
  lagBytes: number | null;
  /** The walsender's replay lag in seconds (0 when caught up and idle). */
  lagSeconds: number | null;
}

/** A replication slot on the primary, with the lag of the standby streaming from it (undefined: no such slot). */
export function slotState(port: number, slot: string): CommandFact<SlotState | undefined> {
  const name = slot.replace(/'/g, "''");
  const sql = [
    'select s.active, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn), 0)::bigint,',
    "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint::text, ''),",
    "coalesce(extract(epoch from r.replay_lag)::numeric(12,3)::text, case when r.pid is null then '' else '0' end)",
    `from pg_replication_slots s left join pg_stat_replication r on r.pid = s.active_pid where s.slot_name = '${name}'`,
  ].join(' ');
  return new LocalPostgres(port).query(`slot:${slot}`, sql, (rows) => {
    const [row] = rows;
    if (!row) return undefined;
    return { active: row[0] === 't', retainedBytes: Number(row[1] ?? 0), lagBytes: row[2] ? Number(row[2]) : null, lagSeconds: row[3] ? Number(row[3]) : null };
  });
}

/** How far a server in recovery has replayed WAL (an LSN such as 0/3000060; undefined when unknown). */
export function replayPosition(port: number): CommandFact<string | undefined> {
  return new LocalPostgres(port).query('replay-lsn', 'select pg_last_wal_replay_lsn()', (rows) => rows[0]?.[0] || undefined);
}

/** The server's system identifier (pg_control), as PostgreSQL reports it. */
export function systemIdentifier(port: number): CommandFact<string | undefined> {
  return new LocalPostgres(port).query('sysid', 'select system_identifier from pg_control_system()', (rows) => rows[0]?.[0]);
}

/** Physical slots no client uses right now, with the WAL each holds back (on the primary). */
export function inactivePhysicalSlots(port: number): CommandFact<{ name: string; retainedBytes: number }[] | undefined> {
  const sql = "select slot_name, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint from pg_replication_slots where slot_type = 'physical' and not active order by slot_name";
  return new LocalPostgres(port).query('inactive-slots', sql, (rows) => rows.map((r) => ({ name: r[0] ?? '', retainedBytes: Number(r[1] ?? 0) })));
}
