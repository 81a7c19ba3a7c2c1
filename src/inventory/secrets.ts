import { readFile } from 'node:fs/promises';
import { HapgError } from '../errors.js';
import { Secret } from '../secret.js';
import { defaultSecretsFile } from './defaults.js';
import { InventoryError, type InventoryIssue, type PathSegment, toInventoryIssue } from './issues.js';
import type { LoadedInventory } from './load.js';
import { inventoryDir, localPath } from './paths.js';
import type { SecretRef } from './primitives.js';
import type { Inventory } from './schema.js';
import { generatePassword, readSecretsFile, writeSecretsFile } from './secrets-file.js';
import { describeChar, firstControlChar } from './text.js';
import { etcdTls } from '../tasks/tls/model.js';

/** Passwords Patroni needs per cluster, besides the application users. */
export const CLUSTER_SECRETS = ['superuser', 'replication', 'rewind', 'rest_api', 'check', 'vrrp', 'etcd'] as const;
export type ClusterSecretName = (typeof CLUSTER_SECRETS)[number];

/** Roles a standby cluster shares with its source: it is a physical copy of the source's catalog. */
const SHARED_WITH_SOURCE: readonly ClusterSecretName[] = ['superuser', 'replication', 'rewind', 'check'];

/** Stable key of a cluster secret: `clusters.main.superuser`. */
export function clusterSecretKey(cluster: string, name: ClusterSecretName): string {
  return `clusters.${cluster}.${name}`;
}

/** Stable key of the password of etcd cluster `etcd`'s root user: `etcd.dc1.root`. */
export function etcdRootSecretKey(etcd: string): string {
  return `etcd.${etcd}.root`;
}

/** Stable key of an application user's password: `clusters.main.users.app`. */
export function userSecretKey(cluster: string, user: string): string {
  return `clusters.${cluster}.users.${user}`;
}

/**
 * Stable key of a cluster's backup repository encryption key: `backups.main.cipher`. Outside
 * `clusters.<name>.`, so that a key made for backups enabled on a live cluster is judged by
 * the backup component (a fresh key is fine for a new repository, never for an existing one).
 */
export function backupCipherKey(cluster: string): string {
  return `backups.${cluster}.cipher`;
}

/** Every secret of the inventory by stable key; keys of a standby's shared roles hold its source's Secret. */
export type InventorySecrets = ReadonlyMap<string, Secret>;

/** A resolved secret; its absence is a bug (every reference is resolved before any use). */
export function requireSecret(secrets: InventorySecrets, key: string): Secret {
  const secret = secrets.get(key);
  if (!secret) throw new HapgError('INTERNAL', `secret ${key} was not resolved`);
  return secret;
}

interface SecretSlot {
  key: string;
  ref: SecretRef;
  /** Where the reference is in the inventory (for messages). */
  path: PathSegment[];
}

/** Secrets resolved for a command that changes hosts, before anything is written. */
export interface PreparedSecrets {
  secrets: InventorySecrets;
  /** Keys of generated secrets this run made up: new ones (not in the secrets file, or rotated), or plan's stand-ins. */
  created: string[];
  /** Writes the secrets file when something was created; call it before the first change. */
  persist(): Promise<void>;
}

/**
 * Resolves every password the inventory refers to. Generated ones live in the secrets file:
 * created (mode 0600) when `createMissing` (deploy), otherwise a missing one is an error.
 */
export async function resolveSecrets(
  loaded: LoadedInventory,
  opts: { createMissing: boolean; /** plan: stand-ins for generated secrets that do not exist yet */ placeholders?: boolean },
): Promise<InventorySecrets> {
  const prepared = await prepareSecrets(loaded, opts);
  await prepared.persist();
  return prepared.secrets;
}

/**
 * Like resolveSecrets, but generated secrets made in this run are only written to the
 * secrets file by `persist()`: the caller first checks that making them is safe (a live
 * cluster already has passwords that a missing secrets file would silently replace).
 * `rotate`: every generated secret is made anew.
 */
