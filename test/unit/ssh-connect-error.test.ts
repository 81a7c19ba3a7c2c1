import { describe, expect, it } from 'vitest';
import { describeConnectError, seconds } from '../../src/ssh/connect-error.js';

const ctx = { user: 'root', connectTimeoutMs: 5000, authTried: ['key /home/me/.ssh/id_ed25519', 'ssh-agent /run/agent.sock'] };

function sshError(message: string, props: Record<string, unknown>): Error {
  return Object.assign(new Error(message), props);
}

describe('describeConnectError', () => {
  it.each([
    ['ECONNREFUSED', sshError('connect ECONNREFUSED 10.0.0.12:22', { code: 'ECONNREFUSED', level: 'client-socket' }), 'connection refused'],
    ['ETIMEDOUT', sshError('connect ETIMEDOUT', { code: 'ETIMEDOUT', level: 'client-socket' }), 'connection timed out'],
    ['EHOSTUNREACH', sshError('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }), 'host unreachable (no route to host)'],
    ['ENETUNREACH', sshError('connect ENETUNREACH', { code: 'ENETUNREACH' }), 'network unreachable'],
    ['ENOTFOUND', sshError('getaddrinfo ENOTFOUND pg9', { code: 'ENOTFOUND', level: 'client-dns' }), 'cannot resolve the address'],
    ['ECONNRESET', sshError('read ECONNRESET', { code: 'ECONNRESET' }), 'connection reset by the server'],
    ['connect timeout', sshError('Timed out while waiting for handshake', { level: 'client-timeout' }), 'connection timed out after 5s'],
    [
      'auth failure',
      sshError('All configured authentication methods failed', { level: 'client-authentication' }),
      'authentication failed for user root (tried key /home/me/.ssh/id_ed25519, ssh-agent /run/agent.sock)',
    ],
    ['not SSH', sshError('Bad identification start', { level: 'protocol' }), 'not an SSH server (Bad identification start)'],
    ['no common algorithm', sshError('Handshake failed: no matching host key format', { level: 'handshake' }), 'SSH handshake failed: Handshake failed: no matching host key format'],
    ['forward refused', sshError('(SSH) Channel open failure: Connection refused', { reason: 2 }), 'connection refused'],
    ['forward no route', sshError('(SSH) Channel open failure: No route to host', { reason: 2 }), 'host unreachable (no route to host)'],
    ['forward prohibited', sshError('(SSH) Channel open failure: open failed', { reason: 1 }), 'administratively prohibited (AllowTcpForwarding?)'],
    ['forward timed out', sshError('(SSH) Channel open failure: Connection timed out', { reason: 2 }), 'connection timed out'],
    ['connection lost', sshError('No response from server', {}), 'connection closed by the server'],
    ['anything else', new Error('something odd'), 'something odd'],
    ['not an Error', 'plain string', 'plain string'],
  ])('%s', (_name, err, expected) => {
    expect(describeConnectError(err, ctx)).toBe(expected);
  });

  it('tells a silent server from an unreachable one', () => {
    const timeout = sshError('Timed out while waiting for handshake', { level: 'client-timeout' });
    expect(describeConnectError(timeout, { ...ctx, tcpConnected: true })).toBe('connected, but no SSH handshake within 5s');
  });

  it('omits the tried list when nothing was tried', () => {
    expect(describeConnectError(sshError('x', { level: 'client-authentication' }), { ...ctx, authTried: [] })).toBe('authentication failed for user root');
  });
});

describe('seconds', () => {
  it.each([
    [250, '250ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [30_000, '30s'],
  ])('%i ms reads %s', (ms, text) => {
    expect(seconds(ms)).toBe(text);
  });
});
