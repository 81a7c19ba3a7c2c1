// Every request hapg makes to etcd, Patroni's REST API and PostgreSQL goes through one of
// these objects: they carry the scheme, port and credentials, so switching a hop to TLS or
// authentication is a change here, not at a dozen call sites.
import type { CommandFact, HttpFact } from '../facts/fact.js';
import { clusterSecretKey, type InventorySecrets } from '../inventory/secrets.js';
import { CLIENT_CONNINFO, psqlArgv } from '../run/psql.js';
import type { HttpStep, SqlStep, SqlTarget } from '../run/steps.js';
import type { HttpRequest, HttpResponse, HttpTls, TokenLogin } from '../ssh/types.js';
import type { Secret } from '../secret.js';
import { HapgError } from '../errors.js';
import { etcdRootSecretKey } from '../inventory/secrets.js';
import { clusterTls, etcdTls } from '../tasks/tls/model.js';
import { parseEtcdHealth, parseEtcdStatus, parseMemberList, prefixRangeEnd, type EtcdHealth, type EtcdMember, type EtcdStatus } from '../tasks/etcd/facts.js';
import { PATRONI_ROLES } from '../tasks/patroni/model.js';
import { parseClusterView, parsePatroniState, type ClusterView, type PatroniState } from '../tasks/patroni/rest.js';
import { requireSecret } from '../inventory/secrets.js';
import type { DesiredState } from './model.js';
import { addressOf, hostPort } from './topology.js';

const READ_TIMEOUT_MS = 5000;

/** How hapg reaches a service: TLS material (none: plain HTTP) and a login, if the service asks for one. */
export interface EndpointSecurity {
  tls: HttpTls | undefined;
  login: TokenLogin | undefined;
}

const PLAIN: EndpointSecurity = { tls: undefined, login: undefined };

/** A service that speaks TLS, reached by a command that did not load the run's TLS material (see openAccess). */
const missingTls = (what: string) => new HapgError('INTERNAL', `${what} speaks TLS, and this command loaded no TLS material to reach it (a bug in hapg: please report it)`);

/**
 * An etcd cluster's client API, called on a member's loopback through its SSH connection:
 * over TLS with hapg's client certificate, logged in as root once authentication is on.
 */
export class EtcdClient {
  constructor(
    readonly name: string,
    /** Member hosts, in inventory order. */
    readonly hosts: readonly string[],
    readonly port: number,
    /** `addr:port` of every member, as clients (Patroni) list them. */
    readonly endpoints: readonly string[],
    /** Whether the cluster serves TLS (client certificates) and authentication, as the inventory wants it. */
    readonly secure: boolean,
    readonly security: EndpointSecurity = PLAIN,
  ) {}

  get scheme(): 'http' | 'https' {
    return this.secure ? 'https' : 'http';
  }

