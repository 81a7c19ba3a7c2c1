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
  tls?: boolean;
  timeoutMs?: number;
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
