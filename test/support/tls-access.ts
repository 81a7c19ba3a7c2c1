// Unit tests plan against TLS clusters (the default) without a CA: the endpoints only need to
// know that the command loaded TLS material, never to use it (no connection is made).
import type { DesiredState } from '../../src/model/model.js';
import type { InventorySecrets } from '../../src/inventory/secrets.js';
import { Secret } from '../../src/secret.js';

/** `model` with stand-in TLS material, as a command sets it after openAccess. */
export function withTestAccess<M extends DesiredState>(model: M, secrets?: InventorySecrets): M {
  model.access = {
    tls: {
      ca: { signer: 'TEST CA', signerInfo: undefined as never, key: undefined, trust: 'TEST CA', trustInfo: [], certPath: 'ca.crt', keyPath: undefined, source: 'hapg' },
      client: { cert: 'TEST CLIENT', key: new Secret('TEST KEY') },
    },
    secrets,
  };
  return model;
}
