// A running cluster whose TLS setting the inventory flips. Converting a live plaintext cluster
// (etcd peers and clients, etcd authentication, Patroni's REST API, PostgreSQL, HAProxy's and
// keepalived's checks) in an order that never cuts a member off is not automated yet: until it
// is, deploy and plan refuse before anything changes, naming what runs and what the inventory
// asks. Without this gate the etcd gate reads the scheme change as a member moving to another
// address, and a cluster on an etcd that already speaks TLS would have its REST API, pg_hba
// and HAProxy checks switched in one step.
import { HapgError } from '../../errors.js';
import type { HttpFact } from '../../facts/fact.js';
import { etcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';
import type { Session } from '../../run/session.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import type { EtcdMember } from '../etcd/facts.js';
import { isClusterInitialized } from '../patroni/cluster-state.js';
import { clustersOnEtcd, clusterTls, etcdTls } from './model.js';

/** How the live members of an etcd cluster talk to their peers: by the schemes of their peer URLs. */
export type PeerScheme = 'http' | 'https' | 'mixed';

/** The scheme the live members' peer URLs use (undefined: no member listed). */
export function livePeerScheme(peerUrls: readonly (readonly string[])[]): PeerScheme | undefined {
  const schemes = new Set(peerUrls.flat().map((u) => (u.startsWith('https://') ? 'https' : 'http')));
  if (schemes.size === 0) return undefined;
  return schemes.size > 1 ? 'mixed' : ([...schemes][0] as PeerScheme);
}

/**
 * The refusal for an etcd cluster whose peers run with `running` while the inventory wants
 * TLS (`wantTls`), or undefined when they agree. `clusters`: the clusters on it with their
 * `tls` setting, named in the message.
 */
export function etcdConversionRefusal(etcd: string, running: PeerScheme | undefined, wantTls: boolean, clusters: readonly { name: string; tls: boolean }[]): HapgError | undefined {
  if (running === undefined || (running !== 'mixed' && (running === 'https') === wantTls)) return undefined;
  const asking = clusters.filter((c) => c.tls).map((c) => `clusters.${c.name}.tls: true`);
  const settings = clusters.map((c) => `clusters.${c.name}.tls`).join(', ');
  if (running === 'mixed') {
    return new HapgError('UNSAFE_OPERATION', `etcd cluster ${etcd} runs with both http and https peer URLs (a conversion done by hand, or cut short): hapg does not change a cluster in that state; nothing was changed`, {
      hint: `bring every member of etcd cluster ${etcd} to one scheme by hand (etcdctl member update, then restart the member), then deploy`,
    });
  }
  if (wantTls) {
    return new HapgError(
      'UNSAFE_OPERATION',
      `etcd cluster ${etcd} runs without TLS (http peer URLs), but the inventory asks for TLS (${asking.join(', ')}): converting a running plaintext cluster to TLS is not automated yet; nothing was changed`,
      { hint: `keep tls: false on every cluster on etcd cluster ${etcd} (${settings}) for now` },
    );
  }
  return new HapgError('UNSAFE_OPERATION', `etcd cluster ${etcd} runs with TLS and authentication, but no cluster on it asks for TLS any more: hapg does not turn TLS off on a running cluster; nothing was changed`, {
    hint: `set tls: true again on the clusters that had it (${settings})`,
  });
}

/** Whether Patroni's REST API on a member answers plain HTTP (it serves no TLS): a probe that never speaks TLS. */
export function restApiPlainFact(port: number, address: string): HttpFact<boolean> {
  return {
    id: `patroni-plain-http:${port}`,
    http: { method: 'GET', address, port, path: '/patroni', timeoutMs: 5000 },
    parse: (res) => res !== undefined && /"state"\s*:/.test(res.body),
  };
}

/** The member list as the first inventory member that answers gives it (cached for the run); undefined when none answers. */
async function liveMembers(session: Session, model: DesiredState, etcd: string): Promise<EtcdMember[] | undefined> {
  const client = etcdClient(model, etcd);
  for (const host of client.hosts.filter((h) => session.remotes.has(h))) {
    const listed = await session.facts.get(host, client.members()).catch(() => undefined);
    if (listed) return listed;
  }
  return undefined;
}

/**
 * Before anything changes: no running cluster changes between plaintext and TLS. An etcd
 * cluster is judged by its members' peer URLs; a cluster that wants TLS on an etcd cluster
 * that already speaks it, by whether its members' REST API still answers plain HTTP.
 */
export function tlsConversionGate(model: DesiredState): Stage {
  return {
    id: 'gate:tls-conversion',
    title: 'Checking for clusters changing to or from TLS',
    async plan({ session }) {
      const { inventory } = model;
      for (const etcd of Object.keys(inventory.etcd)) {
        const listed = await liveMembers(session, model, etcd);
        if (!listed) continue;
        const clusters = clustersOnEtcd(inventory, etcd).map((name) => ({ name, tls: clusterTls(inventory, name) }));
        const refusal = etcdConversionRefusal(etcd, livePeerScheme(listed.map((m) => m.peerUrls)), etcdTls(inventory, etcd), clusters);
        if (refusal) throw refusal;
      }
      for (const [name, cluster] of Object.entries(inventory.clusters)) {
        if (!clusterTls(inventory, name) || !(await isClusterInitialized(session.facts, model, name))) continue;
        const hosts = cluster.hosts.filter((h) => session.remotes.has(h));
        const plain = await Promise.all(hosts.map((h) => session.facts.get(h, restApiPlainFact(cluster.patroni.rest_api_port, addressOf(inventory, h)))));
        const host = hosts.find((_, i) => plain[i]);
        if (host) {
          throw new HapgError(
            'UNSAFE_OPERATION',
            `cluster ${name} runs without TLS (${host}: Patroni's REST API answers plain HTTP), but the inventory asks for TLS (clusters.${name}.tls: true): converting a running plaintext cluster to TLS is not automated yet; nothing was changed`,
            { host, hint: `keep clusters.${name}.tls: false for now` },
          );
        }
      }
      return notesOnly();
    },
  };
}
