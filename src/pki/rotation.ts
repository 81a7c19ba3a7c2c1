// Where a rotation of hapg's own CA stands, read from the files next to the secrets file, and
// the moves between its phases. The files are the state: a rotation killed half-way is resumed
// by running `hapg certs rotate-ca` again, and `deploy` meanwhile keeps trusting both CAs.
//
//   none     ca.crt/ca.key only: hosts trust the one CA.
//   trust    + ca.next.crt/ca.next.key: the new CA exists; hosts trust old and new, the old one signs.
//   takeover + both next and previous: the new CA was being moved in (killed between two renames).
//   reissue  + ca.previous.crt: the new CA signs (ca.crt/ca.key); hosts still trust the old one too.
//   retire   + ca.retiring.crt: every certificate is the new CA's; bundles drop the old one.
import { readFile, rename, stat, unlink } from 'node:fs/promises';
import { HapgError } from '../errors.js';
import type { LoadedInventory } from '../inventory/load.js';
import { caFromPem, createCa, readPrivateFile, tlsFiles, writeLocalFile } from './ca.js';
import { normalPublicKey } from './x509.js';
import path from 'node:path';

export type RotationPhase = 'none' | 'trust' | 'takeover' | 'reissue' | 'retire';

type Files = ReturnType<typeof tlsFiles>;
type Loaded = Pick<LoadedInventory, 'inventory' | 'path'>;

const exists = (file: string) => stat(file).then(() => true, () => false);

/** The phase a set of present files means (pure: `present` says which files exist). */
export function phaseOf(present: { next: boolean; previous: boolean; retiring?: boolean }): RotationPhase {
  if (present.retiring && !present.next) return 'retire';
  if (present.next && present.previous) return 'takeover';
  if (present.next) return 'trust';
  if (present.previous) return 'reissue';
  return 'none';
}

/** The rotation phase of an inventory's CA, from its files. */
export async function rotationPhase(loaded: Loaded): Promise<RotationPhase> {
  const files = tlsFiles(loaded);
  // A new CA's certificate is written after its key: a key alone is a start that was cut short (made again).
  return phaseOf({ next: await exists(files.nextCaCert), previous: await exists(files.previousCaCert), retiring: await exists(files.retiringCaCert) });
}

/** Refuses an inventory that brings its own CA: its owner rotates it. */
export function assertOwnCa(loaded: Loaded): void {
  if (loaded.inventory.tls.ca) {
    throw new HapgError('INVENTORY_INVALID', `tls.ca.file: the inventory brings its own CA (${loaded.inventory.tls.ca.file}); hapg rotates only the CA it made: rotate yours, then point tls.ca at the new one`);
  }
}

/** Phase 1 begins: a new CA, its key 0600, written as the next CA (trusted, not yet signing). */
export async function stageNextCa(loaded: Loaded): Promise<void> {
  const files = tlsFiles(loaded);
  if (!(await exists(files.caCert)) || !(await exists(files.caKey))) {
    throw new HapgError('INVENTORY_INVALID', `no CA in ${files.caCert} to rotate: \`hapg deploy\` creates it`);
  }
  const made = await createCa(`hapg CA ${path.basename(loaded.path)} ${new Date().toISOString().slice(0, 10)}`);
  await writeLocalFile(files.nextCaKey, made.key, 0o600);
  await writeLocalFile(files.nextCaCert, made.cert, 0o644);
}

/**
 * Phase 2 begins: the next CA signs from now on, the current one is kept as the previous CA.
 * Each write can be repeated: killed between two of them, a second call ends in the same files.
 */
export async function promoteNextCa(loaded: Loaded): Promise<void> {
  const files: Files = tlsFiles(loaded);
  const nextCert = await readFile(files.nextCaCert, 'utf8');
  const nextInfo = caFromPem(nextCert, files.nextCaCert);
  const nextKey = await readPrivateFile(files.nextCaKey, 'the new CA key');
  if (normalPublicKey(nextKey) !== nextInfo.publicKey) throw new HapgError('INVENTORY_INVALID', `${files.nextCaKey} is not the private key of ${files.nextCaCert}`);
  if (!(await exists(files.previousCaCert))) {
    const current = await readFile(files.caCert, 'utf8');
    if (caFromPem(current, files.caCert).fingerprint256 !== nextInfo.fingerprint256) await writeLocalFile(files.previousCaCert, current, 0o644);
  }
  await writeLocalFile(files.caKey, nextKey, 0o600);
  await writeLocalFile(files.caCert, nextCert, 0o644);
  await unlink(files.nextCaCert);
  await unlink(files.nextCaKey).catch(() => undefined);
}

/** Phase 3 begins: the old CA is no longer trusted (renamed to the retiring CA until every bundle dropped it). */
export async function retirePreviousCa(loaded: Loaded): Promise<void> {
  const files = tlsFiles(loaded);
  if (await exists(files.previousCaCert)) await rename(files.previousCaCert, files.retiringCaCert);
}

/** Phase 3 done: every host's bundle holds the new CA only; the old one is forgotten. */
export async function forgetRetiringCa(loaded: Loaded): Promise<void> {
  await unlink(tlsFiles(loaded).retiringCaCert).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** What each phase does, in the words `--dry-run` prints; `from` is where the rotation stands. */
export function rotationSteps(from: RotationPhase): string[] {
  const all: [RotationPhase[], string][] = [
    [['none'], 'create a new CA (ECDSA P-256) next to the current one, its key mode 0600 on this machine only'],
    [['none', 'trust'], 'phase 1: write old+new CA bundle on every host, reload Patroni (PostgreSQL, REST API) and HAProxy, restart etcd members one at a time (etcd reads its CA bundle at start); verify every member healthy, etcd healthy, HAProxy routing'],
    [['none', 'trust', 'takeover'], 'the new CA signs from now on; the old certificate is kept as the previous CA (trusted until phase 3)'],
    [['none', 'trust', 'takeover', 'reissue'], "phase 2: reissue every host's etcd and PostgreSQL certificate and hapg's client certificate with the new CA, reload Patroni (no PostgreSQL restart); verify, and check every certificate on every host is issued by the new CA"],
    [['none', 'trust', 'takeover', 'reissue', 'retire'], 'phase 3: write the bundle with the new CA only on every host, reload Patroni and HAProxy, restart etcd members one at a time; verify; forget the previous CA'],
  ];
  return all.filter(([phases]) => phases.includes(from)).map(([, text]) => text);
}
