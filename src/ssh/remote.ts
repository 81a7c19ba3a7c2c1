import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { CommandError, HapgError, truncate } from '../errors.js';
import { maskSecrets } from '../secret.js';
import { describeConnectError, seconds } from './connect-error.js';
import { httpRequest, newHttpMemory } from './http.js';
import { Limiter } from './limiter.js';
import { putFile } from './put-file.js';
import { commandLine } from './quote.js';
import type { ExecOptions, ExecResult, HttpRequest, HttpResponse, PutFileOptions, Remote, SshTarget } from './types.js';

/**
 * Sessions open at once per connection. OpenSSH refuses more than MaxSessions (default 10)
 * per connection; the rest wait here.
 */
export const MAX_CONCURRENT_SESSIONS = 8;
const SESSION_OPEN_RETRIES = 8;
/** What coreutils' timeout exits with when the limit passed. */
const TIMEOUT_EXIT = 124;
const SESSION_RETRY_DELAY_MS = 20;

/** A logged-in ssh2 Client behind the Remote contract: exec, putFile, http, close. */
export class SshRemote implements Remote {
  readonly host: string;
  readonly user: string;
  readonly #client: Client;
  readonly #target: SshTarget;
  readonly #sessions = new Limiter(MAX_CONCURRENT_SESSIONS);
  /** Ends every running command when the connection goes; called with why. */
  readonly #inFlight = new Set<(why: string) => void>();
  readonly #onClose: () => void;
  /** Schemes and tokens learnt on this connection. */
  readonly #http = newHttpMemory();
  #closed = false;
  #lastError: unknown;
  #lostReason: string | undefined;

