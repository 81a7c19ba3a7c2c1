import { HapgError } from '../../errors.js';
import { serviceStates } from '../../facts/services.js';
import type { DesiredState } from '../../model/model.js';
import { notesOnly, type Block, type Stage } from '../../stages/stage.js';
import { hostTls } from './facts.js';
import { certificatesOn, tlsHosts } from './model.js';
import { etcdNeedsRestart, planHostTls } from './plan.js';
import { etcdClient } from '../../model/endpoints.js';
import { service } from '../../run/steps.js';
import { waitForEtcdQuorum } from '../etcd/health.js';

/** The TLS facts of a host: its bundle and the certificates the inventory wants there. */
export function tlsFactOf(model: DesiredState, host: string) {
  return hostTls(certificatesOn(model.inventory, host).map((c) => [c.certPath, c.keyPath] as const));
}

/** The run's CA; its absence where TLS is wanted is a bug (commands prepare it first). */
export function requireCa(model: DesiredState) {
  const ca = model.access.tls?.ca;
  if (!ca) throw new HapgError('INTERNAL', 'TLS material was not prepared for this run');
  return ca;
}

/**
 * Before anything changes: every host that already trusts a CA trusts this run's. A checkout
 * without the CA that deployed the cluster would make up a new one and cut every TLS hop
 * (nothing would trust the new certificates); it is refused, like missing secrets.
 */
export function tlsTrustGate(model: DesiredState): Stage {
  return {
    id: 'gate:tls',
    title: 'Checking the CA',
    async plan({ session }) {
      const hosts = tlsHosts(model.inventory).filter((h) => session.remotes.has(h));
      if (hosts.length === 0) return notesOnly();
      const ca = requireCa(model);
      for (const host of hosts) {
        const held = await session.facts.get(host, tlsFactOf(model, host));
        if (held.trusted === undefined || held.trusted.some((c) => c.fingerprint256 === ca.signerInfo.fingerprint256)) continue;
        const theirs = held.trusted.map((c) => c.subject.replace(/\n/g, ', ')).join('; ') || 'an unreadable bundle';
        throw new HapgError(
          'UNSAFE_OPERATION',
          `${host} trusts another CA (${theirs}) than ${ca.certPath} (${ca.signerInfo.subject.replace(/\n/g, ', ')}): certificates from this CA would not be trusted by the cluster; nothing was changed`,
          { host, hint: ca.source === 'hapg' ? `bring ${ca.certPath} and its key from the machine that deployed the cluster, or point tls.ca at the cluster's CA` : 'point tls.ca at the CA the cluster trusts' },
        );
      }
      return notesOnly();
    },
  };
}

/**
 * CA bundles and certificates on every host that needs them, issued and renewed; before any
 * service starts. Every host's bundle is written (and Patroni, HAProxy reloaded) in the first
 * block; a running etcd member whose bundle changed then restarts, one member at a time, each
 * back in a healthy cluster before the next. `certs rotate-ca` drives this stage so that a
 * bundle change and a certificate change never fall in the same run.
 */
export function tlsStage(model: DesiredState): Stage {
  return {
    id: 'tls',
    title: 'Certificates',
    async plan({ session, mode }) {
      const hosts = tlsHosts(model.inventory).filter((h) => session.remotes.has(h));
      if (hosts.length === 0) return notesOnly();
      const ca = requireCa(model);
      const planned = await Promise.all(
        hosts.map(async (host) => {
          const [tls, services] = await Promise.all([session.facts.get(host, tlsFactOf(model, host)), session.facts.get(host, serviceStates(['etcd', 'haproxy', 'patroni']))]);
          return { host, items: planHostTls(model.inventory, host, ca, { tls, services }), restartEtcd: etcdNeedsRestart(ca, { tls, services }) };
        }),
      );
      const restarts: Block[] = planned
        .filter((p) => p.restartEtcd)
        .flatMap((p) => {
          const etcd = Object.entries(model.inventory.etcd).find(([, e]) => e.hosts.includes(p.host));
          if (!etcd) return [];
          return [{ items: [{ ...service(p.host, 'etcd', 'restarted'), title: 'restart etcd (it reads its CA bundle at start)' }], waits: [waitForEtcdQuorum(etcdClient(model, etcd[0]))] }];
        });
      const notes = mode === 'plan' && ca.source === 'hapg' && !(await caExistsLocally(ca.certPath)) ? [`create a CA (ECDSA P-256) in ${ca.certPath}, its key in ${ca.keyPath} (mode 0600, never sent to a host)`] : [];
      return { blocks: [{ items: planned.flatMap((p) => p.items) }, ...restarts], notes };
    },
  };
}

async function caExistsLocally(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  return stat(path).then(() => true, () => false);
}
