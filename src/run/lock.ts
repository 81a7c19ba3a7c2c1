// One operator at a time: a run that changes hosts holds a lock in every etcd cluster of the
// inventory (a lease naming the holder, renewed while it runs, gone when it ends or dies) and
// a lock file beside the local secrets file. A second run fails at once, naming the holder.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { HapgError } from '../errors.js';
import { secretsFilePath } from '../inventory/secrets.js';
import { etcdClient, type EtcdClient } from '../model/endpoints.js';
import { etcdClusterHealth } from '../tasks/etcd/health.js';
import type { Session } from './session.js';

/** The etcd key of the run lock (outside Patroni's namespace). */
export const LOCK_KEY = '/hapg/lock';
/** A dead holder's lease expires after this long: the next run proceeds by itself. */
export const LOCK_TTL_SECONDS = 15;
const RENEW_EVERY_MS = 5000;

export interface LockHolder {
  holder: string;
  command: string;
  pid: number;
  started: string;
  /** Which machine runs it (a digest of its machine-id): a dead holder on this machine is known dead at once. */
  machine?: string;
}

/** A digest of this machine's id (never the id itself); the host name where there is none. */
function thisMachine(): string {
  try {
    return createHash('sha256').update(readFileSync('/etc/machine-id', 'utf8').trim()).digest('hex').slice(0, 16);
  } catch {
    return hostname();
  }
}

/** The holder ran on this machine as this user, and its process is gone: it died (killed, crashed). */
function diedHere(held: LockHolder | undefined, me: LockHolder): boolean {
  return held !== undefined && held.holder === me.holder && held.machine === me.machine && !alive(held.pid);
}

export interface RunLockOptions {
  command: string;
  /** Take the lock even if another run holds it (after a crash, when waiting for the lease is not wanted). */
  breakLock: boolean;
}

const describe = (h: LockHolder) => `${h.holder} (pid ${h.pid}) running \`hapg ${h.command}\` since ${h.started}`;

/**
 * The locks of one run. `acquire` takes the local lock and the lock in every etcd cluster that
 * answers now; `acquireEtcd` takes one later (a cluster the run itself brings up).
 */
export class RunLock {
  readonly #session: Session;
  readonly #opts: RunLockOptions;
  readonly #me: LockHolder;
  readonly #leases = new Map<string, { client: EtcdClient; host: string; id: string; timer: NodeJS.Timeout }>();
  #localFile: string | undefined;
  /** An etcd cluster whose lease could not be kept (expired): the run stops at the next stage. */
  #lost: string | undefined;

  constructor(session: Session, opts: RunLockOptions) {
    this.#session = session;
    this.#opts = opts;
    this.#me = { holder: `${userInfo().username}@${hostname()}`, command: opts.command, pid: process.pid, started: new Date().toISOString(), machine: thisMachine() };
  }