  constructor(client: Client, target: SshTarget, onClose: () => void = () => undefined) {
    this.host = target.host;
    this.user = target.user;
    this.#client = client;
    this.#target = target;
    this.#onClose = onClose;
    client.on('error', (err) => {
      this.#lastError = err;
    });
    client.on('close', () => this.#lost());
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    // The inventory can turn sudo off for a host (ssh.sudo: false); then commands run as the login user.
    const sudo = opts.sudo === true && this.#target.sudo;
    const ctx = { loginUser: this.user, sudo, user: opts.user, env: opts.env };
    // A command with a limit runs under `timeout` on the host, inside sudo: when the limit
    // passes, the whole process group it started dies there too (a signal sent over SSH only
    // reaches the login user's process, and sudo's children would outlive it).
    const limited = opts.timeoutMs !== undefined ? ['timeout', '-k', '5', `${opts.timeoutMs / 1000}`, ...argv] : argv;
    const command = commandLine(limited, ctx);
    const shown = maskSecrets(commandLine(argv, ctx), opts.secrets ?? []);
    return this.#sessions.run(() => this.#exec(command, shown, opts));
  }

  putFile(path: string, content: string | Buffer, opts: PutFileOptions): Promise<{ changed: boolean }> {
    return putFile((argv, execOpts) => this.exec(argv, execOpts), this.host, path, content, opts);
  }

  http(req: HttpRequest): Promise<HttpResponse> {
    return httpRequest((address, port) => this.#forward(address, port), this.host, req, this.#http);
  }

  get lostReason(): string | undefined {
    return this.#lostReason;
  }

  close(): void {
    if (this.#closed) return;
    this.#client.end();
    this.#lost('connection closed by hapg');
  }

  #lost(why?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const reason = why ?? `connection lost${this.#lastError === undefined ? '' : `: ${this.#describe(this.#lastError)}`}`;
    if (why === undefined) this.#lostReason = reason;
    for (const abort of this.#inFlight) abort(reason);
    this.#onClose();
  }

  #describe(err: unknown): string {
    return describeConnectError(err, { user: this.user, connectTimeoutMs: this.#target.connectTimeoutMs, authTried: [] });
  }

  #forward(address: string, port: number): Promise<Duplex> {
    if (this.#closed) return Promise.reject(new HapgError('SSH_CONNECT', `${this.host}: connection is closed`, { host: this.host }));
    return new Promise((resolve, reject) => {
      this.#client.forwardOut('127.0.0.1', 0, address, port, (err, stream) => (err ? reject(err) : resolve(stream)));
    });
  }

  /**
   * Starts `command` in a new session channel. sshd frees closed sessions only after it has
   * read a whole batch of packets, so a burst of closes and opens can briefly exceed its
   * MaxSessions even below our own limit; "open failed" is retried after a short pause.
   */
  #openSession(command: string, abandoned: () => boolean, done: (err: Error | undefined, stream: ClientChannel) => void, attempt = 0): void {
    this.#client.exec(command, (err, stream) => {
      const transient = err !== undefined && /Channel open failure/i.test(err.message) && attempt < SESSION_OPEN_RETRIES;
      if (transient && !abandoned() && !this.#closed) {
        setTimeout(() => this.#openSession(command, abandoned, done, attempt + 1), SESSION_RETRY_DELAY_MS * (attempt + 1));
        return;
      }
      done(err, stream);
    });
  }

  #exec(command: string, shown: string, opts: ExecOptions): Promise<ExecResult> {
    const host = this.host;
    if (this.#closed) return Promise.reject(new HapgError('SSH_CONNECT', `${host}: connection is closed, cannot run \`${truncate(shown, 160)}\``, { host }));
    const secrets = opts.secrets ?? [];
    return new Promise<ExecResult>((resolve, reject) => {
      const started = performance.now();
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let exitCode: number | null | undefined;
      let signal: string | undefined;
      let channel: ClientChannel | undefined;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;

      const settle = (err: HapgError | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#inFlight.delete(abort);
        if (err) return reject(err);
        const result: ExecResult = {
          host,
          command: shown,
          exitCode: exitCode ?? null,
          signal,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
          durationMs: Math.round(performance.now() - started),
        };
        if (exitCode === undefined) {
          return reject(new HapgError('SSH_CONNECT', `${host}: \`${truncate(shown, 160)}\` ended without an exit status (connection lost?)`, { host }));
        }
        if (opts.timeoutMs !== undefined && exitCode === TIMEOUT_EXIT) {
          return reject(new HapgError('COMMAND_FAILED', `${host}: \`${shown}\` timed out after ${seconds(opts.timeoutMs)}`, { host }));
        }
        if (exitCode === 0 || opts.allowFailure) return resolve(result);
        reject(new CommandError({ ...result, stdout: maskSecrets(result.stdout, secrets), stderr: maskSecrets(result.stderr, secrets) }));
      };
      const abort = (why: string) => {
        channel?.close();
        settle(new HapgError('SSH_CONNECT', `${host}: \`${truncate(shown, 160)}\` did not finish: ${why}`, { host }));
      };
      this.#inFlight.add(abort);

      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          try {
            channel?.signal('KILL');
          } catch {
            // Old servers reject signal requests; closing the channel still ends the wait.
          }
          channel?.close();
          settle(new HapgError('COMMAND_FAILED', `${host}: \`${shown}\` timed out after ${seconds(opts.timeoutMs ?? 0)}`, { host }));
        }, opts.timeoutMs);
      }

      this.#openSession(command, () => settled, (err, stream) => {
        if (err) return settle(new HapgError('SSH_CONNECT', `${host}: cannot start \`${shown}\`: ${this.#describe(err)}`, { host, cause: err }));
        if (settled) return stream.close();
        channel = stream;
        stream.on('data', (chunk: Buffer) => stdout.push(chunk));
        stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        stream.on('exit', (code: number | null, sig?: string) => {
          exitCode = typeof code === 'number' ? code : null;
          signal = sig ?? undefined;
        });
        // Writing stdin to a command that already exited can fail; its exit status still counts.
        stream.on('error', (e: Error) => exitCode === undefined && settle(new HapgError('SSH_CONNECT', `${host}: \`${shown}\`: ${this.#describe(e)}`, { host, cause: e })));
        stream.on('close', () => settle(undefined));
        if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }
}
