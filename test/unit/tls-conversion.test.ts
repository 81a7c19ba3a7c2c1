import { describe, expect, it } from 'vitest';
import { etcdConversionRefusal, livePeerScheme, restApiPlainFact } from '../../src/tasks/tls/conversion.js';

const http = (n: number) => [`http://192.0.2.1${n}:2380`];
const https = (n: number) => [`https://192.0.2.1${n}:2380`];

describe('a running cluster whose TLS setting the inventory flips', () => {
  it.each([
    ['every member on http', [http(1), http(2), http(3)], 'http'],
    ['every member on https', [https(1), https(2), https(3)], 'https'],
    ['one member moved by hand', [https(1), http(2), http(3)], 'mixed'],
    ['no member listed', [], undefined],
  ] as const)('peer scheme: %s', (_, urls, scheme) => {
    expect(livePeerScheme(urls)).toBe(scheme);
  });

  const conv = [{ name: 'conv', tls: true }];
  const plain = [{ name: 'conv', tls: false }];
  it.each([
    ['plaintext etcd, inventory wants TLS', 'http', true, conv, /^etcd cluster dc1 runs without TLS \(http peer URLs\), but the inventory asks for TLS \(clusters\.conv\.tls: true\): converting a running plaintext cluster to TLS is not automated yet; nothing was changed$/],
    ['TLS etcd, inventory turns it off', 'https', false, plain, /^etcd cluster dc1 runs with TLS and authentication, but no cluster on it asks for TLS any more: hapg does not turn TLS off/],
    ['mixed schemes', 'mixed', true, conv, /^etcd cluster dc1 runs with both http and https peer URLs/],
  ] as const)('refuses: %s', (_, running, want, clusters, message) => {
    const refusal = etcdConversionRefusal('dc1', running, want, clusters);
    expect(refusal?.code).toBe('UNSAFE_OPERATION');
    expect(refusal?.message).toMatch(message);
  });

  it.each([
    ['plaintext etcd stays plaintext', 'http', false],
    ['TLS etcd stays TLS', 'https', true],
    ['a new etcd cluster (nothing runs)', undefined, true],
  ] as const)('lets through: %s', (_, running, want) => {
    expect(etcdConversionRefusal('dc1', running, want, conv)).toBeUndefined();
  });

  it('probes the REST API in plain HTTP only, and reads an answer as plaintext only when it is Patroni state', () => {
    const fact = restApiPlainFact(8008, '192.0.2.11');
    expect(fact.http).toEqual({ method: 'GET', address: '192.0.2.11', port: 8008, path: '/patroni', timeoutMs: 5000 });
    expect(fact.parse({ status: 200, body: '{"state": "running", "role": "primary"}', headers: {} } as never)).toBe(true);
    expect(fact.parse(undefined)).toBe(false);
    expect(fact.parse({ status: 400, body: 'Bad Request', headers: {} } as never)).toBe(false);
  });
});
