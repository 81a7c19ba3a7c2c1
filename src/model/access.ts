import type { InventorySecrets } from '../inventory/secrets.js';
import type { TlsMaterial } from '../pki/material.js';

/**
 * What hapg presents and trusts when it calls the hosts' services (etcd, Patroni's REST API):
 * its TLS material and the passwords it logs in with. A command sets it once it has resolved
 * them; until then (or for a command that needs none) the endpoints go without.
 */
export interface Access {
  tls: TlsMaterial | undefined;
  secrets: InventorySecrets | undefined;
}
