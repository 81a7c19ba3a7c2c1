import { readFile } from 'node:fs/promises';
import ssh2, { type AuthenticationType, type ParsedKey } from 'ssh2';
import { HapgError } from '../errors.js';
import type { SshTarget } from './types.js';

const { utils } = ssh2;

/** One way to log in, in the order ssh2 tries them, plus how to name it in an auth failure. */
export type AuthAttempt =
  | { type: Extract<AuthenticationType, 'publickey'>; username: string; key: ParsedKey; label: string }
  | { type: Extract<AuthenticationType, 'agent'>; username: string; agent: string; label: string };

type IdentitySource = Pick<SshTarget, 'host' | 'address' | 'port' | 'user' | 'identityFiles' | 'agent'>;

/**
 * Reads the target's identity files and agent into auth attempts, failing early — naming the
 * file — on a missing, unreadable, public or passphrase-protected key.
 */
export async function loadAuthAttempts(target: IdentitySource): Promise<AuthAttempt[]> {
  const who = `${target.host} (${target.address}:${target.port})`;
  const attempts: AuthAttempt[] = [];
  for (const file of target.identityFiles) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
      throw new HapgError('SSH_CONNECT', `${who}: cannot read identity file ${file}: ${why}`, {
        host: target.host,
        cause: err,
        hint: 'check ssh.identity_file in the inventory',
      });
    }
    const parsed = utils.parseKey(data);
    if (parsed instanceof Error) {
      if (/encrypted|passphrase/i.test(parsed.message)) {
        // The agent may hold the decrypted key; ssh does the same and uses it.
        if (target.agent) continue;
        throw new HapgError('SSH_CONNECT', `${who}: identity file ${file} is passphrase-protected and hapg does not prompt for passphrases`, {
          host: target.host,
          hint: `load it into ssh-agent (ssh-add ${file}) and make SSH_AUTH_SOCK point at the agent, or use an unencrypted deploy key`,
        });
      }
      throw new HapgError('SSH_CONNECT', `${who}: identity file ${file} is not a private key hapg can read: ${parsed.message}`, {
        host: target.host,
      });
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key?.isPrivateKey()) {
      throw new HapgError('SSH_CONNECT', `${who}: identity file ${file} holds a public key; point it at the private key`, { host: target.host });
    }
    attempts.push({ type: 'publickey', username: target.user, key, label: `key ${file}` });
  }
  if (target.agent) attempts.push({ type: 'agent', username: target.user, agent: target.agent, label: `ssh-agent ${target.agent}` });
  if (attempts.length === 0) {
    throw new HapgError('SSH_CONNECT', `${who}: no usable identity file and no ssh-agent to log in with`, {
      host: target.host,
      hint: 'set ssh.identity_file in the inventory or start ssh-agent (SSH_AUTH_SOCK)',
    });
  }
  return attempts;
}
