import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import { HapgError } from '../errors.js';
import { openClient, describeTarget, type LoginTarget } from './client.js';
import { describeConnectError, seconds } from './connect-error.js';
import type { ConnectOptions } from './types.js';

interface Shared {
  client: Promise<Client>;
  users: number;
}

/** A tunnel to one host through a bastion; `release` closes the bastion when nobody else uses it. */
export interface Tunnel {
  stream: Duplex;
  release(): void;
}

/**
 * Bastion connections shared by every host behind the same jump host: one SSH login to the
 * bastion per run, one forwarded channel per host.
 */
export class JumpHosts {
  readonly #opts: ConnectOptions;
  readonly #shared = new Map<string, Shared>();

  constructor(opts: ConnectOptions) {
    this.#opts = opts;
  }

  /** Opens a channel from the bastion to target (address, port); errors name both hosts. */
  async tunnel(bastion: LoginTarget, target: LoginTarget): Promise<Tunnel> {
    const key = `${bastion.user}@${bastion.address}:${bastion.port}`;
    const who = describeTarget(target);
    let shared = this.#shared.get(key);
    if (!shared) {
      const client = openClient(bastion, this.#opts);
      const entry: Shared = { client, users: 0 };
      shared = entry;
      this.#shared.set(key, entry);
      client.then(
        (c) => c.once('close', () => this.#shared.get(key) === entry && this.#shared.delete(key)),
        () => this.#shared.get(key) === entry && this.#shared.delete(key),
      );
    }
    shared.users++;
    let released = false;
    const entry = shared;
    const release = () => {
      if (released) return;
      released = true;
      entry.users--;
      if (entry.users === 0) {
        if (this.#shared.get(key) === entry) this.#shared.delete(key);
        entry.client.then((c) => c.end(), () => undefined);
      }
    };
    try {
      const client = await entry.client.catch((err: unknown) => {
        const inner = err instanceof HapgError ? err : new HapgError('SSH_CONNECT', String(err), { cause: err });
        throw new HapgError(inner.code, `${who}: ${bastionName(inner.message)}`, {
          host: target.host,
          cause: err,
          ...(inner.hint ? { hint: inner.hint } : {}),
        });
      });
      const stream = await forward(client, target, bastion);
      return { stream, release };
    } catch (err) {
      release();
      throw err;
    }
  }
}

function forward(client: Client, target: LoginTarget, bastion: LoginTarget): Promise<Duplex> {
  const who = `${describeTarget(target)} via ${bastionName(bastion.host)}`;
  return new Promise((resolve, reject) => {
    let done = false;
    // sshd on the bastion may wait minutes for an unreachable target; the connect timeout wins.
    const timer = setTimeout(() => {
      done = true;
      reject(new HapgError('SSH_CONNECT', `${who}: connection timed out after ${seconds(target.connectTimeoutMs)}`, { host: target.host }));
    }, target.connectTimeoutMs);
    client.forwardOut('127.0.0.1', 0, target.address, target.port, (err, stream) => {
      clearTimeout(timer);
      if (done) {
        stream?.destroy();
        return;
      }
      done = true;
      if (err) {
        const reason = describeConnectError(err, { user: target.user, connectTimeoutMs: target.connectTimeoutMs, authTried: [] });
        reject(new HapgError('SSH_CONNECT', `${who}: ${reason}`, { host: target.host, cause: err }));
      } else {
        resolve(stream);
      }
    });
  });
}

/** `bastion jump1`; the inventory already names bastions `bastion <address>`. */
function bastionName(name: string): string {
  return name.startsWith('bastion') ? name : `bastion ${name}`;
}
