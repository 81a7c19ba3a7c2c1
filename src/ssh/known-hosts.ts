import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { HapgError } from '../errors.js';

/** One key line of an OpenSSH known_hosts file. */
export interface KnownHostEntry {
  /** 1-based line number in the file, for messages that tell people what to remove. */
  line: number;
  marker: 'revoked' | 'cert-authority' | undefined;
  /** The host field as written: a comma list of patterns, or one `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  /** The key blob (SSH wire format), decoded from the base64 field. */
  key: Buffer;
}

/** Parses known_hosts text; lines that are not key lines (comments, garbage) are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fields = (lines[i] ?? '').trim().split(/\s+/);
    if (fields[0] === '' || fields[0]?.startsWith('#')) continue;
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    const [hosts, keyType, base64] = fields;
    if (!hosts || !keyType || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) continue;
    const key = Buffer.from(base64, 'base64');
    if (keyTypeOf(key) !== keyType) continue;
    entries.push({ line: i + 1, marker, hosts, keyType, key });
  }
  return entries;
}

/** The name OpenSSH records for an address: bare for port 22, else `[address]:port`. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** Does this entry's host field name (address, port)? Handles hashes, wildcards and `!` negation. */
export function entryMatches(entry: Pick<KnownHostEntry, 'hosts'>, address: string, port: number): boolean {
  const names = port === 22 ? [address, `[${address}]:22`] : [`[${address}]:${port}`];
  if (entry.hosts.startsWith('|1|')) return names.some((name) => hashedMatches(entry.hosts, name));
  let matched = false;
  for (const pattern of entry.hosts.split(',')) {
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    if (!names.some((name) => globMatches(glob, name))) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function hashedMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (!salt || !hash) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

function globMatches(glob: string, name: string): boolean {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`, 'i').test(name);
}

/** The key type named inside an SSH key blob (its first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** The fingerprint OpenSSH prints: `SHA256:` and unpadded base64 of the blob's digest. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'unknown' }
  | { status: 'revoked'; entry: KnownHostEntry }
  /** Keys are known for the host, none equal to the offered one. `entry` is the one to blame. */
  | { status: 'changed'; entry: KnownHostEntry };

/** Compares an offered host key with the entries for (address, port). */
export function judgeHostKey(entries: readonly KnownHostEntry[], address: string, port: number, offered: Buffer): HostKeyVerdict {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(offered));
  if (revoked) return { status: 'revoked', entry: revoked };
  const forHost = entries.filter((e) => e.marker === undefined && entryMatches(e, address, port));
  const same = forHost.find((e) => e.key.equals(offered));
  if (same) return { status: 'known', entry: same };
  const first = forHost.find((e) => e.keyType === keyTypeOf(offered)) ?? forHost[0];
  return first ? { status: 'changed', entry: first } : { status: 'unknown' };
}

/** Key types recorded for (address, port), so the handshake can ask for one of those first. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], address: string, port: number): string[] {
  const types = entries.filter((e) => e.marker === undefined && entryMatches(e, address, port)).map((e) => e.keyType);
  return [...new Set(types)];
}

/** Reads and parses a known_hosts file; a missing file holds no keys. */
export async function readKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new HapgError('SSH_HOST_KEY', `cannot read known_hosts file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export interface HostKeyCheck {
  /** Inventory host name, for messages. */
  host: string;
  address: string;
  port: number;
  file: string;
  offered: Buffer;
  acceptNew: boolean;
}

/**
 * Accepts a host key only if known_hosts has it, or records it when it is unknown and new keys
 * are accepted. A changed or revoked key is always refused. Returns what happened.
 */
export async function verifyHostKey(check: HostKeyCheck, entries?: readonly KnownHostEntry[]): Promise<'known' | 'recorded'> {
  const verdict = judgeHostKey(entries ?? (await readKnownHosts(check.file)), check.address, check.port, check.offered);
  if (verdict.status === 'known') return 'known';
  if (verdict.status !== 'unknown' || !check.acceptNew) throw hostKeyError(check, verdict);
  // Serialised per file: parallel connections must not interleave appends or record twice.
  return withFileLock(check.file, async () => {
    const fresh = judgeHostKey(await readKnownHosts(check.file), check.address, check.port, check.offered);
    if (fresh.status === 'known') return 'known';
    if (fresh.status !== 'unknown') throw hostKeyError(check, fresh);
    await appendKnownHost(check.file, check.address, check.port, check.offered);
    return 'recorded';
  });
}

/** Appends `name type base64` to known_hosts, creating it 0600 (and its directory 0700). */
export async function appendKnownHost(file: string, address: string, port: number, key: Buffer): Promise<void> {
  const type = keyTypeOf(key);
  if (!type) throw new HapgError('SSH_HOST_KEY', `refusing to record a malformed host key for ${address}:${port}`);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let existing = '';
  try {
    existing = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  await appendFile(file, `${separator}${knownHostsName(address, port)} ${type} ${key.toString('base64')}\n`, { mode: 0o600 });
}

/** The error for a host key that is not accepted: one line, with what to do in the hint. */
export function hostKeyError(check: Omit<HostKeyCheck, 'acceptNew'>, verdict: Exclude<HostKeyVerdict, { status: 'known' }>): HapgError {
  const who = `${check.host} (${check.address}:${check.port})`;
  const offered = `${keyTypeOf(check.offered) ?? 'unknown-type'} ${fingerprint(check.offered)}`;
  switch (verdict.status) {
    case 'unknown':
      return new HapgError('SSH_HOST_KEY', `${who}: host key not known (${offered}) in ${check.file}`, {
        host: check.host,
        hint: `run with --accept-new-host-keys to record it, or add it to ${check.file}`,
      });
    case 'revoked':
      return new HapgError('SSH_HOST_KEY', `${who}: host key ${offered} is marked @revoked at line ${verdict.entry.line} of ${check.file}`, {
        host: check.host,
        hint: 'the host must get a new host key before hapg will connect',
      });
    case 'changed': {
      const { entry } = verdict;
      return new HapgError(
        'SSH_HOST_KEY',
        `${who}: HOST KEY CHANGED: the host offers ${offered} but line ${entry.line} of ${check.file} has ${entry.keyType} ${fingerprint(entry.key)}; ` +
          `possible man-in-the-middle; if the host was reinstalled remove line ${entry.line} from ${check.file}`,
        {
          host: check.host,
          hint: `verify the new key on the host's console (ssh-keygen -lf /etc/ssh/ssh_host_${shortKeyType(check.offered)}_key.pub), then remove line ${entry.line} from ${check.file}`,
        },
      );
    }
  }
}

function shortKeyType(key: Buffer): string {
  const type = keyTypeOf(key) ?? '';
  if (type === 'ssh-ed25519') return 'ed25519';
  if (type.startsWith('ecdsa-')) return 'ecdsa';
  if (type === 'ssh-rsa') return 'rsa';
  return '*';
}

const fileLocks = new Map<string, Promise<unknown>>();

async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const key = resolve(file);
  const previous = fileLocks.get(key) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(fn);
  const tail = run.catch(() => undefined);
  fileLocks.set(key, tail);
  try {
    return await run;
  } finally {
    if (fileLocks.get(key) === tail) fileLocks.delete(key);
  }
}