  /** etcd's own health verdict on the member asked (`GET /health`); undefined when not answering. */
  health(): HttpFact<EtcdHealth | undefined> {
    return { id: `etcd-health:${this.port}`, http: this.#request('GET', '/health'), parse: (res) => (res ? parseEtcdHealth(res.status, res.body) : undefined) };
  }

  /**
   * Health of a member hapg cannot ask on its own host (not in the inventory, or unreachable):
   * asked from a peer's host at the member's client URL (`address` and `port` taken from it).
   */
  healthAt(address: string, port: number): HttpFact<EtcdHealth | undefined> {
    return {
      id: `etcd-health-at:${address}:${port}`,
      http: { ...this.#request('GET', '/health'), address, port },
      parse: (res) => (res ? parseEtcdHealth(res.status, res.body) : undefined),
    };
  }

  /** What the member asked says of itself: the leader's ID, its raft indexes, whether it is a learner. */
  status(): HttpFact<EtcdStatus | undefined> {
    return {
      id: `etcd-status:${this.port}`,
      http: this.#post('/v3/maintenance/status', {}),
      parse: (res) => (res && res.status === 200 ? parseEtcdStatus(res.body) : undefined),
    };
  }

  /** The member list as the member asked sees it; undefined when not answering. */
  members(): HttpFact<EtcdMember[] | undefined> {
    return {
      id: `etcd-members:${this.port}`,
      http: this.#post('/v3/cluster/member/list', {}),
      parse: (res) => (res && res.status === 200 ? parseMemberList(res.body) : undefined),
    };
  }

  /** Whether a key exists (undefined: etcd did not answer). */
  keyExists(key: string): HttpFact<boolean | undefined> {
    return {
      id: `etcd-key:${this.port}:${key}`,
      http: this.#post('/v3/kv/range', { key: b64(key), count_only: true }),
      parse: (res) => (res && res.status === 200 ? Number((JSON.parse(res.body) as { count?: string }).count ?? 0) > 0 : undefined),
    };
  }

  /** A key's value (null: no such key; undefined: etcd did not answer). */
  keyValue(key: string): HttpFact<string | null | undefined> {
    return {
      id: `etcd-value:${this.port}:${key}`,
      http: this.#post('/v3/kv/range', { key: b64(key) }),
      parse: (res) => {
        if (!res || res.status !== 200) return undefined;
        const value = (JSON.parse(res.body) as { kvs?: { value?: string }[] }).kvs?.[0]?.value;
        return value === undefined ? null : Buffer.from(value, 'base64').toString('utf8');
      },
    };
  }

  /** The etcd server version of the member on the fact's host ("3.5.16"; undefined: no answer). */
  serverVersion(): HttpFact<string | undefined> {
    return {
      id: `etcd-version:${this.port}`,
      http: this.#request('GET', '/version'),
      parse: (res) => (res && res.status === 200 ? ((JSON.parse(res.body) as { etcdserver?: string }).etcdserver ?? undefined) : undefined),
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

  /** This endpoint's TLS and login; a TLS cluster called by a command that loaded no TLS material is a bug of that command. */
  #secured(): EndpointSecurity {
    if (this.secure && !this.security.tls) throw missingTls(`etcd cluster ${this.name}`);
    return this.security;
  }

  /** A request to the member's loopback with this endpoint's TLS and login. */
  #request(method: HttpRequest['method'], path: string, body?: unknown): HttpRequest {
    const { tls, login } = this.#secured();
    return {
      method,
      port: this.port,
      path,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: READ_TIMEOUT_MS,
      ...(tls ? { tls, schemeFallback: true } : {}),
      ...(login ? { login } : {}),
    };
  }

  #post(path: string, body: unknown): HttpRequest {
    return this.#request('POST', path, body);
  }

  /** A step that posts to the v3 API of the member on `host` (its answer must be 200). */
  step(host: string, title: string, path: string, body: unknown, answers?: HttpStep['answers']): HttpStep {
    const { tls, login } = this.#secured();
    return {
      kind: 'http',
      host,
      title,
      port: this.port,
      method: 'POST',
      path,
      body,
      ...(tls ? { tls, schemeFallback: true } : {}),
      ...(login ? { login } : {}),
      ...(answers ? { answers } : {}),
    };
  }

  /**
   * Adds a member as a learner (it votes only once promoted), through the member on `host`.
   * etcd refuses membership changes until the member asked has been connected to every voting
   * peer for 5 s (right after a promotion, say): that answer is retried.
   */
  memberAddLearner(host: string, peerUrl: string, title: string, timeoutMs = 60_000): HttpStep {
    return {
      ...this.#step(host, title, '/v3/cluster/member/add'),
      body: { peerURLs: [peerUrl], isLearner: true },
      retry: { answers: [NOT_CONNECTED_LONG_ENOUGH, PROPOSAL_TIMED_OUT], timeoutMs, intervalMs: 500 },
      // A retry after a proposal that timed out but was applied finds the learner there already.
      answers: [
        { status: 200, changed: true },
        { status: 400, body: /Peer URLs already exists/, changed: false },
      ],
    };
  }

  /** Promotes a learner to a voting member; etcd refuses until the learner has caught up with the leader's log: retried. */
  memberPromote(host: string, id: string, title: string, timeoutMs = 60_000): HttpStep {
    return {
      ...this.#step(host, title, '/v3/cluster/member/promote'),
      body: { ID: id },
      retry: { answers: [{ status: 400, body: /in sync with leader/ }, NOT_CONNECTED_LONG_ENOUGH, PROPOSAL_TIMED_OUT], timeoutMs, intervalMs: 500 },
      // A retry after a proposal that timed out but was applied finds a voting member.
      answers: [
        { status: 200, changed: true },
        { status: 400, body: /can only promote a learner member/, changed: false },
      ],
    };
  }

  /** Gives a member new peer URLs (the same address under another scheme, in a conversion to TLS), through the member on `host`. */
  memberUpdate(host: string, id: string, peerUrl: string, title: string, timeoutMs = 60_000): HttpStep {
    return {
      ...this.#step(host, title, '/v3/cluster/member/update'),
      body: { ID: id, peerURLs: [peerUrl] },
      retry: { answers: [NOT_CONNECTED_LONG_ENOUGH, PROPOSAL_TIMED_OUT], timeoutMs, intervalMs: 500 },
    };
  }

  /** Removes a member (gone already: unchanged). */
  memberRemove(host: string, id: string, title: string, timeoutMs = 60_000): HttpStep {
    return {
      ...this.#step(host, title, '/v3/cluster/member/remove'),
      body: { ID: id },
      retry: { answers: [NOT_CONNECTED_LONG_ENOUGH, PROPOSAL_TIMED_OUT], timeoutMs, intervalMs: 500 },
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

  /** A membership step through the member on `host`, with this endpoint's TLS and login (its body set by the caller). */
  #step(host: string, title: string, path: string): HttpStep {
    return this.step(host, title, path, undefined);
  }

  /** Deletes every key under `prefix`, through the member on `host`. */
  deletePrefix(host: string, prefix: string): HttpStep {
    return this.step(host, `delete etcd keys ${prefix}*`, '/v3/kv/deleterange', { key: b64(prefix), range_end: prefixRangeEnd(prefix).toString('base64') });
  }
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** etcd's strict reconfiguration check: the member asked has not been connected to all its peers for 5 s yet. */
const NOT_CONNECTED_LONG_ENOUGH = { status: 503, body: /unhealthy cluster/ };

/**
 * A membership proposal raft did not commit within etcd's request timeout (a busy or slow
 * disk): it may still be applied. Retried; the step's answers accept what a retry of an
 * applied change gets.
 */
const PROPOSAL_TIMED_OUT = { status: 503, body: /request timed out/ };

/** The client of etcd cluster `name`, with the TLS material and root login the command resolved. */
export function etcdClient(model: DesiredState, name: string): EtcdClient {
  const etcd = model.inventory.etcd[name]!;
  const secure = etcdTls(model.inventory, name);
  const tls = model.access.tls;
  const root = model.access.secrets?.get(etcdRootSecretKey(name));
  const security: EndpointSecurity = secure && tls ? { tls: { ca: tls.ca.trust, cert: tls.client.cert, key: tls.client.key }, login: etcdLogin(name, 'root', root) } : PLAIN;
  return new EtcdClient(name, etcd.hosts, etcd.client_port, etcd.hosts.map((h) => hostPort(addressOf(model.inventory, h), etcd.client_port)), secure, security);
}

/**
 * etcd's errors that mean "log in first": no token, or one that expired. A write without a
 * token is refused as "permission denied" (etcd 3.5): that too asks for a login; when it
 * comes with a valid token, the one retry gets the same answer, which is then returned.
 */
const ETCD_LOGIN_WANTED = /user name is empty|invalid auth token|auth token is invalid|auth: revision in header is old|permission denied/;

/**
 * etcd's token login: POST /v3/auth/authenticate, then the token in the `Authorization`
 * header (as is: etcd's gateway takes the bare token, not `Bearer …`). etcd answering that
 * authentication is not enabled means no token is needed.
 */
export function etcdLogin(cluster: string, user: string, password: Secret | undefined): TokenLogin {
  return {
    key: `etcd:${cluster}:${user}`,
    header: 'authorization',
    rejected: (res: HttpResponse) => res.status !== 200 && ETCD_LOGIN_WANTED.test(res.body),
    async authenticate(post) {
      if (!password) {
        throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${cluster} asks for a login, and hapg has no password of its ${user} user here`, { hint: 'run hapg from the checkout that holds the secrets file' });
      }
      const res = await post('/v3/auth/authenticate', JSON.stringify({ name: user, password: password.reveal() }));
      if (res.status === 200) return (JSON.parse(res.body) as { token?: string }).token;
      if (/authentication is not enabled/.test(res.body)) return undefined;
      throw new HapgError('CLUSTER_UNHEALTHY', `etcd cluster ${cluster} refused the login of its ${user} user (HTTP ${res.status}: ${res.body.slice(0, 120)})`, {
        hint: `the password in the secrets file is not etcd's: restore the secrets file that deployed etcd cluster ${cluster}`,
      });
    },
  };
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
    /** Whether the API serves HTTPS, as the inventory wants it. */
    readonly secure = false,
    /** The CAs its certificate chains to (hapg verifies it whenever it speaks TLS). */
    readonly tls: HttpTls | undefined = undefined,
  ) {}

  get scheme(): 'http' | 'https' {
    return this.secure ? 'https' : 'http';
  }

  /** A read of `path` on the member on `host`. */
  #get(host: string, path: string): HttpRequest {
    return { method: 'GET', address: this.listenAddress(host), port: this.port, path, timeoutMs: READ_TIMEOUT_MS, ...this.#transport() };
  }

  #transport(): Pick<HttpRequest, 'tls' | 'schemeFallback'> {
    if (this.secure && !this.tls) throw missingTls(`Patroni's REST API of cluster ${this.cluster}`);
    return this.secure && this.tls ? { tls: this.tls, schemeFallback: true } : {};
  }

