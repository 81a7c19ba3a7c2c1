import { HapgError } from '../../errors.js';
import { secretsFilePath } from '../../inventory/secrets.js';
import type { DesiredState } from '../../model/model.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { isClusterInitialized } from './cluster-state.js';

/**
 * Generated passwords live in the local secrets file. Run from a checkout without it (a
 * colleague's machine, CI), a deploy would generate new ones and set them on the live
 * cluster: applications locked out, the new passwords only on that machine. So for a cluster
 * already initialised, made-up passwords are refused unless --rotate-secrets asks for them.
 */
export function freshSecretsGate(model: DesiredState): Stage {
  return {
    id: 'gate:secrets',
    title: 'Checking generated secrets',
    async plan({ session, options }) {
      const fresh = options.freshSecrets ?? [];
      if (fresh.length === 0 || options.rotateSecrets) return notesOnly();
      for (const name of model.clusterOrder) {
        // A conversion to TLS creates the etcd login of a cluster whose etcd has no authentication yet: nothing uses it before.
        const converting = model.inventory.tlsConversion?.etcd[model.inventory.clusters[name]!.etcd] !== undefined;
        const own = fresh
          .filter((k) => k.startsWith(`clusters.${name}.`))
          .map((k) => k.slice(`clusters.${name}.`.length))
          .filter((k) => !(converting && k === 'etcd'));
        if (own.length === 0 || !(await isClusterInitialized(session.facts, model, name))) continue;
        throw new HapgError(
          'UNSAFE_OPERATION',
          `cluster ${name} is already initialised, but ${secretsFilePath(session.loaded)} lacks its generated passwords (${own.join(', ')}): deploying would set new ones on the live cluster and lock its clients out; nothing was changed`,
          { hint: 'bring the secrets file from the machine that deployed the cluster, or re-run with --rotate-secrets to set new passwords deliberately' },
        );
      }
      return notesOnly();
    },
  };
}
