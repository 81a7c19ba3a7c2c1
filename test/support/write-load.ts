// A write-load client for e2e tests and benchmarks: one connection writes numbered rows
// through an endpoint (usually HAProxy's read-write port), reconnects on any error, and
// records exactly which ids the server acknowledged, so a test can prove none was lost.
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';

export interface PgTarget { host: string; port: number; user: string; password: string; database: string }

export interface WriteLoadOptions {
  /** Created if missing: (id bigint primary key, payload text with STORAGE EXTERNAL, at timestamptz default now()). */
  table: string;
  /** Every Nth row carries a large payload (default 0 = never). */
  largeEvery?: number;
  /** Size of that payload in bytes: random, incompressible text (default 8192), so it is TOASTed out of line. */
  largeBytes?: number;
  /** Pause between writes (default 10). */
  intervalMs?: number;
}

export interface WriteLoadReport { acked: number[]; failedAttempts: number; longestGapMs: number; durationMs: number; lastError?: string }

export interface WriteLoad { stop(): Promise<WriteLoadReport>; ackedCount(): number }

const CONNECT_TIMEOUT_MS = 2000;
/** A statement that hangs longer than this (a server frozen mid-switchover) counts as failed. */
const QUERY_TIMEOUT_MS = 5000;
const RECONNECT_PAUSE_MS = 100;
const UNIQUE_VIOLATION = '23505';

/** Tracks the longest pause between successful commits, counting from the start. */
export class GapTracker {
  private last: number;
  private longest = 0;
  constructor(start: number) {
    this.last = start;
  }
  commit(at: number): void {
    this.longest = Math.max(this.longest, at - this.last);
    this.last = at;
  }
  get longestMs(): number {
    return this.longest;
  }
}

/** The payload of row `id`: a short marker, or every `largeEvery`th row `largeBytes` of random base64 (pglz cannot shrink it). */
export function payloadFor(id: number, largeEvery: number, largeBytes: number): string {
  if (largeEvery > 0 && id % largeEvery === 0) {
    return randomBytes(Math.ceil((largeBytes * 3) / 4) + 3).toString('base64').slice(0, largeBytes);
  }
  return `row ${id}`;
}

/** A table name safe to splice into SQL (quoted identifier, optionally schema-qualified). */
export function quoteTable(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) throw new Error(`write-load: bad table name ${JSON.stringify(table)}`);
  return parts.map((p) => `"${p}"`).join('.');
}

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

function newClient(target: PgTarget): pg.Client {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    application_name: 'hapg-write-load',
  });
  // A dropped connection surfaces on the next query; an unhandled 'error' event would crash the process.
  client.on('error', () => {});
  return client;
}

async function connected(target: PgTarget): Promise<pg.Client> {
  const client = newClient(target);
  try {
    await client.connect();
    return client;
  } catch (e) {
    await client.end().catch(() => {});
    throw e;
  }
}

/** Runs fn with a short-lived connection (for reads that must work on a read-only hot standby too). */
async function withClient<T>(target: PgTarget, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connected(target);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts writing rows max(id)+1, +2, … (1, 2, 3 … on a new table) one autocommit insert at a
 * time; an id counts as acknowledged only once the server confirmed its commit. On any error
 * the client reconnects and retries the same id; a retry that hits the primary key with the
 * same payload (the first attempt had committed before the connection dropped) is acknowledged.
 */
export async function startWriteLoad(target: PgTarget, opts: WriteLoadOptions): Promise<WriteLoad> {
  const table = quoteTable(opts.table);
  const largeEvery = opts.largeEvery ?? 0;
  const largeBytes = opts.largeBytes ?? 8192;
  const intervalMs = opts.intervalMs ?? 10;

  let client: pg.Client | undefined = await connected(target);
  await client.query(`create table if not exists ${table} (id bigint primary key, payload text, at timestamptz not null default now())`);
  await client.query(`alter table ${table} alter column payload set storage external`);
  const max = await client.query<{ max: string | null }>(`select max(id)::text as max from ${table}`);
  let nextId = Number(max.rows[0]?.max ?? 0) + 1;

  const acked: number[] = [];
  let failedAttempts = 0;
  let lastError: string | undefined;
  let stopping = false;
  const started = performance.now();
  const gaps = new GapTracker(started);

  const loop = (async () => {
    let payload = payloadFor(nextId, largeEvery, largeBytes);
    while (!stopping) {
      try {
        if (!client) client = await connected(target);
        try {
          await client.query(`insert into ${table} (id, payload) values ($1, $2)`, [nextId, payload]);
        } catch (e) {
          if ((e as { code?: string }).code !== UNIQUE_VIOLATION) throw e;
          const existing = await client.query<{ h: string }>(`select md5(payload) as h from ${table} where id = $1`, [nextId]);
          if (existing.rows[0]?.h !== md5(payload)) {
            // Somebody else's row: this id is not ours to acknowledge; move on.
            failedAttempts++;
            lastError = `id ${nextId} already present with another payload`;
            nextId++;
            payload = payloadFor(nextId, largeEvery, largeBytes);
            continue;
          }
        }
        acked.push(nextId);
        gaps.commit(performance.now());
        nextId++;
        payload = payloadFor(nextId, largeEvery, largeBytes);
        if (intervalMs > 0) await sleep(intervalMs);
      } catch (e) {
        failedAttempts++;
        lastError = messageOf(e);
        const broken = client;
        client = undefined;
        await broken?.end().catch(() => {});
        if (!stopping) await sleep(RECONNECT_PAUSE_MS);
      }
    }
  })();

  return {
    ackedCount: () => acked.length,
    async stop(): Promise<WriteLoadReport> {
      stopping = true;
      await loop;
      await client?.end().catch(() => {});
      client = undefined;
      return {
        acked: [...acked],
        failedAttempts,
        longestGapMs: Math.round(gaps.longestMs),
        durationMs: Math.round(performance.now() - started),
        ...(lastError !== undefined ? { lastError } : {}),
      };
    },
  };
}

/** The acknowledged ids missing from `table` on this server (read-only: works on a hot standby). */
export async function missingRows(target: PgTarget, table: string, acked: readonly number[]): Promise<number[]> {
  const quoted = quoteTable(table);
  return withClient(target, async (c) => {
    const r = await c.query<{ id: string }>(
      `select a.id::text as id from unnest($1::bigint[]) as a(id) where not exists (select 1 from ${quoted} t where t.id = a.id) order by a.id`,
      [acked.map(String)],
    );
    return r.rows.map((row) => Number(row.id));
  });
}

/** Row count and an md5 over every id and md5(payload) in id order: equal on servers holding the same rows (reads, and so detoasts, every payload). */
export async function tableDigest(target: PgTarget, table: string): Promise<{ rows: number; digest: string }> {
  const quoted = quoteTable(table);
  return withClient(target, async (c) => {
    const r = await c.query<{ rows: string; digest: string | null }>(
      `select count(*)::text as rows, md5(coalesce(string_agg(id::text || ':' || coalesce(md5(payload), '-'), ',' order by id), '')) as digest from ${quoted}`,
    );
    const row = r.rows[0]!;
    return { rows: Number(row.rows), digest: row.digest ?? '' };
  });
}
