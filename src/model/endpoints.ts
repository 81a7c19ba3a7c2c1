// Every request hapg makes to etcd, Patroni's REST API and PostgreSQL goes through one of
// these objects: they carry the scheme, port and credentials, so switching a hop to TLS or
// authentication is a change here, not at a dozen call sites.
import type { CommandFact, HttpFact } from '../facts/fact.js';
import { clusterSecretKey, type InventorySecrets } from '../inventory/secrets.js';
import { psqlArgv } from '../run/psql.js';
import type { HttpStep, SqlStep, SqlTarget } from '../run/steps.js';
import type { HttpRequest } from '../ssh/types.js';
import type { Secret } from '../secret.js';
import { parseEtcdHealth, parseEtcdStatus, parseMemberList, prefixRangeEnd, type EtcdHealth, type EtcdMember, type EtcdStatus } from '../tasks/etcd/facts.js';
import { PATRONI_ROLES } from '../tasks/patroni/model.js';
import { parseClusterView, parsePatroniState, type ClusterView, type PatroniState } from '../tasks/patroni/rest.js';
import { requireSecret } from '../inventory/secrets.js';
import type { DesiredState } from './model.js';
import { addressOf, hostPort } from './topology.js';

const READ_TIMEOUT_MS = 5000;

/** An etcd cluster's client API, called on a member's loopback through its SSH connection. */
export class EtcdClient {
  constructor(
    readonly name: string,
    /** Member hosts, in inventory order. */
    readonly hosts: readonly string[],
    readonly port: number,
    /** `addr:port` of every member, as clients (Patroni) list them. */
    readonly endpoints: readonly string[],
  ) {}

  readonly scheme = 'http';

  /** etcd's own health verdict on the member asked (`GET /health`); undefined when not answering. */
  health(): HttpFact<EtcdHealth | undefined> {
    return { id: `etcd-health:${this.port}`, http: { method: 'GET', port: this.port, path: '/health', timeoutMs: READ_TIMEOUT_MS }, parse: (res) => (res ? parseEtcdHealth(res.status, res.body) : undefined) };
  }

  /**
   * Health of a member hapg cannot ask on its own host (not in the inventory, or unreachable):
   * asked from a peer's host at the member's client URL (`address` and `port` taken from it).
   */
  healthAt(address: string, port: number): HttpFact<EtcdHealth | undefined> {
    return {
      id: `etcd-health-at:${address}:${port}`,
      http: { method: 'GET', address, port, path: '/health', timeoutMs: READ_TIMEOUT_MS },
      parse: (res) => (res ? parseEtcdHealth(res.status, res.body) : undefined),
    };
  }

  /** What the member asked says of itself: the leader's ID, its raft indexes, whether it is a learner. */
  status(): HttpFact<EtcdStatus | undefined> {
    return {
      id: `etcd-status:${this.port}`,
      http: { method: 'POST', port: this.port, path: '/v3/maintenance/status', body: '{}', timeoutMs: READ_TIMEOUT_MS },
      parse: (res) => (res && res.status === 200 ? parseEtcdStatus(res.body) : undefined),
    };
  }

  /** The member list as the member asked sees it; undefined when not answering. */
  members(): HttpFact<EtcdMember[] | undefined> {
    return {
      id: `etcd-members:${this.port}`,
      http: { method: 'POST', port: this.port, path: '/v3/cluster/member/list', body: '{}', timeoutMs: READ_TIMEOUT_MS },
      parse: (res) => (res && res.status === 200 ? parseMemberList(res.body) : undefined),
    };
  }

  /** Whether a key exists (undefined: etcd did not answer). */
  keyExists(key: string): HttpFact<boolean | undefined> {
    return {
      id: `etcd-key:${this.port}:${key}`,
      http: { method: 'POST', port: this.port, path: '/v3/kv/range', body: JSON.stringify({ key: b64(key), count_only: true }), timeoutMs: READ_TIMEOUT_MS },
      parse: (res) => (res && res.status === 200 ? Number((JSON.parse(res.body) as { count?: string }).count ?? 0) > 0 : undefined),
    };
  }

