// A live cluster deployed without TLS that meets an inventory asking for TLS (the default since
// TLS became it): refused until hapg converts running clusters. The refusal lives here, in one
// place, so the conversion replaces it.
import { HapgError } from '../../errors.js';
import type { HttpFact } from '../../facts/fact.js';
import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import type { HttpResponse } from '../../ssh/types.js';
import { clustersOnEtcd, clusterTls, etcdTls } from './model.js';

/** A TLS server's answer to a plain HTTP request (etcd says so in a 400); Patroni's HTTPS server closes the connection. */
const TLS_REFUSES_PLAIN = /HTTP request to an HTTPS server/i;

/** Whether a service answers a plain-HTTP request at all: then it serves no TLS on that port. */
export function answersPlainHttp(response: HttpResponse | undefined): boolean {
  return response !== undefined && !(response.status === 400 && TLS_REFUSES_PLAIN.test(response.body));
}

/** GET `path` over plain HTTP to `address:port` from the host (inside the SSH connection): true when it answers in plaintext. */
export function plainHttpFact(address: string, port: number, path: string): HttpFact<boolean> {
  return {
    id: `plain-http:${address}:${port}${path}`,
    http: { method: 'GET', address, port, path, timeoutMs: 5000 },
    parse: answersPlainHttp,
  };
}

/** What shows a cluster that the inventory wants with TLS running without it: host and service that answered plain HTTP. */
export interface PlaintextEvidence {
  host: string;
  service: string;
}

/** The refusal for a TLS cluster (or TLS etcd cluster) found running in plaintext, or undefined when nothing answered in plaintext. */
export function plaintextRefusal(what: { cluster: string } | { etcd: string; clusters: string[] }, evidence: PlaintextEvidence[]): HapgError | undefined {
  const first = evidence[0];
  if (!first) return undefined;
  const seen = evidence.map((e) => `${e.host}: ${e.service}`).join('; ');
  const [subject, optOut] =
    'cluster' in what
      ? [`cluster ${what.cluster}`, `set clusters.${what.cluster}.tls: false`]
      : [`etcd cluster ${what.etcd}`, what.clusters.length > 0 ? `set tls: false on ${what.clusters.map((c) => `clusters.${c}`).join(', ')}` : 'remove it from the inventory'];
  return new HapgError(
    'UNSAFE_OPERATION',
    `${subject} runs without TLS (plain HTTP answered on ${seen}): ${optOut} to keep it so, or convert it to TLS (this version of hapg cannot convert a running cluster yet); nothing was changed`,
    { host: first.host },
  );
}

/**
 * Before anything changes: no cluster and no etcd cluster the inventory wants with TLS runs in
 * plaintext. Each etcd member and each Patroni member's REST API is asked over plain HTTP,
 * from its own host; a TLS service cannot answer that. What is not deployed yet answers
 * nothing and passes.
 */
export function plaintextClusterGate(model: DesiredState): Stage {
  return {
    id: 'gate:tls-plaintext',
    title: 'Checking for clusters running without TLS',
    async plan({ session }) {
      const { inventory } = model;
      const reachable = (h: string) => session.remotes.has(h);
      const answered = async (probes: (PlaintextEvidence & { fact: HttpFact<boolean> })[]) =>
        (await Promise.all(probes.map(async (p) => ((await session.facts.get(p.host, p.fact)) ? [{ host: p.host, service: p.service }] : [])))).flat();
      // etcd first: the clusters on a plaintext etcd cannot be converted before it.
      for (const [name, etcd] of Object.entries(inventory.etcd).filter(([e]) => etcdTls(inventory, e))) {
        const probes = etcd.hosts.filter(reachable).map((host) => ({ host, service: `etcd (port ${etcd.client_port})`, fact: plainHttpFact('127.0.0.1', etcd.client_port, '/health') }));
        const refusal = plaintextRefusal({ etcd: name, clusters: clustersOnEtcd(inventory, name) }, await answered(probes));
        if (refusal) throw refusal;
      }
      for (const name of model.clusterOrder.filter((c) => clusterTls(inventory, c))) {
        const cluster = inventory.clusters[name]!;
        const probes = cluster.hosts.filter(reachable).map((host) => ({
          host,
          service: `Patroni's REST API (port ${cluster.patroni.rest_api_port})`,
          fact: plainHttpFact(addressOf(inventory, host), cluster.patroni.rest_api_port, '/liveness'),
        }));
        const refusal = plaintextRefusal({ cluster: name }, await answered(probes));
        if (refusal) throw refusal;
      }
      return notesOnly();
    },
  };
}
