import { HapgError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { ExecResult, HttpRequest, HttpResponse, Remote } from '../ssh/types.js';

/**
 * A fact is a read-only question to a host and a parser for the answer: a command, or an
 * HTTP request to a port on the host's loopback (Patroni's REST API, etcd) that travels
 * inside the SSH connection. Facts are gathered once per host per run and cached; a step
 * that changes a host invalidates that host's facts.
 */
export type Fact<T> = CommandFact<T> | HttpFact<T>;

export interface CommandFact<T> {
  /** Unique per distinct question (parametrised facts include their parameter). */
  id: string;
  argv: string[];
  sudo?: boolean;
  /** Fed to the command (a password for a client connection travels here, never in argv). */
  stdin?: string;
  secrets?: Secret[];
  /** Called with the result even on a non-zero exit, so a fact can describe "absent". */
  parse(result: ExecResult): T;
}

export interface HttpFact<T> {
  id: string;
  http: HttpRequest;
  /** Called for any status; a connection failure is passed as `undefined` ("not answering"). */
  parse(response: HttpResponse | undefined): T;
}

/** Caches fact results per host for one run. */
export class FactCache {
  readonly #remotes: ReadonlyMap<string, Remote>;
  readonly #cache = new Map<string, Map<string, Promise<unknown>>>();

  constructor(remotes: ReadonlyMap<string, Remote>) {
    this.#remotes = remotes;
  }

  get<T>(host: string, fact: Fact<T>): Promise<T> {
    let perHost = this.#cache.get(host);
    if (!perHost) {
      perHost = new Map();
      this.#cache.set(host, perHost);
    }
    const cached = perHost.get(fact.id);
    if (cached) return cached as Promise<T>;
    const pending = this.ask(host, fact);
    // A failed gather is not cached: the next caller retries.
    pending.catch(() => perHost.delete(fact.id));
    perHost.set(fact.id, pending);
    return pending;
  }

  /** Asks again, bypassing and refreshing the cache (used by waits that poll). */
  fresh<T>(host: string, fact: Fact<T>): Promise<T> {
    this.#cache.get(host)?.delete(fact.id);
    return this.get(host, fact);
  }

  /** Gathers one fact on many hosts in parallel. */
  async gather<T>(hosts: readonly string[], fact: Fact<T> | ((host: string) => Fact<T>)): Promise<Map<string, T>> {
    const entries = await Promise.all(
      hosts.map(async (host) => [host, await this.get(host, typeof fact === 'function' ? fact(host) : fact)] as const),
    );
    return new Map(entries);
  }

  /** Hosts whose connection dropped during the run (down, cut off), with why. */
  lostConnections(): { host: string; reason: string }[] {
    return [...this.#remotes.values()].filter((r) => r.lostReason !== undefined).map((r) => ({ host: r.host, reason: r.lostReason! }));
  }

  invalidate(host: string): void {
    this.#cache.delete(host);
  }

  private async ask<T>(host: string, fact: Fact<T>): Promise<T> {
    const remote = this.#remotes.get(host);
    if (!remote) throw new HapgError('INTERNAL', `no connection to host ${host}`);
    if ('http' in fact) {
      const response = await remote.http(fact.http).catch((err: unknown) => {
        if (err instanceof Error && 'code' in err && err.code === 'HTTP_FAILED') return undefined;
        throw err;
      });
      return fact.parse(response);
    }
    return fact.parse(
      await remote.exec(fact.argv, {
        sudo: fact.sudo ?? false,
        allowFailure: true,
        ...(fact.stdin !== undefined ? { stdin: fact.stdin } : {}),
        ...(fact.secrets ? { secrets: fact.secrets } : {}),
      }),
    );
  }
}

/** Builds a fact that runs a POSIX shell snippet (for pipelines; the executor quotes it). */
export function shellFact<T>(id: string, script: string, parse: (result: ExecResult) => T, sudo = false): CommandFact<T> {
  return { id, argv: ['sh', '-c', script], sudo, parse };
}
