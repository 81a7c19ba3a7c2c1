import type { Secret } from '../secret.js';

/** What one remote command produced. Shaped like a CommandError's result. */
export interface ExecResult {
  host: string;
  command: string; // as displayed: quoted argv, secrets masked
  exitCode: number | null;
  signal?: string | undefined;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ExecOptions {
  /** Run through `sudo -n` when the connection's user is not root (no-op for root). */
  sudo?: boolean;
  /** Run as this user (`sudo -n -u USER` or `runuser -u USER --` when root). */
  user?: string;
  stdin?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing CommandError. */
  allowFailure?: boolean;
  /** Values masked in the displayed command and in errors. */
  secrets?: readonly Secret[];
}

export interface PutFileOptions {
  mode: number;
  owner?: string;
  group?: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'HEAD';
  /** Port on the remote host; the request travels inside the SSH connection. */
  port: number;
  path: string;
  /** Address the remote host connects to; default 127.0.0.1. */
  address?: string;
  body?: string;
  headers?: Record<string, string>;
  basicAuth?: { user: string; password: Secret };
  /** Speak TLS to the service, verifying its certificate (the name checked is `address`). */
  tls?: HttpTls;
  /**
   * The service may still speak the other scheme (a cluster hapg converts to TLS, or back):
   * when the first attempt fails before any answer, the other scheme is tried, and the one
   * that answered is tried first next time.
   */
  schemeFallback?: boolean;
  /** A login the service asks for by answer (etcd's token): see TokenLogin. */
  login?: TokenLogin;
  timeoutMs?: number;
}

/** What hapg trusts and presents on a TLS hop. */
export interface HttpTls {
  /** PEM bundle of the CAs the server's certificate must chain to. */
  ca: string;
  /** A client certificate (PEM) and its key, for services that ask for one. */
  cert?: string;
  key?: Secret;
}

/**
 * A token login: requests go out with the token last obtained under `key` (in `header`);
 * when `rejected` says an answer asks for a login, `authenticate` gets a new token (or
 * undefined: the service wants none) and the request is sent once more. `post` sends a POST
 * to the same service, the same way (address, port, TLS).
 */
export interface TokenLogin {
  key: string;
  header: string;
  rejected(response: HttpResponse): boolean;
  authenticate(post: (path: string, body: string) => Promise<HttpResponse>): Promise<string | undefined>;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One open connection to an inventory host. The executor and fact gathering use nothing else. */
export interface Remote {
  /** Inventory host name. */
  readonly host: string;
  /** Login user on the host. */
  readonly user: string;
  /** Runs argv on the host; quoting happens here and nowhere else. */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Writes a file only when its sha256 differs; atomic (temp + rename); sets owner and mode. */
  putFile(path: string, content: string | Buffer, opts: PutFileOptions): Promise<{ changed: boolean }>;
  /** HTTP to a port on the host (default loopback), tunnelled through SSH. */
  http(req: HttpRequest): Promise<HttpResponse>;
  close(): void;
  /** Why the connection dropped (host down, network cut) — undefined while it is up or after close(). */
  readonly lostReason?: string | undefined;
}

/** Everything needed to open one SSH connection; built from the inventory (host overrides applied). */
export interface SshTarget {
  /** Inventory host name (used in every message). */
  host: string;
  address: string;
  port: number;
  user: string;
  /** Private key files to try, in order (already ~-expanded). */
  identityFiles: string[];
  /** Path of the agent socket to try, or undefined for none. */
  agent?: string | undefined;
  /** known_hosts file used to verify (and, when allowed, record) host keys. */
  knownHosts: string;
  connectTimeoutMs: number;
  /** Prefix privileged commands with `sudo -n` (when user is not root). */
  sudo: boolean;
  /** Jump host reached first; the connection to `address` is forwarded through it. */
  bastion?: Omit<SshTarget, 'bastion' | 'sudo'> | undefined;
}

export interface ConnectOptions {
  /** Record unknown host keys in known_hosts instead of refusing (like ssh's accept-new). */
  acceptNewHostKeys?: boolean;
}
