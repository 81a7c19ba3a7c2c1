// A live cluster deployed without TLS that meets an inventory asking for TLS (the default since
// TLS became it): refused until hapg converts running clusters. The refusal lives here, in one
// place, so the conversion replaces it.
import { HapgError } from '../../errors.js';
import type { HttpFact } from '../../facts/fact.js';
import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import type { HttpResponse } from '../../ssh/types.js';
import { clusterTls, etcdTls } from './model.js';

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

/** The refusal for a TLS cluster found running in plaintext, or undefined when nothing answered in plaintext. */
export function plaintextRefusal(cluster: string, evidence: PlaintextEvidence[]): HapgError | undefined {
  const first = evidence[0];
  if (!first) return undefined;
  const seen = evidence.map((e) => `${e.host}: ${e.service}`).join('; ');
  return new HapgError(
    'UNSAFE_OPERATION',
    `cluster ${cluster} runs without TLS (plain HTTP answered on ${seen}): set clusters.${cluster}.tls: false to keep it so, or convert it to TLS (this version of hapg cannot convert a running cluster yet); nothing was changed`,
    { host: first.host },
  );
}

/**
 * Before anything changes: no cluster the inventory wants with TLS runs in plaintext. Its
 * members' REST APIs and its etcd members are asked over plain HTTP, from their own hosts; a
 * TLS service cannot answer that. A cluster not deployed yet answers nothing and passes.
 */
export function plaintextClusterGate(model: DesiredState): Stage {
  return {
    id: 'gate:tls-plaintext',
    title: 'Checking for clusters running without TLS',
    async plan({ session }) {
      const { inventory } = model;
      const reachable = (h: string) => session.remotes.has(h);
      for (const name of model.clusterOrder.filter((c) => clusterTls(inventory, c))) {
        const cluster = inventory.clusters[name]!;
        const probes: (PlaintextEvidence & { fact: HttpFact<boolean> })[] = [
          ...cluster.hosts.filter(reachable).map((host) => ({
            host,
            service: `Patroni's REST API (port ${cluster.patroni.rest_api_port})`,
            fact: plainHttpFact(addressOf(inventory, host), cluster.patroni.rest_api_port, '/liveness'),
          })),
          ...(etcdTls(inventory, cluster.etcd) ? inventory.etcd[cluster.etcd]!.hosts : []).filter(reachable).map((host) => ({
            host,
            service: `etcd ${cluster.etcd} (port ${inventory.etcd[cluster.etcd]!.client_port})`,
            fact: plainHttpFact('127.0.0.1', inventory.etcd[cluster.etcd]!.client_port, '/health'),
          })),
        ];
        const answered = await Promise.all(probes.map(async (p) => ((await session.facts.get(p.host, p.fact)) ? [{ host: p.host, service: p.service }] : [])));
        const refusal = plaintextRefusal(name, answered.flat());
        if (refusal) throw refusal;
      }
      return notesOnly();
    },
  };
}
