// Everything TLS one run works with on the operator's machine: the CA and hapg's own client
// certificate (etcd asks every client for one). Prepared like the secrets: made when missing
// by deploy, written before the first change.
import { readFile, stat } from 'node:fs/promises';
import { HapgError } from '../errors.js';
import type { LoadedInventory } from '../inventory/load.js';
import { inventoryDir, localPath } from '../inventory/paths.js';
import type { Inventory } from '../inventory/schema.js';
import { Secret } from '../secret.js';
import { tlsNeeded } from '../tasks/tls/model.js';
import { prepareCa, readPrivateFile, tlsFiles, writeLocalFile, type LocalCa } from './ca.js';
import { localKeyAndCsr, signCsr } from './sign.js';
import { daysLeft, issuedBy, normalPublicKey, parseCertificates } from './x509.js';

/** A client certificate and its key. */
export interface ClientCertificate {
  cert: string;
  key: Secret;
}

export interface TlsMaterial {
  ca: LocalCa;
  /** hapg's own client certificate: etcd refuses TLS clients without one. */
  client: ClientCertificate;
}

export interface PreparedTls {
  /** undefined: no cluster and no etcd of the inventory uses TLS. */
  material: TlsMaterial | undefined;
  /** What this run made up (`ca`, `client`): written by persist(). */
  created: string[];
  persist(): Promise<void>;
}

const exists = (file: string) => stat(file).then(() => true, () => false);

/** Subject of hapg's client certificate: no Common Name (etcd's gateway refuses one once authentication is on). */
export const CLIENT_SUBJECT = '/O=hapg/OU=operator';

/** The CA and hapg's client certificate for one run (see prepareCa for createMissing and placeholder). */
export async function prepareTls(loaded: Pick<LoadedInventory, 'inventory' | 'path'>, opts: { createMissing: boolean; placeholder?: boolean }): Promise<PreparedTls> {
  const { inventory } = loaded;
  if (!tlsNeeded(inventory)) return { material: undefined, created: [], persist: async () => {} };
  const ca = await prepareCa(loaded, opts);
  if (!ca.ca.key) {
    throw new HapgError('INVENTORY_INVALID', `tls.ca: hapg signs the hosts' certificates with the CA: set tls.ca.key_file (ready host certificates are not supported yet)`);
  }
  const created = ca.created ? ['ca'] : [];
  const configured = inventory.tls.client;
  if (configured) {
    const base = inventoryDir(loaded.path);
    const certPath = localPath(configured.cert_file, base);
    const keyPath = localPath(configured.key_file, base);
    const cert = await readFile(certPath, 'utf8').catch(() => {
      throw new HapgError('INVENTORY_INVALID', `tls.client.cert_file: cannot read ${certPath}`);
    });
    const key = await readPrivateFile(keyPath, 'tls.client.key_file');
    checkClient(inventory, ca.ca, cert, key, certPath);
    return { material: { ca: ca.ca, client: { cert, key: new Secret(key) } }, created, persist: ca.persist };
  }
  if (!ca.ca.key) {
    throw new HapgError('INVENTORY_INVALID', 'tls.client: hapg needs a client certificate for etcd; with tls.ca and no key_file it cannot issue one: set tls.client to a certificate without Common Name signed by tls.ca');
  }
  const files = tlsFiles(loaded);
  if (!ca.created && (await exists(files.clientCert)) && (await exists(files.clientKey))) {
    const cert = await readFile(files.clientCert, 'utf8');
    const key = await readPrivateFile(files.clientKey, "hapg's client key");
    const [info] = parseCertificates(cert);
    if (info && issuedBy(info, [ca.ca.signerInfo]) && daysLeft(info) > inventory.tls.renew_days && normalPublicKey(key) === info.publicKey) {
      return { material: { ca: ca.ca, client: { cert, key: new Secret(key) } }, created, persist: ca.persist };
    }
  }
  const made = await localKeyAndCsr(CLIENT_SUBJECT);
  const cert = await signCsr(ca.ca, made.csr, { label: "hapg's client certificate", sans: [], days: inventory.tls.validity_days, usage: 'client' });
  return {
    material: { ca: ca.ca, client: { cert, key: new Secret(made.key) } },
    created: [...created, 'client'],
    persist: async () => {
      await ca.persist();
      if (!opts.createMissing) return;
      await writeLocalFile(files.clientKey, made.key, 0o600);
      await writeLocalFile(files.clientCert, cert, 0o644);
    },
  };
}

/** A ready client certificate: parses, matches its key, chains to the CA, carries no Common Name. */
function checkClient(inventory: Inventory, ca: LocalCa, certPem: string, keyPem: string, certPath: string): void {
  const [info] = (() => {
    try {
      return parseCertificates(certPem);
    } catch {
      return [];
    }
  })();
  if (!info) throw new HapgError('INVENTORY_INVALID', `tls.client.cert_file: ${certPath} is not a PEM certificate`);
  if (normalPublicKey(keyPem) !== info.publicKey) throw new HapgError('INVENTORY_INVALID', `tls.client.key_file is not the private key of ${certPath}`);
  if (!issuedBy(info, ca.trustInfo)) throw new HapgError('INVENTORY_INVALID', `tls.client.cert_file: ${certPath} is not signed by tls.ca`);
  if (info.commonName) throw new HapgError('INVENTORY_INVALID', `tls.client.cert_file: ${certPath} has Common Name "${info.commonName}": etcd's gateway refuses client certificates with one once authentication is on`);
  if (daysLeft(info) < 0) throw new HapgError('INVENTORY_INVALID', `tls.client.cert_file: ${certPath} expired on ${info.notAfter.toISOString().slice(0, 10)}`);
  void inventory;
}
