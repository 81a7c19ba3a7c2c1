// The CA hosts trust, on the operator's machine: hapg's own (created on first deploy, kept next
// to the secrets file, key mode 0600, never sent to a host) or one the inventory points at.
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { HapgError } from '../errors.js';
import { inventoryDir, localPath } from '../inventory/paths.js';
import { secretsFilePath } from '../inventory/secrets.js';
import type { LoadedInventory } from '../inventory/load.js';
import { Secret } from '../secret.js';
import { openssl } from './openssl.js';
import { normalPublicKey, parseCertificates, type CertificateInfo } from './x509.js';

/** The CA of one run. */
export interface LocalCa {
  /** The certificate hapg signs with (PEM). */
  signer: string;
  signerInfo: CertificateInfo;
  /** Its key; undefined when the inventory's CA comes without one (hosts bring ready certificates). */
  key: Secret | undefined;
  /** Every CA certificate hosts trust, as one PEM bundle: the signer, and while a rotation runs the CA it replaces. */
  trust: string;
  trustInfo: CertificateInfo[];
  /** Where it lives, for messages. */
  certPath: string;
  keyPath: string | undefined;
  source: 'hapg' | 'inventory';
}

/** Where hapg keeps its CA and its client certificate: next to the secrets file, named like it. */
export function tlsFiles(loaded: Pick<LoadedInventory, 'inventory' | 'path'>) {
  const secrets = secretsFilePath(loaded);
  const prefix = secrets.replace(/\.secrets\.ya?ml$/, '');
  return {
    caCert: `${prefix}.ca.crt`,
    caKey: `${prefix}.ca.key`,
    /** The CA a rotation replaces: trusted beside the new one until the rotation ends. */
    previousCaCert: `${prefix}.ca.previous.crt`,
    /** The CA a rotation brings in, before it signs: trusted beside the current one (phase 1 of `certs rotate-ca`). */
    nextCaCert: `${prefix}.ca.next.crt`,
    nextCaKey: `${prefix}.ca.next.key`,
    /** The old CA once every certificate is the new one's: no longer trusted, kept until every bundle dropped it (phase 3). */
    retiringCaCert: `${prefix}.ca.retiring.crt`,
    clientCert: `${prefix}.client.crt`,
    clientKey: `${prefix}.client.key`,
  };
}

/** Reads a file that holds a private key: refused when group or others may read it. */
export async function readPrivateFile(file: string, what: string): Promise<string> {
  let mode: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new HapgError('INVENTORY_INVALID', `${what} ${file} is not a regular file`);
    mode = st.mode & 0o777;
  } catch (err) {
    if (err instanceof HapgError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new HapgError('INVENTORY_INVALID', `cannot read ${what} ${file} (${code === 'ENOENT' ? 'not found' : (code ?? 'error')})`);
  }
  if ((mode & 0o077) !== 0) {
    throw new HapgError('INVENTORY_INVALID', `${what} ${file} has mode 0${mode.toString(8)}, open to group or others: run chmod 600 ${file}`);
  }
  return readFile(file, 'utf8');
}

const exists = (file: string) => stat(file).then(() => true, () => false);

/** Writes a local file atomically with `mode` (its directory 0700 when created). */
export async function writeLocalFile(file: string, content: string, mode: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temp, mode);
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** A PEM text ending in exactly one newline (bundles are concatenations). */
const pemBlock = (pem: string) => `${pem.trimEnd()}\n`;

/** A certificate file that must hold exactly one CA certificate. */
export function caFromPem(pem: string, file: string): CertificateInfo {
  let certs: CertificateInfo[];
  try {
    certs = parseCertificates(pem);
  } catch {
    throw new HapgError('INVENTORY_INVALID', `${file} is not a PEM certificate`);
  }
  const [ca] = certs;
  if (!ca || certs.length !== 1) throw new HapgError('INVENTORY_INVALID', `${file} must hold exactly one PEM certificate (found ${certs.length})`);
  if (!ca.isCa) throw new HapgError('INVENTORY_INVALID', `${file} is not a CA certificate (basicConstraints CA:FALSE)`);
  return ca;
}

function checkKeyMatches(cert: CertificateInfo, keyPem: string, keyFile: string, certFile: string): void {
  if (normalPublicKey(keyPem) !== cert.publicKey) throw new HapgError('INVENTORY_INVALID', `${keyFile} is not the private key of ${certFile}`);
}

/** A new CA: ECDSA P-256, ten years, allowed to sign host certificates only (pathlen 0). */
export async function createCa(name: string): Promise<{ cert: string; key: string }> {
  const run = await openssl(
    (dir) => [
      'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.crt'), '-days', '3650', '-sha256',
      '-subj', `/O=hapg/CN=${name}`,
      '-addext', 'basicConstraints = critical, CA:TRUE, pathlen:0',
      '-addext', 'keyUsage = critical, keyCertSign, cRLSign',
      '-addext', 'subjectKeyIdentifier = hash',
    ],
    {},
    'creating the CA',
  );
  try {
    return { cert: await readFile(path.join(run.dir, 'ca.crt'), 'utf8'), key: await readFile(path.join(run.dir, 'ca.key'), 'utf8') };
  } finally {
    await run.cleanup();
  }
}