  /** The member's state (`GET /patroni`, any status: 503 still carries it); undefined when not answering. */
  state(host: string): HttpFact<PatroniState | undefined> {
    return {
      id: `patroni:${this.port}`,
      http: this.#get(host, '/patroni'),
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
      http: this.#get(host, '/cluster'),
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
      http: this.#get(host, '/config'),
      parse: (res) => (res && res.status === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined),
    };
  }

  /** PATCH /config on the member on `host` (the leader). */
  patchConfig(host: string, body: Record<string, unknown>, title: string): HttpStep {
    return { ...this.#write(host, title, 'PATCH', '/config'), body };
  }

  /**
   * Runs the member's HA loop now instead of at its next `loop_wait`: Patroni wakes its loop
   * after every PATCH /config, and this one changes nothing (an empty patch of the
   * `postgresql` section hapg's clusters always hold in etcd, so nothing is written there).
   */
  wakeLoop(host: string, title: string): HttpStep {
    return { ...this.#write(host, title, 'PATCH', '/config'), body: { postgresql: {} }, answers: [{ status: 200, changed: false, reason: 'loop woken' }] };
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
      ...this.#transport(),
      ...(this.credentials ? { basicAuth: this.credentials } : {}),
    };
  }
}

/** The REST API of cluster `name`; with secrets, writes authenticate as Patroni's REST API user. */
export function patroniApi(model: DesiredState, name: string, secrets?: InventorySecrets): PatroniApi {
  const cluster = model.inventory.clusters[name]!;
  const credentials = secrets ? { user: PATRONI_ROLES.restApi, password: requireSecret(secrets, clusterSecretKey(name, 'rest_api')) } : undefined;
  const tls = model.access.tls;
  return new PatroniApi(name, cluster.patroni.rest_api_port, credentials, (host) => addressOf(model.inventory, host), clusterTls(model.inventory, name), tls ? { ca: tls.ca.trust } : undefined);
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
  /** The CA bundle on the connecting host: the connection then insists on TLS and verifies the server's name (verify-full). */
  sslRootCert?: string;
}

// A client connection's password arrives as the first line of stdin, never in argv or the environment listing.
const CLIENT_QUERY = [
  'IFS= read -r PGPASSWORD; export PGPASSWORD',
  `exec psql -X -q -A -t -F "$(printf '\\t')" -v ON_ERROR_STOP=1 ${CLIENT_CONNINFO}`,
].join('\n');

/** A read-only query run like a client, from a host to an endpoint; rows of tab-separated fields (undefined when it fails). */
export function clientQuery<T>(id: string, endpoint: PostgresEndpoint, login: { user: string; password: Secret }, sql: string, parse: (rows: string[][]) => T): CommandFact<T | undefined> {
  return {
    id: `client-query:${id}:${endpoint.address}:${endpoint.port}`,
    argv: ['sh', '-c', CLIENT_QUERY, 'sh', endpoint.address, String(endpoint.port), login.user, 'postgres', endpoint.sslRootCert ?? ''],
    stdin: `${login.password.reveal()}\n${sql}\n`,
    secrets: [login.password],
    parse: (r) => (r.exitCode === 0 ? parse(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'))) : undefined),
  };
}

/** A SQL step that connects like a client, from `host`, to `endpoint` as `user`. */
export function clientSql(host: string, title: string, endpoint: PostgresEndpoint, login: { user: string; password: Secret }, sql: string, expect?: SqlStep['expect']): SqlStep {
  const target: SqlTarget = {
    kind: 'network',
    address: endpoint.address,
    port: endpoint.port,
    database: 'postgres',
    user: login.user,
    password: login.password,
    ...(endpoint.sslRootCert ? { sslRootCert: endpoint.sslRootCert } : {}),
  };
  return { kind: 'sql', host, title, target, sql, check: true, ...(expect ? { expect } : {}) };
}
