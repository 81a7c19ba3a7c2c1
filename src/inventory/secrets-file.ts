import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { HapgError } from '../errors.js';

/** Generated passwords by stable key, as kept in the secrets file. */
export type GeneratedSecrets = Map<string, string>;

/** A new password: 32 URL-safe characters (192 random bits), safe in YAML, URLs and shell words. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Reads the secrets file; a missing file is an empty map. Refuses a file group or others can
 * read, since it holds every generated password. Values never appear in errors.
 */
export async function readSecretsFile(file: string): Promise<GeneratedSecrets> {
  let mode: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new HapgError('INVENTORY_INVALID', `secrets file ${file} is not a regular file`);
    mode = st.mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err instanceof HapgError ? err : new HapgError('INVENTORY_INVALID', `cannot read secrets file ${file}: ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new HapgError(
      'INVENTORY_INVALID',
      `secrets file ${file} has mode 0${mode.toString(8)}, open to group or others: run chmod 600 ${file}, and rotate the passwords if others may have read it`,
    );
  }
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new HapgError('INVENTORY_INVALID', `cannot read secrets file ${file} (${err.code ?? 'error'})`);
  });
  const doc = parseDocument(text, { prettyErrors: true });
  const firstError = doc.errors[0];
  if (firstError) {
    // Only the position: the message excerpt could quote a password.
    const line = firstError.linePos?.[0].line;
    throw new HapgError('INVENTORY_INVALID', `secrets file ${file} is not valid YAML${line === undefined ? '' : ` (line ${line})`}: fix or remove it`);
  }
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== 'object' || Array.isArray(data) || data === null) {
    throw new HapgError('INVENTORY_INVALID', `secrets file ${file} must be a mapping of secret names to passwords`);
  }
  const out: GeneratedSecrets = new Map();
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string' || value === '') {
      throw new HapgError('INVENTORY_INVALID', `secrets file ${file}: ${key} must be a non-empty string`);
    }
    out.set(key, value);
  }
  return out;
}

/** Writes the secrets file atomically with mode 0600 (its directory 0700 when hapg creates it). */
export async function writeSecretsFile(file: string, secrets: GeneratedSecrets, inventoryPath: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const header =
    `# Passwords hapg generated for ${inventoryPath}. Keep this file private (mode 0600) and out of\n` +
    '# version control; losing it means resetting the passwords on the hosts.\n';
  const body = stringify(Object.fromEntries([...secrets].sort(([a], [b]) => a.localeCompare(b))));
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(header + body, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temp, 0o600); // in case the umask was stricter than needed or the fs ignored the mode
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