/** The CA of this inventory's hosts, and whether this run made it up (then `persist` writes it). */
export interface PreparedCa {
  ca: LocalCa;
  created: boolean;
  persist(): Promise<void>;
}

/**
 * The inventory's CA (`tls.ca`) or hapg's own. hapg's own is created when missing and
 * `createMissing` (deploy; written by persist() before the first change), else a missing one
 * is an error, unless `placeholder` (plan) asks for a stand-in that is never written.
 */
export async function prepareCa(loaded: Pick<LoadedInventory, 'inventory' | 'path'>, opts: { createMissing: boolean; placeholder?: boolean }): Promise<PreparedCa> {
  const { inventory } = loaded;
  const base = inventoryDir(loaded.path);
  const configured = inventory.tls.ca;
  const noop = async () => {};
  if (configured) {
    const certPath = localPath(configured.file, base);
    const pem = await readFile(certPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new HapgError('INVENTORY_INVALID', `tls.ca.file: cannot read ${certPath} (${err.code === 'ENOENT' ? 'not found' : (err.code ?? 'error')})`);
    });
    const info = caFromPem(pem, certPath);
    let key: Secret | undefined;
    let keyPath: string | undefined;
    if (configured.key_file) {
      keyPath = localPath(configured.key_file, base);
      const keyPem = await readPrivateFile(keyPath, 'tls.ca.key_file');
      checkKeyMatches(info, keyPem, keyPath, certPath);
      key = new Secret(keyPem);
    }
    return { ca: { signer: pem, signerInfo: info, key, trust: pem, trustInfo: [info], certPath, keyPath, source: 'inventory' }, created: false, persist: noop };
  }
  const files = tlsFiles(loaded);
  const [haveCert, haveKey] = await Promise.all([exists(files.caCert), exists(files.caKey)]);
  if (haveCert !== haveKey) {
    throw new HapgError('INVENTORY_INVALID', `${haveCert ? files.caKey : files.caCert} is missing while ${haveCert ? files.caCert : files.caKey} exists: restore it from the machine that deployed the cluster`);
  }
  const previous = (await exists(files.previousCaCert)) ? await readFile(files.previousCaCert, 'utf8') : '';
  const previousInfo = previous ? [caFromPem(previous, files.previousCaCert)] : [];
  const next = (await exists(files.nextCaCert)) ? await readFile(files.nextCaCert, 'utf8') : '';
  const nextInfo = next ? [caFromPem(next, files.nextCaCert)] : [];
  if (next && previous) {
    throw new HapgError('UNSAFE_OPERATION', `a CA rotation was interrupted while the new CA took over (${files.nextCaCert} and ${files.previousCaCert} both exist): run \`hapg certs rotate-ca\` to finish it; nothing was changed`);
  }
  if (haveCert) {
    const pem = await readFile(files.caCert, 'utf8');
    const info = caFromPem(pem, files.caCert);
    const keyPem = await readPrivateFile(files.caKey, 'CA key');
    checkKeyMatches(info, keyPem, files.caKey, files.caCert);
    // During a rotation hosts trust the old CA first, then the new one, in both of its phases
    // (next: the new one waits; previous: it signs), so the bundle is the same text in both.
    const trust = next ? [pem, next] : previous ? [previous, pem] : [pem];
    const trustInfo = next ? [info, ...nextInfo] : previous ? [...previousInfo, info] : [info];
    return {
      ca: { signer: pem, signerInfo: info, key: new Secret(keyPem), trust: trust.map(pemBlock).join(''), trustInfo, certPath: files.caCert, keyPath: files.caKey, source: 'hapg' },
      created: false,
      persist: noop,
    };
  }
  if (!opts.createMissing && !opts.placeholder) {
    throw new HapgError('INVENTORY_INVALID', `the CA is not in ${files.caCert} yet: \`hapg deploy\` creates it`);
  }
  const made = await createCa(`hapg CA ${path.basename(loaded.path)} ${new Date().toISOString().slice(0, 10)}`);
  const info = caFromPem(made.cert, files.caCert);
  return {
    ca: { signer: made.cert, signerInfo: info, key: new Secret(made.key), trust: made.cert, trustInfo: [info], certPath: files.caCert, keyPath: files.caKey, source: 'hapg' },
    created: true,
    persist: opts.createMissing
      ? async () => {
          await writeLocalFile(files.caKey, made.key, 0o600);
          await writeLocalFile(files.caCert, made.cert, 0o644);
        }
      : noop,
  };
}
