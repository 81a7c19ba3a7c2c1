import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import { httpOverStream, type OpenStream } from '../../src/ssh/http.js';

// Stands in for an SSH direct-tcpip channel: a plain TCP stream to 127.0.0.1.
const openLocal: OpenStream = (address, port) =>
  new Promise<Duplex>((resolve, reject) => {
    const socket = connect({ host: address, port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' }); // no length: Node sends chunked
        let i = 0;
        const tick = setInterval(() => {
          res.write(`part ${i}\n`);
          if (++i === 3) {
            clearInterval(tick);
            res.end();
          }
        }, 10);
        return;
      }
      if (req.url === '/slow') return setTimeout(() => res.end('late'), 2000);
      if (req.url === '/cut') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only a bit');
        return setTimeout(() => res.destroy(), 20);
      }
      const out = JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization ?? null, type: req.headers['content-type'] ?? null, body });
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out), 'x-multi': ['a', 'b'] });
      res.end(req.method === 'HEAD' ? undefined : out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('httpOverStream', () => {
  it('sends a GET and reads a Content-Length response', async () => {
    const res = await httpOverStream(openLocal, 'pg1', { method: 'GET', port, path: '/cluster' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-multi']).toBe('a, b');
    expect(JSON.parse(res.body)).toMatchObject({ method: 'GET', url: '/cluster', auth: null });
  });

  it('sends a body, headers and basic auth from a Secret', async () => {
    const res = await httpOverStream(openLocal, 'pg1', {
      method: 'POST',
      port,
      path: '/switchover',
      body: '{"leader":"pg1"}',
      headers: { 'content-type': 'application/json' },
      basicAuth: { user: 'patroni', password: new Secret('s3cr3t:pw') },
    });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toEqual({
      method: 'POST',
      url: '/switchover',
      auth: `Basic ${Buffer.from('patroni:s3cr3t:pw').toString('base64')}`,
      type: 'application/json',
      body: '{"leader":"pg1"}',
    });
  });

  it('reads a chunked response to the end', async () => {
    const res = await httpOverStream(openLocal, 'pg1', { method: 'GET', port, path: '/chunked' });
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body).toBe('part 0\npart 1\npart 2\n');
  });

  it('answers HEAD without a body', async () => {
    const res = await httpOverStream(openLocal, 'pg1', { method: 'HEAD', port, path: '/' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
  });

  it('names host, method, address, port and path when the port is closed', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const err = await httpOverStream(openLocal, 'pg1', { method: 'GET', port: closed, path: '/cluster' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HapgError);
    expect(err).toMatchObject({ code: 'HTTP_FAILED', host: 'pg1', message: `pg1: GET 127.0.0.1:${closed}/cluster: connection refused` });
  });

  it('maps an SSH channel refusal to plain words', async () => {
    const refuse: OpenStream = () => Promise.reject(Object.assign(new Error('(SSH) Channel open failure: Connection refused'), { reason: 2 }));
    await expect(httpOverStream(refuse, 'pg1', { method: 'GET', port: 8008, path: '/cluster' })).rejects.toThrow('pg1: GET 127.0.0.1:8008/cluster: connection refused');
  });

  it('times out', async () => {
    const started = Date.now();
    await expect(httpOverStream(openLocal, 'pg1', { method: 'GET', port, path: '/slow', timeoutMs: 200 })).rejects.toThrow(
      `pg1: GET 127.0.0.1:${port}/slow: timed out after 200ms`,
    );
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('reports a response cut short', async () => {
    await expect(httpOverStream(openLocal, 'pg1', { method: 'GET', port, path: '/cut' })).rejects.toMatchObject({ code: 'HTTP_FAILED' });
  });

  it('uses the given address', async () => {
    let seen = '';
    const spy: OpenStream = (address, p) => {
      seen = `${address}:${p}`;
      return openLocal('127.0.0.1', p);
    };
    await httpOverStream(spy, 'pg1', { method: 'GET', port, path: '/', address: '10.0.0.11' });
    expect(seen).toBe(`10.0.0.11:${port}`);
  });
});
