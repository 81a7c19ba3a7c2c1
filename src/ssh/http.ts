import { request, type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { HapgError } from '../errors.js';
import { describeConnectError, seconds } from './connect-error.js';
import type { HttpRequest, HttpResponse } from './types.js';

/** Opens a byte stream to address:port as seen from the remote host (an SSH direct-tcpip channel). */
export type OpenStream = (address: string, port: number) => Promise<Duplex>;

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Sends one HTTP/1.1 request over a stream the caller opens (through SSH in production), so
 * HTTP APIs on a host's loopback (Patroni, etcd) need no open port on the network. node:http
 * does the protocol: Content-Length, chunked bodies, `Connection: close`.
 */
export async function httpOverStream(open: OpenStream, host: string, req: HttpRequest): Promise<HttpResponse> {
  const address = req.address ?? '127.0.0.1';
  const label = `${req.method} ${address}:${req.port}${req.path}`;
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fail = (reason: string, cause?: unknown) => new HapgError('HTTP_FAILED', `${host}: ${label}: ${reason}`, { host, cause });

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail(`timed out after ${seconds(timeoutMs)}`)), timeoutMs);
  });
  let stream: Duplex | undefined;
  try {
    const opening = open(address, req.port).catch((err: unknown) => {
      throw fail(describeConnectError(err, { user: '', connectTimeoutMs: timeoutMs, authTried: [] }), err);
    });
    // A channel that opens after the timeout fired is closed right away.
    opening.then((s) => timer === undefined && s.destroy(), () => undefined);
    stream = await Promise.race([opening, timeout]);
    return await Promise.race([exchange(asSocket(stream), req, address, fail), timeout]);
  } finally {
    clearTimeout(timer);
    timer = undefined;
    stream?.destroy();
  }
}

function exchange(stream: Duplex, req: HttpRequest, address: string, fail: (reason: string, cause?: unknown) => HapgError): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const socket = req.tls
      ? // The TLS hop is the host talking to itself inside an authenticated SSH channel; the
        // certificate names the host, not 127.0.0.1, so it is not checked here.
        tlsConnect({ socket: stream, rejectUnauthorized: false, ...(isIP(address) ? {} : { servername: address }) })
      : stream;
    const headers: Record<string, string> = { ...req.headers };
    if (req.basicAuth) {
      headers.authorization = `Basic ${Buffer.from(`${req.basicAuth.user}:${req.basicAuth.password.reveal()}`).toString('base64')}`;
    }
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const outgoing = request(
      {
        method: req.method,
        host: address,
        port: req.port,
        path: req.path,
        headers,
        createConnection: () => socket as never,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => reject(fail(httpReason(err), err)));
        res.on('aborted', () => reject(fail('connection closed in the middle of the response')));
        res.on('end', () => {
          if (!res.complete) return reject(fail('connection closed in the middle of the response'));
          resolve({ status: res.statusCode ?? 0, headers: plainHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    outgoing.on('error', (err) => reject(fail(httpReason(err), err)));
    outgoing.end(req.body);
  });
}

function httpReason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ECONNRESET' || /socket hang up/i.test(err.message)) return 'connection closed before a complete response';
  if (code.startsWith('HPE_')) return `invalid HTTP response (${err.message})`;
  return err.message;
}

function plainHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  return { ...headers };
}

function noop<T>(this: T): T {
  return this;
}

/** node:http calls a few net.Socket methods that an SSH channel lacks. */
function asSocket(stream: Duplex): Duplex {
  const s = stream as Duplex & Record<string, unknown>;
  for (const name of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref']) {
    if (typeof s[name] !== 'function') s[name] = noop;
  }
  if (typeof s.destroySoon !== 'function') s.destroySoon = () => stream.destroy();
  return stream;
}
