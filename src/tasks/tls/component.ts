import type { Component } from '../component.js';
import { tlsStage, tlsTrustGate } from './stage.js';

/**
 * TLS material on the hosts: the CA bundle every TLS hop verifies against, and a certificate
 * per host and service (etcd; PostgreSQL with Patroni's REST API) whose key is made on the
 * host and never leaves it. Runs in the hosts phase, after the packages (the services' users
 * own their keys) and before any service starts.
 */
export const tlsComponent: Component = {
  name: 'tls',
  placements: () => [],
  stages: {
    gates: (model) => [tlsTrustGate(model)],
    hosts: (model) => [tlsStage(model)],
  },
};