  async acquire(): Promise<void> {
    await this.#acquireLocal();
    for (const name of Object.keys(this.#session.model.inventory.etcd)) await this.acquireEtcd(name, { ifRunning: true });
  }

  /** Takes the lock in etcd cluster `name`; with `ifRunning`, an etcd that does not answer yet is skipped. */
  async acquireEtcd(name: string, opts: { ifRunning?: boolean } = {}): Promise<void> {
    if (this.#leases.has(name)) return;
    const session = this.#session;
    const client = etcdClient(session.model, name);
    const health = await etcdClusterHealth(session.facts, client);
    const host = health.healthy.find((h) => session.remotes.has(h));
    if (!host) {
      if (opts.ifRunning) return;
      throw new HapgError('CLUSTER_UNHEALTHY', `cannot take the run lock in etcd cluster ${name}: no member answers`);
    }
    const remote = session.remotes.get(host)!;
    const call = async (req: ReturnType<EtcdClient['leaseGrant']>) => {
      const res = await remote.http(req);
      if (res.status !== 200) throw new HapgError('HTTP_FAILED', `${host}: etcd ${req.path} answered ${res.status}: ${res.body.slice(0, 200)}`, { host });
      return JSON.parse(res.body) as Record<string, unknown>;
    };
    const value = JSON.stringify(this.#me);
    for (let attempt = 0; attempt < 2; attempt++) {
      const id = String((await call(client.leaseGrant(LOCK_TTL_SECONDS)))['ID']);
      const txn = await call(client.putIfAbsent(LOCK_KEY, value, id));
      if (txn['succeeded'] === true) {
        const timer = setInterval(() => {
          call(client.leaseKeepAlive(id))
            .then((answer) => {
              // etcd answers 200 without a TTL for a lease that no longer exists.
              const ttl = Number((answer['result'] as { TTL?: string } | undefined)?.TTL ?? 0);
              if (ttl <= 0 && this.#lost === undefined) {
                this.#lost = name;
                session.sink({ kind: 'warn', message: `run lock in etcd cluster ${name}: its lease expired; the run stops after this stage` });
              }
            })
            .catch((err: unknown) => session.sink({ kind: 'warn', message: `run lock in etcd cluster ${name}: renewing failed (${err instanceof Error ? err.message : String(err)})` }));
        }, RENEW_EVERY_MS);
        timer.unref();
        this.#leases.set(name, { client, host, id, timer });
        session.sink({ kind: 'info', message: `run lock taken in etcd cluster ${name} (lease ${LOCK_TTL_SECONDS} s, renewed while hapg runs)` });
        return;
      }
      await call(client.leaseRevoke(id));
      const held = holderOf(txn);
      if (diedHere(held, this.#me)) {
        // Its lease would expire by itself within the TTL; its process is gone, so no need to wait.
        session.sink({ kind: 'info', message: `etcd cluster ${name}: the run lock's holder ${describe(held!)} died on this machine: taking the lock over` });
        await call(client.deleteKey(LOCK_KEY));
        continue;
      }
      if (!this.#opts.breakLock) {
        throw new HapgError('UNSAFE_OPERATION', `another hapg run holds etcd cluster ${name}: ${held ? describe(held) : 'an unknown holder'}`, {
          hint: `wait for it to finish; if it died, its lock expires ${LOCK_TTL_SECONDS} s after its last renewal, or re-run with --break-lock`,
        });
      }
      session.sink({ kind: 'warn', message: `--break-lock: taking etcd cluster ${name}'s run lock from ${held ? describe(held) : 'an unknown holder'}` });
      await call(client.deleteKey(LOCK_KEY));
    }
    throw new HapgError('UNSAFE_OPERATION', `could not take the run lock in etcd cluster ${name}`);
  }

  /** After the stage that brings up an etcd cluster, its lock is taken too (a first deploy has no etcd before). */
  readonly afterStage = async (stageId: string): Promise<void> => {
    if (this.#lost !== undefined) {
      throw new HapgError('UNSAFE_OPERATION', `the run lock in etcd cluster ${this.#lost} was lost (its lease expired before hapg could renew it): stopping so that no other run interleaves`, {
        hint: 'check etcd (hapg status), then re-run: it continues from where this run stopped',
      });
    }
    if (stageId.startsWith('etcd:')) await this.acquireEtcd(stageId.slice('etcd:'.length));
  };

  /** Releases every lock (the leases are revoked, their keys deleted). */
  async release(): Promise<void> {
    for (const [, lease] of this.#leases) {
      clearInterval(lease.timer);
      await this.#session.remotes.get(lease.host)?.http(lease.client.leaseRevoke(lease.id)).catch(() => undefined);
    }
    this.#leases.clear();
    if (this.#localFile) await unlink(this.#localFile).catch(() => undefined);
    this.#localFile = undefined;
  }

  /** A lock file beside the secrets file: two runs from one checkout never interleave, etcd or not. */
  async #acquireLocal(): Promise<void> {
    const file = `${secretsFilePath(this.#session.loaded)}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(file, 'wx', 0o600);
        await handle.writeFile(JSON.stringify(this.#me));
        await handle.close();
        this.#localFile = file;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          await mkdir(dirname(file), { recursive: true, mode: 0o700 });
          continue;
        }
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = await readFile(file, 'utf8').then((t) => JSON.parse(t) as LockHolder).catch(() => undefined);
      if (!diedHere(held, this.#me) && !this.#opts.breakLock) {
        throw new HapgError('UNSAFE_OPERATION', `another hapg run holds ${file}: ${held ? describe(held) : 'an unreadable lock'}`, {
          hint: 'wait for it to finish, or re-run with --break-lock if it died',
        });
      }
      await unlink(file).catch(() => undefined);
    }
    throw new HapgError('UNSAFE_OPERATION', `could not take the local lock ${file}`);
  }
}

function holderOf(txn: Record<string, unknown>): LockHolder | undefined {
  const responses = (txn['responses'] ?? []) as { response_range?: { kvs?: { value?: string }[] } }[];
  const value = responses[0]?.response_range?.kvs?.[0]?.value;
  if (!value) return undefined;
  try {
    return JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding the run lock; releases it however `fn` ends. */
export async function withRunLock<T>(session: Session, opts: RunLockOptions, fn: (lock: RunLock) => Promise<T>): Promise<T> {
  const lock = new RunLock(session, opts);
  try {
    await lock.acquire();
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
