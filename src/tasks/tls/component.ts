import type { Component } from '../component.js';
import { tlsHosts } from './model.js';
import { plaintextClusterGate } from './plaintext.js';
import { tlsStage, tlsTrustGate } from './stage.js';

/**
 * TLS material on the hosts: the CA bundle every TLS hop verifies against, and a certificate
 * per host and service (etcd; PostgreSQL with Patroni's REST API) whose key is made on the
 * host and never leaves it. Runs in the hosts phase, after the packages (the services' users
 * own their keys) and before any service starts.
 */
export const tlsComponent: Component = {
  name: 'tls',
  // Keys and certificate requests are made on the hosts with openssl.
  placements: (inventory) => tlsHosts(inventory).map((host) => ({ component: 'tls', of: 'tls', host, role: 'tls', ports: [], packages: ['openssl'], services: [], dataPaths: [] })),
  stages: {
    gates: (model) => [plaintextClusterGate(model), tlsTrustGate(model)],
    hosts: (model) => [tlsStage(model)],
  },
};
