import type { Client } from 'ssh2';
import { JumpHosts } from './bastion.js';
import { openClient } from './client.js';
import { SshRemote } from './remote.js';
import type { ConnectOptions, Remote, SshTarget } from './types.js';

/**
 * Opens one SSH connection to a host — through its bastion when it has one — and returns it
 * as a Remote. Pass `jumps` to share bastion logins between hosts (openRemotes does).
 */
export async function connect(target: SshTarget, opts: ConnectOptions = {}, jumps?: JumpHosts): Promise<Remote> {
  if (!target.bastion) return new SshRemote(await openClient(target, opts), target);
  const tunnel = await (jumps ?? new JumpHosts(opts)).tunnel(target.bastion, target);
  let client: Client;
  try {
    client = await openClient(target, opts, tunnel.stream);
  } catch (err) {
    tunnel.release();
    throw err;
  }
  return new SshRemote(client, target, () => tunnel.release());
}
