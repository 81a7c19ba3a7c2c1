import { resolveSecrets, type InventorySecrets } from '../inventory/secrets.js';
import { prepareTls, type PreparedTls, type TlsMaterial } from '../pki/material.js';
import type { Session } from '../run/session.js';

/**
 * What hapg presents and trusts when it calls the hosts' services (etcd, Patroni's REST API):
 * its TLS material and the passwords it logs in with. A command sets it once it has resolved
 * them; until then (or for a command that needs none) the endpoints go without.
 */
export interface Access {
  tls: TlsMaterial | undefined;
  secrets: InventorySecrets | undefined;
}

/**
 * Resolves the run's TLS material (the CA, hapg's client certificate) and hands it and the
 * secrets to the endpoints, before any call to etcd or Patroni (the run lock included). An
 * inventory without TLS needs neither: nothing is read and the endpoints stay plain.
 */
export async function openAccess(session: Pick<Session, 'loaded' | 'model'>, secrets: InventorySecrets | undefined, opts: { createMissing: boolean; placeholder?: boolean }): Promise<PreparedTls> {
  const tls = await prepareTls(session.loaded, opts);
  if (!tls.material) return tls;
  session.model.access = { tls: tls.material, secrets: secrets ?? (await resolveSecrets(session.loaded, { createMissing: false })) };
  return tls;
}