  /** A key's value (null: no such key; undefined: etcd did not answer). */
  keyValue(key: string): HttpFact<string | null | undefined> {
    return {
      id: `etcd-value:${this.port}:${key}`,
      http: { method: 'POST', port: this.port, path: '/v3/kv/range', body: JSON.stringify({ key: b64(key) }), timeoutMs: READ_TIMEOUT_MS },
      parse: (res) => {
        if (!res || res.status !== 200) return undefined;
        const value = (JSON.parse(res.body) as { kvs?: { value?: string }[] }).kvs?.[0]?.value;
        return value === undefined ? null : Buffer.from(value, 'base64').toString('utf8');
      },
    };
  }

  /** A lease of `ttlSeconds` (the run lock's): `{ ID }` in the answer. */
  leaseGrant(ttlSeconds: number): HttpRequest {
    return this.#post('/v3/lease/grant', { TTL: ttlSeconds });
  }

  /** Keeps a lease alive for another TTL. */
  leaseKeepAlive(id: string): HttpRequest {
    return this.#post('/v3/lease/keepalive', { ID: id });
  }

  /** Ends a lease and deletes the keys attached to it. */
  leaseRevoke(id: string): HttpRequest {
    return this.#post('/v3/lease/revoke', { ID: id });
  }

  /** Puts `value` at `key` under `lease` only if the key does not exist; otherwise returns the key's current value. */
  putIfAbsent(key: string, value: string, lease: string): HttpRequest {
    return this.#post('/v3/kv/txn', {
      compare: [{ target: 'CREATE', key: b64(key), create_revision: '0' }],
      success: [{ request_put: { key: b64(key), value: b64(value), lease } }],
      failure: [{ request_range: { key: b64(key) } }],
    });
  }

  /** Deletes one key. */
  deleteKey(key: string): HttpRequest {
    return this.#post('/v3/kv/deleterange', { key: b64(key) });
  }

  #post(path: string, body: unknown): HttpRequest {
    return { method: 'POST', port: this.port, path, body: JSON.stringify(body), timeoutMs: READ_TIMEOUT_MS };
  }

  /**
   * Adds a member as a learner (it votes only once promoted), through the member on `host`.
   * etcd refuses membership changes until the member asked has been connected to every voting
   * peer for 5 s (right after a promotion, say): that answer is retried.
   */
  memberAddLearner(host: string, peerUrl: string, title: string, timeoutMs = 60_000): HttpStep {
    return { ...this.#step(host, title, '/v3/cluster/member/add'), body: { peerURLs: [peerUrl], isLearner: true }, retry: { answers: [NOT_CONNECTED_LONG_ENOUGH], timeoutMs, intervalMs: 500 } };
  }

  /** Promotes a learner to a voting member; etcd refuses until the learner has caught up with the leader's log: retried. */
  memberPromote(host: string, id: string, title: string, timeoutMs = 60_000): HttpStep {
    return {
      ...this.#step(host, title, '/v3/cluster/member/promote'),
      body: { ID: id },
      retry: { answers: [{ status: 400, body: /in sync with leader/ }, NOT_CONNECTED_LONG_ENOUGH], timeoutMs, intervalMs: 500 },
    };
  }

  /** Removes a member (gone already: unchanged). */
  memberRemove(host: string, id: string, title: string, timeoutMs = 60_000): HttpStep {
    return {
      ...this.#step(host, title, '/v3/cluster/member/remove'),
      body: { ID: id },
      retry: { answers: [NOT_CONNECTED_LONG_ENOUGH], timeoutMs, intervalMs: 500 },
      answers: [
        { status: 200, changed: true },
        { status: 404, body: /member not found/, changed: false },
      ],
    };
  }

  /** Hands raft leadership to member `targetId`; sent to the leader (a member that no longer leads: unchanged). */
  moveLeader(host: string, targetId: string, title: string): HttpStep {
    return {
      ...this.#step(host, title, '/v3/maintenance/transfer-leadership'),
      body: { targetID: targetId },
      answers: [
        { status: 200, changed: true },
        { status: 400, body: /not leader/, changed: false },
      ],
    };
  }

  /** Deletes one key, through the member on `host`. */
  deleteKeyStep(host: string, key: string, title: string): HttpStep {
    return { ...this.#step(host, title, '/v3/kv/deleterange'), body: { key: b64(key) } };
  }

  #step(host: string, title: string, path: string): HttpStep {
    return { kind: 'http', host, title, port: this.port, method: 'POST', path };
  }

  /** Deletes every key under `prefix`, through the member on `host`. */
  deletePrefix(host: string, prefix: string): HttpStep {
    return {
      kind: 'http',
      host,
      title: `delete etcd keys ${prefix}*`,
      port: this.port,
      method: 'POST',
      path: '/v3/kv/deleterange',
      body: { key: b64(prefix), range_end: prefixRangeEnd(prefix).toString('base64') },
    };
  }
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** etcd's strict reconfiguration check: the member asked has not been connected to all its peers for 5 s yet. */
const NOT_CONNECTED_LONG_ENOUGH = { status: 503, body: /unhealthy cluster/ };

/** The client of etcd cluster `name`. */
export function etcdClient(model: DesiredState, name: string): EtcdClient {
  const etcd = model.inventory.etcd[name]!;
  return new EtcdClient(name, etcd.hosts, etcd.client_port, etcd.hosts.map((h) => hostPort(addressOf(model.inventory, h), etcd.client_port)));
}

/**
 * A Patroni cluster's REST API, which listens on each member's own address (not on every
 * interface): hapg reaches it through the member's SSH connection. Writes carry the REST
 * API credentials.
 */
export class PatroniApi {
  constructor(
    readonly cluster: string,
    readonly port: number,
    readonly credentials: { user: string; password: Secret } | undefined,
    /** The address the API listens on, on each member. */
    readonly listenAddress: (host: string) => string,
  ) {}

  readonly scheme = 'http';

  /** The member's state (`GET /patroni`, any status: 503 still carries it); undefined when not answering. */
  state(host: string): HttpFact<PatroniState | undefined> {
    return {
      id: `patroni:${this.port}`,
      http: { method: 'GET', address: this.listenAddress(host), port: this.port, path: '/patroni', timeoutMs: READ_TIMEOUT_MS },
      parse: (res) => {
        if (!res) return undefined;
        try {
          return parsePatroniState(res.body);
        } catch {
          return undefined;
        }
      },
    };
  }

  /** The whole cluster as the member sees it (`GET /cluster`). */
  clusterView(host: string): HttpFact<ClusterView | undefined> {
    return {
      id: `patroni-cluster:${this.port}`,
      http: { method: 'GET', address: this.listenAddress(host), port: this.port, path: '/cluster', timeoutMs: READ_TIMEOUT_MS },
      parse: (res) => {
        if (!res || res.status !== 200) return undefined;
        try {
          return parseClusterView(res.body);
        } catch {
          return undefined;
        }
      },
    };
  }

  /** The dynamic configuration stored in etcd (`GET /config`). */
  config(host: string): HttpFact<Record<string, unknown> | undefined> {
    return {
      id: `patroni-config:${this.port}`,
      http: { method: 'GET', address: this.listenAddress(host), port: this.port, path: '/config', timeoutMs: READ_TIMEOUT_MS },
      parse: (res) => (res && res.status === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined),
    };
  }

  /** PATCH /config on the member on `host` (the leader). */
  patchConfig(host: string, body: Record<string, unknown>, title: string): HttpStep {
    return { ...this.#write(host, title, 'PATCH', '/config'), body };
  }

  /**
   * POST /restart with Patroni's own condition: only if the member still waits for a restart
   * ("conditions are not satisfied" means it no longer does: unchanged).
   */
  restartPending(host: string, title: string, timeoutSeconds: number): HttpStep {
    return {
      ...this.#write(host, title, 'POST', '/restart'),
      body: { restart_pending: true, timeout: timeoutSeconds },
      answers: [
        { status: 200, changed: true },
        { status: 503, body: /conditions are not satisfied/, changed: false },
        { status: 503, body: /already in progress/, changed: true },
      ],
      timeoutMs: (timeoutSeconds + 15) * 1000,
    };
  }

  /** POST /switchover from `leader` to `candidate`, sent to the leader. */
  switchover(leader: string, candidate: string): HttpStep {
    return { ...this.#write(leader, `switchover ${leader} → ${candidate}`, 'POST', '/switchover'), body: { leader, candidate }, timeoutMs: 90_000 };
  }

  #write(host: string, title: string, method: HttpStep['method'], path: string): HttpStep {
    return {
      kind: 'http',
      host,
      title,
      address: this.listenAddress(host),
      port: this.port,
      method,
      path,
      ...(this.credentials ? { basicAuth: this.credentials } : {}),
    };
  }
}

/** The REST API of cluster `name`; with secrets, writes authenticate as Patroni's REST API user. */
export function patroniApi(model: DesiredState, name: string, secrets?: InventorySecrets): PatroniApi {
  const cluster = model.inventory.clusters[name]!;
  const credentials = secrets ? { user: PATRONI_ROLES.restApi, password: requireSecret(secrets, clusterSecretKey(name, 'rest_api')) } : undefined;
  return new PatroniApi(name, cluster.patroni.rest_api_port, credentials, (host) => addressOf(model.inventory, host));
}

/** A cluster's PostgreSQL on a member, reached over the local socket as the postgres OS user. */
export class LocalPostgres {
  constructor(readonly port: number) {}

  /** A read-only query; rows of tab-separated fields (undefined when the server does not answer). */
  query<T>(id: string, sql: string, parse: (rows: string[][]) => T, database = 'postgres'): CommandFact<T | undefined> {
    return {
      id: `${id}:${this.port}:${database}`,
      argv: ['runuser', '-u', 'postgres', '--', ...psqlArgv(this.port, database, sql)],
      sudo: true,
      parse: (r) => (r.exitCode === 0 ? parse(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'))) : undefined),
    };
  }

  /** A SQL step run on `host`'s server. */
  sql(host: string, title: string, sql: string, opts: { database?: string; secrets?: Secret[]; expect?: SqlStep['expect'] } = {}): SqlStep {
    return {
      kind: 'sql',
      host,
      title,
      target: { kind: 'local', port: this.port, database: opts.database ?? 'postgres' },
      sql,
      ...(opts.secrets ? { secrets: opts.secrets } : {}),
      ...(opts.expect ? { expect: opts.expect } : {}),
    };
  }
}

export function localPostgres(model: DesiredState, name: string): LocalPostgres {
  return new LocalPostgres(model.inventory.clusters[name]!.postgres.port);
}

/** Where clients connect: an address and port, and how it is reached (the VIP, an HAProxy host, a member). */
export interface PostgresEndpoint {
  address: string;
  port: number;
  via: string;
}

// A client connection's password arrives as the first line of stdin, never in argv or the environment listing.
const CLIENT_QUERY = [
  'IFS= read -r PGPASSWORD; export PGPASSWORD',
  'exec psql -X -q -A -t -F "$(printf \'\\t\')" -v ON_ERROR_STOP=1 "host=$1 port=$2 user=$3 dbname=postgres connect_timeout=5"',
].join('\n');

/** A read-only query run like a client, from a host to an endpoint; rows of tab-separated fields (undefined when it fails). */
export function clientQuery<T>(id: string, endpoint: PostgresEndpoint, login: { user: string; password: Secret }, sql: string, parse: (rows: string[][]) => T): CommandFact<T | undefined> {
  return {
    id: `client-query:${id}:${endpoint.address}:${endpoint.port}`,
    argv: ['sh', '-c', CLIENT_QUERY, 'sh', endpoint.address, String(endpoint.port), login.user],
    stdin: `${login.password.reveal()}\n${sql}\n`,
    secrets: [login.password],
    parse: (r) => (r.exitCode === 0 ? parse(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'))) : undefined),
  };
}

/** A SQL step that connects like a client, from `host`, to `endpoint` as `user`. */
export function clientSql(host: string, title: string, endpoint: PostgresEndpoint, login: { user: string; password: Secret }, sql: string, expect?: SqlStep['expect']): SqlStep {
  const target: SqlTarget = { kind: 'network', address: endpoint.address, port: endpoint.port, database: 'postgres', user: login.user, password: login.password };
  return { kind: 'sql', host, title, target, sql, check: true, ...(expect ? { expect } : {}) };
}
