import { request, type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { HapgError } from '../errors.js';
import { describeConnectError, seconds } from './connect-error.js';
import type { HttpRequest, HttpResponse, HttpTls } from './types.js';

/** Opens a byte stream to address:port as seen from the remote host (an SSH direct-tcpip channel). */
export type OpenStream = (address: string, port: number) => Promise<Duplex>;

const DEFAULT_TIMEOUT_MS = 30_000;

/** What one connection remembers between requests: the scheme each service answered on, tokens by login key. */
export interface HttpMemory {
  plain: Map<string, boolean>;
  tokens: Map<string, string | undefined>;
}

export const newHttpMemory = (): HttpMemory => ({ plain: new Map(), tokens: new Map() });

/**
 * Sends a request as `req` describes it: over TLS when asked (falling back to the other
 * scheme when `schemeFallback` allows and the first attempt got no answer), with the token
 * of its login, logging in again once when the answer asks for it.
 */
export async function httpRequest(open: OpenStream, host: string, req: HttpRequest, memory: HttpMemory): Promise<HttpResponse> {
  const { login } = req;
  if (!login) return sendWithScheme(open, host, req, memory);
  const withToken = (token: string | undefined): HttpRequest => {
    const { login: _login, ...rest } = req;
    return token === undefined ? rest : { ...rest, headers: { ...rest.headers, [login.header]: token } };
  };
  const first = await sendWithScheme(open, host, withToken(memory.tokens.get(login.key)), memory);
  if (!login.rejected(first)) return first;
  const { login: _l, headers: _h, body: _b, basicAuth: _a, ...transport } = req;
  const token = await login.authenticate((path, body) => sendWithScheme(open, host, { ...transport, method: 'POST', path, body }, memory));
  memory.tokens.set(login.key, token);
  return sendWithScheme(open, host, withToken(token), memory);
}

async function sendWithScheme(open: OpenStream, host: string, req: HttpRequest, memory: HttpMemory): Promise<HttpResponse> {
  if (!req.schemeFallback || !req.tls) return httpOverStream(open, host, req);
  const key = `${req.address ?? '127.0.0.1'}:${req.port}`;
  const plainFirst = memory.plain.get(key) === true;
  const { tls, ...plain } = req;
  const attempts: HttpRequest[] = plainFirst ? [plain, req] : [req, plain];
  let firstError: unknown;
  for (const attempt of attempts) {
    try {
      const res = await httpOverStream(open, host, attempt);
      // A TLS server answers a plain request with a 400 that says so (etcd); that is no answer.
      if (!attempt.tls && res.status === 400 && /HTTP request to an HTTPS server/i.test(res.body)) throw new HapgError('HTTP_FAILED', `${host}: the service speaks TLS`);
      memory.plain.set(key, !attempt.tls);
      return res;
    } catch (err) {
      firstError ??= err;
    }
  }
  throw firstError;
}

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
    const socket = req.tls ? tlsSocket(stream, address, req.tls, (err) => reject(fail(tlsReason(err), err))) : stream;
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

/** A TLS client on the stream that verifies the server's chain to `tls.ca` and its name against `address`. */
function tlsSocket(stream: Duplex, address: string, tls: HttpTls, onError: (err: Error) => void): Duplex {
  const socket = tlsConnect({
    socket: stream,
    ca: tls.ca,
    host: address,
    ...(isIP(address) ? {} : { servername: address }),
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key.reveal() } : {}),
    rejectUnauthorized: true,
  });
  socket.once('error', onError);
  return socket;
}

function tlsReason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (/CERT|SELF_SIGNED|HOSTNAME|IP_ADDRESS|UNABLE_TO/.test(code) || /certificate/i.test(err.message)) return `TLS: the server's certificate does not verify (${err.message})`;
  // The tunnel dropped mid-handshake (an SSH connection cut, a host gone): said as what it is.
  if (code === 'ECONNRESET' || /socket disconnected before secure TLS connection/.test(err.message)) return 'connection closed during the TLS handshake';
  return `TLS: ${err.message}`;
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