export async function prepareSecrets(
  loaded: LoadedInventory,
  opts: { createMissing: boolean; placeholders?: boolean; rotate?: boolean },
): Promise<PreparedSecrets> {
  const { inventory } = loaded;
  const baseDir = inventoryDir(loaded.path);
  const secretsFile = secretsFilePath(loaded);
  const slots = secretSlots(inventory);
  const issues: InventoryIssue[] = [];
  const fail = (slot: SecretSlot, problem: string) =>
    issues.push(toInventoryIssue({ path: slot.path, message: problem }, loaded.path, loaded.locate(slot.path)));

  const needsFile = slots.some((s) => 'generate' in s.ref);
  const generated = needsFile ? await readSecretsFile(secretsFile) : new Map<string, string>();
  const created: string[] = [];

  const values = new Map<string, Secret>();
  for (const slot of slots) {
    const ref = slot.ref;
    if ('env' in ref) {
      const value = process.env[ref.env];
      const problem = value === '' ? 'is empty' : value === undefined ? undefined : passwordProblem(value);
      if (value === undefined) fail(slot, `environment variable ${ref.env} is not set: export it before running hapg`);
      else if (problem !== undefined) fail(slot, `the password in environment variable ${ref.env} ${problem}`);
      else values.set(slot.key, new Secret(value));
    } else if ('file' in ref) {
      const file = localPath(ref.file, baseDir);
      try {
        const value = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
        const problem = value === '' ? 'is empty' : passwordProblem(value);
        if (problem !== undefined) fail(slot, `the password in secret file ${ref.file} ${problem}`);
        else values.set(slot.key, new Secret(value));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        fail(slot, `cannot read secret file ${ref.file} (${code === 'ENOENT' ? 'not found' : (code ?? 'error')})`);
      }
    } else {
      let value = opts.rotate ? undefined : generated.get(slot.key);
      if (value === undefined && opts.createMissing) {
        value = generatePassword();
        generated.set(slot.key, value);
        created.push(slot.key);
      } else if (value === undefined && opts.placeholders) {
        value = `(generated on first deploy: ${slot.key})`;
        created.push(slot.key);
      }
      if (value === undefined) {
        fail(slot, `the generated password is not in ${inventory.secrets_file ?? secretsFile} yet: \`hapg deploy\` creates it`);
      } else values.set(slot.key, new Secret(value));
    }
  }
  if (issues.length > 0) throw new InventoryError(issues);
  const persist = async () => {
    if (created.length > 0 && opts.createMissing) await writeSecretsFile(secretsFile, generated, loaded.path);
  };

  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    if (!cluster.standby) continue;
    const root = standbyRoot(inventory, name);
    for (const secret of SHARED_WITH_SOURCE) {
      const value = values.get(clusterSecretKey(root, secret));
      if (value) values.set(clusterSecretKey(name, secret), value);
    }
  }
  return { secrets: values, created, persist };
}

/** Passwords shorter than this are refused: masking a very short value in output cannot be relied on. */
const MIN_PASSWORD_LENGTH = 8;

/**
 * What is wrong with a password from the operator (`{ env }` or `{ file }`), told without the
 * password: too short to mask reliably, or holding a control character that would break the
 * files it is written to (patroni.yml, .pgpass).
 */
function passwordProblem(value: string): string | undefined {
  if ([...value].length < MIN_PASSWORD_LENGTH) {
    return `is shorter than ${MIN_PASSWORD_LENGTH} characters: use a longer one (hapg masks passwords in its output, which cannot work reliably for very short values)`;
  }
  const control = firstControlChar(value);
  if (control !== undefined) return `contains ${describeChar(control)}: a password is one line of visible characters`;
  return undefined;
}

/** Absolute path of the secrets file (secrets_file is relative to the inventory's directory). */
export function secretsFilePath(loaded: Pick<LoadedInventory, 'inventory' | 'path'>): string {
  const file = loaded.inventory.secrets_file ?? defaultSecretsFile(loaded.path);
  return localPath(file, inventoryDir(loaded.path));
}

/** The secrets an inventory owns: etcd's root passwords, each cluster's (a standby cluster shares its source's roles), the users'. */
function secretSlots(inventory: Inventory): SecretSlot[] {
  const slots: SecretSlot[] = [];
  for (const [name, etcd] of Object.entries(inventory.etcd)) {
    // etcd's users exist only where authentication is on (an etcd cluster serving a TLS cluster).
    if (!etcdTls(inventory, name)) continue;
    slots.push({ key: etcdRootSecretKey(name), ref: etcd.secrets.root, path: ['etcd', name, 'secrets', 'root'] });
  }
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    for (const secret of CLUSTER_SECRETS) {
      if (cluster.standby && SHARED_WITH_SOURCE.includes(secret)) continue;
      if (secret === 'etcd' && !etcdTls(inventory, cluster.etcd)) continue;
      slots.push({ key: clusterSecretKey(name, secret), ref: cluster.secrets[secret], path: ['clusters', name, 'secrets', secret] });
    }
    for (const [user, spec] of Object.entries(cluster.postgres.users)) {
      slots.push({ key: userSecretKey(name, user), ref: spec.password, path: ['clusters', name, 'postgres', 'users', user, 'password'] });
    }
    if (cluster.backup?.encryption) {
      slots.push({ key: backupCipherKey(name), ref: cluster.backup.encryption.key, path: ['clusters', name, 'backup', 'encryption', 'key'] });
    }
  }
  return slots;
}

/** The primary cluster at the top of a standby chain (the inventory is validated: no loops). */
function standbyRoot(inventory: Inventory, name: string): string {
  let current = name;
  for (let hops = 0; hops < Object.keys(inventory.clusters).length; hops++) {
    const next = inventory.clusters[current]?.standby?.cluster;
    if (next === undefined) return current;
    current = next;
  }
  return current;
}
