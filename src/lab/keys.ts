import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { runLocal } from './local.js';
import type { LabPaths } from './paths.js';
import { exists } from './prereqs.js';

/** An ed25519 key pair on disk; only the public half is ever read into output. */
export interface KeyPair {
  privateKeyFile: string;
  publicKey: string;
}

/** The key the control machine logs in with (root on every lab host); kept in the cache. */
export async function ensureLabKey(paths: LabPaths): Promise<KeyPair> {
  await mkdir(paths.cacheDir, { recursive: true, mode: 0o755 });
  return ensureKeyPair(paths.labKey, 'hapg-lab');
}

/**
 * A host's SSH host key, generated once and kept in the cache, so a re-created host has the
 * same identity and the lab's known_hosts can be written before it boots.
 */
export async function ensureHostKey(paths: LabPaths, host: string): Promise<KeyPair> {
  const dir = path.join(paths.hostKeysDir, host);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return ensureKeyPair(path.join(dir, 'ssh_host_ed25519_key'), `root@${host}`);
}

async function ensureKeyPair(file: string, comment: string): Promise<KeyPair> {
  if (!(await exists(file)) || !(await exists(`${file}.pub`))) {
    await rm(file, { force: true });
    await rm(`${file}.pub`, { force: true });
    await runLocal('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { what: `generating ${path.basename(file)}` });
  }
  await chmod(file, 0o600);
  const publicKey = (await readFile(`${file}.pub`, 'utf8')).trim();
  return { privateKeyFile: file, publicKey };
}

/** known_hosts lines for the lab: each address with its host's ed25519 key. */
export function renderKnownHosts(entries: readonly { address: string; publicKey: string }[]): string {
  return entries.map((e) => `${e.address} ${e.publicKey.split(/\s+/).slice(0, 2).join(' ')}\n`).join('');
}

/** The raw key blob of an OpenSSH public key line (what an SSH server presents). */
export function publicKeyBlob(publicKey: string): Buffer {
  const base64 = publicKey.trim().split(/\s+/)[1];
  if (!base64) throw new Error(`not an OpenSSH public key: ${publicKey.slice(0, 20)}…`);
  return Buffer.from(base64, 'base64');
}
